//! What every command input accepts and every payload answers: the command
//! options, input refusals, and a use case's [`AppError`] as a `userError` or a
//! top-level error — converted here, once, for every mutation.

use super::ids::{Kind, parse_input, parse_uuid};
use super::scalars::UserError;
use super::{app_error, denied};
use async_graphql::{ID, InputObject, Result};
use careledger_app::{Access, AppError, CommandContext};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What every command input accepts.
#[derive(InputObject, Default, Clone)]
pub struct CommandOptions {
    /// A UUIDv7 minted by the client when it first tries this command. Retrying with
    /// the same key returns the original answer and writes nothing.
    pub idempotency_key: Option<String>,
    /// The record's version as the caller last saw it: the command is refused with
    /// `STALE_VERSION` if it has changed since.
    pub expected_version: Option<u64>,
    /// When it happened in care (may be earlier than now, never later; never before
    /// 2000-01-01T00:00:00Z, nor before the recipient's birth year).
    pub occurred_at: Option<DateTime<Utc>>,
}

pub fn user_error(field: Option<&str>, code: &str, message: impl Into<String>) -> UserError {
    UserError {
        field: field.map(str::to_string),
        message: message.into(),
        code: code.to_string(),
    }
}

/// A refusal before the command ran: bad input. Nothing was written.
pub struct Invalid(pub UserError);

pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> Invalid {
    Invalid(user_error(Some(field), code, message))
}

pub fn command_context(access: &Access, o: &CommandOptions) -> Result<CommandContext, Invalid> {
    let idempotency_key = match &o.idempotency_key {
        None => None,
        Some(k) => {
            let u = Uuid::try_parse(k.trim()).map_err(|_| {
                invalid(
                    "idempotencyKey",
                    "INVALID_IDEMPOTENCY_KEY",
                    "an idempotency key is a UUIDv7, e.g. 0192f0c4-7c5e-7a31-9f4e-1c2d3e4f5a6b",
                )
            })?;
            if u.get_version_num() != 7 {
                return Err(invalid(
                    "idempotencyKey",
                    "INVALID_IDEMPOTENCY_KEY",
                    "an idempotency key must be a UUID of version 7 (time-ordered), minted when the command is first tried",
                ));
            }
            Some(u)
        }
    };
    Ok(CommandContext {
        actor: access.actor.clone(),
        idempotency_key,
        expected_version: o.expected_version,
        occurred_at: o.occurred_at,
        correlation_id: Uuid::now_v7(),
    })
}

/// The id of something a command creates: given, or else the idempotency key, or else new.
pub fn new_id(
    given: Option<&ID>,
    ctx: &CommandContext,
    kind: Option<Kind>,
    field: &str,
) -> Result<Uuid, Invalid> {
    match given {
        Some(id) => match kind {
            Some(k) => parse_input(id, k),
            None => parse_uuid(id, field),
        }
        .map_err(|m| invalid(field, "INVALID_ID", m)),
        None => Ok(ctx.idempotency_key.unwrap_or_else(Uuid::now_v7)),
    }
}

/// A use case's failure in a mutation: refusals and conflicts become
/// `userErrors` (nothing was written; the caller can act on them), the rest a
/// top-level error with `extensions.code`.
pub fn refusal(e: AppError) -> Result<UserError> {
    match e {
        AppError::Rejected {
            field,
            code,
            message,
        }
        | AppError::Conflict {
            field,
            code,
            message,
        } => Ok(user_error(field, code, message)),
        AppError::Forbidden(d) => Err(denied(d)),
        other => Err(app_error(other)),
    }
}
