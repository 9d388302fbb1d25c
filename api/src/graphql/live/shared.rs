//! The shared path of live updates: a subscription whose document is one
//! `referralUpdated` or `worklistChanged` field selecting plain fields of the
//! update (aliases allowed) is answered without the GraphQL executor. Each change
//! is rendered once per shape (the field, its response key and the selection) and
//! the rendering is kept with the change ([`Change::rendered`]), so the hundred
//! subscribers of a site asking the same thing share one rendering; the WebSocket
//! edge ([`crate::http::ws`]) frames it for each of them.
//!
//! [`recognise`] admits only documents whose execution it can mirror exactly —
//! one operation, no fragments, no directives, no nested selections, arguments of
//! the field's own names and types given as literals or declared variables of the
//! same type, every declared variable used and without a default, no response key
//! twice — and whose arguments resolve; anything else returns `None` and goes to
//! the executor unchanged, which also gives every refusal (a bad site id, a
//! missing argument, `FORBIDDEN`) its usual answer. The JSON is the executor's:
//! the same values ([`ReferralUpdate`]'s and [`WorklistChange`]'s own fields),
//! serialised by async-graphql's own `Response`; a test compares them byte for
//! byte.

use super::{ReferralUpdate, WorklistChange, referral_topic, site};
use crate::graphql::support::app_error;
use crate::graphql::support::scalars::Position;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, VariableDefinition,
};
use async_graphql::{ID, Name, PathSegment, Pos, Response, ScalarType, Value, Variables};
use careledger_app::AppError;
use careledger_domain::store::Position as LogPosition;
use careledger_projections::changes::{Change, Topic};
use std::collections::HashSet;
use std::sync::Arc;

/// Which field a subscription follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    ReferralUpdated,
    WorklistChanged,
}

/// One argument of a root field: its name, its type's name, whether required.
struct Param {
    name: &'static str,
    ty: &'static str,
    required: bool,
}

impl Root {
    fn of(name: &str) -> Option<Self> {
        match name {
            "referralUpdated" => Some(Self::ReferralUpdated),
            "worklistChanged" => Some(Self::WorklistChanged),
            _ => None,
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::ReferralUpdated => ReferralUpdate::FIELDS,
            Self::WorklistChanged => WorklistChange::FIELDS,
        }
    }

    /// The field's arguments, as the schema declares them.
    fn params(self) -> &'static [Param] {
        const AFTER: Param = Param {
            name: "after",
            ty: "Position",
            required: false,
        };
        match self {
            Self::ReferralUpdated => &[
                Param {
                    name: "site",
                    ty: "String",
                    required: false,
                },
                Param {
                    name: "organisation",
                    ty: "ID",
                    required: false,
                },
                AFTER,
            ],
            Self::WorklistChanged => &[
                Param {
                    name: "site",
                    ty: "String",
                    required: true,
                },
                AFTER,
            ],
        }
    }
}

/// What a recognised subscription asks for: its shape, and what to follow.
pub struct Shared {
    pub shape: Arc<Shape>,
    pub topic: Topic,
    pub after: Option<LogPosition>,
}

