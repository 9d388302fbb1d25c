//! Notifications to other systems (issue 17): webhook subscriptions shaped like
//! the FHIR R4 Subscription backport's `rest-hook` channel with `id-only`
//! payloads, on one topic — the changes of referrals' `Task`s — filtered by the
//! referral's owner organisation, the requester's site and the status it moved to.
//!
//! * [`manage`] — the administrators' use cases: create, delete, list. A
//!   subscription is event-sourced (stream `webhook-<uuid>`); its secret is
//!   sealed in the key vault under a key of its own, destroyed on deletion.
//! * [`outbox`] — the delivery policy. The log *is* the outbox: each subscription
//!   keeps a checkpoint (the last log position it delivered, and how many
//!   notifications it sent) in the snapshot store, beside the projection's; its
//!   worker reads committed events after it (so nothing is sent before it is
//!   durable), delivers each matching change as its own notification, in log
//!   order, retrying the same one with capped exponential backoff until the
//!   receiver takes it, and only then moves the checkpoint. A restart resumes
//!   from the checkpoint: a change is delivered at least once, and a repeat
//!   carries the same idempotency id.
//! * [`notification`] — what one delivery is: the FHIR `Bundle` (type
//!   `history`), its HMAC-SHA256 signature and its headers.
//! * [`port`] — the [`port::WebhookSender`] port: the HTTP client is an adapter
//!   the edge chooses (`api`), never this layer.
//! * [`stats`] — what the metrics edge reads: deliveries, failures, lag.

pub mod manage;
pub mod notification;
pub mod outbox;
pub mod port;
pub mod stats;

#[cfg(test)]
mod tests;
