//! The socket's subscriptions on the shared path
//! ([`crate::graphql::live::shared`]): each follows its topic itself and sends
//! the change's shared rendering, framed as the executor frames it —
//! `{"type":"next","id":…,"payload":…}`, and `{"type":"complete","id":…}` when
//! it ends (the client completed it, or following failed after its error).

use crate::graphql::live::shared::Shape;
use async_graphql::futures_util::stream::{self, BoxStream, StreamExt};
use careledger_app::live::Follower;
use std::sync::Arc;
use std::task::{Context, Poll};

/// One subscription's next payload, or the error that ends it.
type Item = Result<Arc<str>, String>;

struct Op {
    id: String,
    /// `{"type":"next","id":<id>,"payload":`
    prefix: String,
    updates: BoxStream<'static, Item>,
}

/// What one poll of the shared subscriptions gives.
pub(super) enum Out {
    /// A message to write.
    Text(String),
    /// Subscription `id` ended: its `complete` message.
    Completed(String, String),
}

/// The socket's shared-path subscriptions.
#[derive(Default)]
pub(super) struct SharedOps {
    ops: Vec<Op>,
    /// Where the next poll starts (each gets its turn first).
    turn: usize,
}

/// `{"type":"complete","id":<id>}`, as the executor writes it.
pub(super) fn complete(id: &str) -> String {
    format!("{{\"type\":\"complete\",\"id\":{}}}", json_string(id))
}

/// `s` as a JSON string, escaped as serde writes it.
fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

impl SharedOps {
    /// Starts subscription `id`: `follower`'s changes in `shape`.
    pub(super) fn start(&mut self, id: String, shape: Arc<Shape>, follower: Follower) {
        let updates = stream::unfold(Some((follower, shape)), |state| async move {
            let (mut follower, shape) = state?;
            loop {
                match follower.next().await {
                    Ok(c) => {
                        if let Some(p) = shape.payload(&c) {
                            return Some((Ok(p), Some((follower, shape))));
                        }
                    }
                    Err(e) => return Some((Err(shape.error_payload(e)), None)),
                }
            }
        })
        .boxed();
        let mut prefix = String::from("{\"type\":\"next\",\"id\":");
        prefix.push_str(&json_string(&id));
        prefix.push_str(",\"payload\":");
        self.ops.push(Op {
            id,
            prefix,
            updates,
        });
    }

    /// Stops subscription `id`; whether it ran here.
    pub(super) fn stop(&mut self, id: &str) -> bool {
        let before = self.ops.len();
        self.ops.retain(|o| o.id != id);
        self.ops.len() < before
    }

    /// The next message of any subscription; pending while there is none (also
    /// when none runs).
    pub(super) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Out> {
        let n = self.ops.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            let op = &mut self.ops[i];
            match op.updates.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => {
                    self.turn = i + 1;
                    let payload: &str = match &item {
                        Ok(p) => p,
                        Err(e) => e,
                    };
                    let mut text = String::with_capacity(op.prefix.len() + payload.len() + 1);
                    text.push_str(&op.prefix);
                    text.push_str(payload);
                    text.push('}');
                    return Poll::Ready(Out::Text(text));
                }
                Poll::Ready(None) => {
                    let op = self.ops.remove(i);
                    let text = complete(&op.id);
                    return Poll::Ready(Out::Completed(op.id, text));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }
}
