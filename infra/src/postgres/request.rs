//! What an append carries from the caller's task to the writer task: the stream,
//! the expected version, the events encoded on the caller's task, and where to answer.

use crate::group_commit::Queued;
use careledger_domain::store::{Appended, ExpectedVersion, StoreError, StreamName};
use tokio::sync::oneshot;
use uuid::Uuid;

impl Queued for AppendRequest {
    fn events(&self) -> usize {
        self.events.len()
    }
    fn refuse(self, e: StoreError) {
        let _ = self.reply.send(Err(e));
    }
}

pub(super) struct AppendRequest {
    pub(super) stream: StreamName,
    pub(super) expected: ExpectedVersion,
    pub(super) events: Vec<EncodedNew>,
    pub(super) reply: oneshot::Sender<Result<Appended, StoreError>>,
}

pub(super) struct EncodedNew {
    pub(super) id: Uuid,
    pub(super) event_type: &'static str,
    pub(super) schema_version: i32,
    pub(super) payload: Vec<u8>,
    pub(super) occurred_at: i64,
    pub(super) actor_subject: String,
    pub(super) actor_role: &'static str,
    pub(super) site: Option<String>,
    pub(super) correlation_id: Uuid,
    pub(super) causation_id: Option<Uuid>,
}