/// The shape of a recognised subscription's answers.
#[derive(Debug)]
pub struct Shape {
    /// Names the shape: equal keys render equally.
    key: Arc<str>,
    root: Root,
    response_key: Name,
    /// The selection, in order: response key and field name.
    selection: Vec<(Name, &'static str)>,
    /// The field's place in the document (an error's `locations`).
    pos: Pos,
}

/// The subscription `doc` (with `operation_name` and `variables`) asks for, if
/// the shared path can answer it exactly as the executor would (see the module).
pub fn recognise(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Option<Shared> {
    if !doc.fragments.is_empty() {
        return None;
    }
    let mut ops = doc.operations.iter();
    let (name, op) = ops.next()?;
    if ops.next().is_some() || operation_name.is_some_and(|n| name.map(|m| m.as_str()) != Some(n)) {
        return None;
    }
    let op = &op.node;
    if op.ty != OperationType::Subscription || !op.directives.is_empty() {
        return None;
    }
    let [item] = op.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &item.node else {
        return None;
    };
    let field_pos = field.pos;
    let field = &field.node;
    let root = Root::of(field.name.node.as_str())?;
    if !field.directives.is_empty() {
        return None;
    }
    let response_key = field.response_key().node.clone();

    // The selection: plain fields of the update, each response key once.
    let mut selection = Vec::new();
    let mut keys = HashSet::new();
    for item in &field.selection_set.node.items {
        let Selection::Field(f) = &item.node else {
            return None;
        };
        let f = &f.node;
        let known = root.fields().iter().find(|n| **n == f.name.node.as_str())?;
        if !f.arguments.is_empty()
            || !f.directives.is_empty()
            || !f.selection_set.node.items.is_empty()
            || !keys.insert(f.response_key().node.clone())
        {
            return None;
        }
        selection.push((f.response_key().node.clone(), *known));
    }
    if selection.is_empty() {
        return None;
    }

    // The arguments, each known, once, of its type; the variables, each used.
    let definitions: Vec<&VariableDefinition> =
        op.variable_definitions.iter().map(|d| &d.node).collect();
    let mut used = HashSet::new();
    let mut args: Vec<(&'static str, Value)> = Vec::new();
    for (name, value) in &field.arguments {
        let param = root
            .params()
            .iter()
            .find(|p| p.name == name.node.as_str())?;
        if args.iter().any(|(n, _)| *n == param.name) {
            return None;
        }
        // A variable is looked up as given; a literal holding one (a list or an
        // object) resolves to a value no parameter here accepts, below.
        let mut vars = Vec::new();
        let v = value
            .node
            .clone()
            .into_const_with(|var| {
                let v = variables.get(&var).cloned().unwrap_or(Value::Null);
                vars.push((var, v.clone()));
                Ok::<_, ()>(v)
            })
            .ok()?;
        for (var, given) in vars {
            let d = definitions.iter().find(|d| d.name.node == var)?;
            let ty = &d.var_type.node;
            let BaseType::Named(ty_name) = &ty.base else {
                return None;
            };
            if ty_name.as_str() != param.ty
                || (param.required && ty.nullable)
                || (!ty.nullable && given == Value::Null)
                || d.default_value.is_some()
                || !d.directives.is_empty()
            {
                return None;
            }
            used.insert(var);
        }
        args.push((param.name, v));
    }
    let declared: HashSet<&Name> = definitions.iter().map(|d| &d.name.node).collect();
    if declared.len() != definitions.len() || declared.len() != used.len() {
        return None;
    }
    if root
        .params()
        .iter()
        .any(|p| p.required && !args.iter().any(|(n, v)| *n == p.name && *v != Value::Null))
    {
        return None;
    }
    let arg = |name: &str| {
        args.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .filter(|v| **v != Value::Null)
    };
    let string = |name: &str| match arg(name) {
        None => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    };
    let after = match arg("after") {
        None => None,
        Some(v) => Some(LogPosition::new(Position::parse(v.clone()).ok()?.0)),
    };
    let topic = match root {
        Root::ReferralUpdated => {
            referral_topic(string("site")?, string("organisation")?.map(ID)).ok()?
        }
        Root::WorklistChanged => Topic::Site(site(&string("site")??).ok()?),
    };

    let mut key = format!("{root:?}|{response_key}|");
    for (k, f) in &selection {
        key.push_str(k);
        key.push(':');
        key.push_str(f);
        key.push(',');
    }
    Some(Shared {
        shape: Arc::new(Shape {
            key: key.into(),
            root,
            response_key,
            selection,
            pos: field_pos,
        }),
        topic,
        after,
    })
}

/// [`recognise`] for a request (parsed here if it was not).
pub fn recognise_request(r: &mut async_graphql::Request) -> Option<Shared> {
    let variables = std::mem::take(&mut r.variables);
    let name = r.operation_name.take();
    let plan = r
        .parsed_query()
        .ok()
        .and_then(|doc| recognise(doc, name.as_deref(), &variables));
    r.variables = variables;
    r.operation_name = name;
    plan
}

impl Shape {
    /// The `payload` of the `next` message for change `c` (rendered once per
    /// shape and change), or `None` when the field skips the change (a
    /// `referralUpdated` of a change that concerns no referral).
    pub fn payload(&self, c: &Change) -> Option<Arc<str>> {
        if self.root == Root::ReferralUpdated && c.referral.is_none() {
            return None;
        }
        Some(c.rendered.get_or_render(&self.key, || self.render(c)))
    }

    fn render(&self, c: &Change) -> String {
        let (r, w) = match self.root {
            Root::ReferralUpdated => (ReferralUpdate::of(c), None),
            Root::WorklistChanged => (None, Some(WorklistChange::of(c))),
        };
        let value = |name: &str| match (&r, &w) {
            (Some(r), _) => r.field(name),
            (_, Some(w)) => w.field(name),
            _ => None,
        };
        let mut update = IndexMap::with_capacity(self.selection.len());
        for (k, name) in &self.selection {
            update.insert(k.clone(), value(name).unwrap_or(Value::Null));
        }
        let mut data = IndexMap::with_capacity(1);
        data.insert(self.response_key.clone(), Value::Object(update));
        serde_json::to_string(&Response::new(Value::Object(data)))
            .unwrap_or_else(|_| String::from("{\"data\":null}"))
    }

    /// The `payload` of the `next` message the executor sends when following
    /// fails (the log cannot be read); the subscription completes after it.
    pub fn error_payload(&self, e: AppError) -> String {
        let mut err = app_error(e).into_server_error(self.pos);
        err.path = vec![PathSegment::Field(self.response_key.to_string())];
        serde_json::to_string(&Response::from_errors(vec![err]))
            .unwrap_or_else(|_| String::from("{\"data\":null}"))
    }
}

#[cfg(test)]
mod tests;
