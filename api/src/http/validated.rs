//! Documents that passed validation, so that the next request with the same
//! document validates only what depends on its variables.
//!
//! async-graphql validates every request against every rule of the spec
//! (`ValidationMode::Strict`): a walk of the document per rule, each looking types
//! up by name. It was a fifth of the server's time per `needCase` lookup, more
//! than the lookup itself, and all of it gives the same answer for the same
//! document — except one rule: arguments of the correct type, which also checks
//! the *values* of the variables an argument uses. So, per query text and
//! operation name (a document without fragments and directives):
//!
//! * until a request with it has been answered without any error, it runs on the
//!   strict schema, and the arguments that use variables are noted with their
//!   input types ([`Checks`]);
//! * after that, a request's variables are checked against those types here —
//!   the same test as async-graphql's rule, [`valid_input`] — and if they pass,
//!   the request runs on the schema in `Fast` mode, which still computes and
//!   limits complexity and depth (which depend on variables) and still refuses
//!   fragment cycles; if they do not, it runs on the strict schema, which answers
//!   exactly as before.
//!
//! Bounded like the document cache: [`MAX_DOCUMENTS`] entries, then nothing new
//! is kept.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{SchemaEnv, Value as ConstValue, Variables};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// How many documents are remembered.
pub const MAX_DOCUMENTS: usize = 512;

/// What is left to check of a document that was valid once: each argument
/// that uses a variable, as written, with its input type.
#[derive(Default)]
pub struct Checks {
    args: Vec<(String, Argument)>,
}

/// An argument as written, given a request's variables: its value, or `None`
/// when a variable it uses was not given. (async-graphql does not export the
/// type of a value with variables, so the argument is kept in a closure.)
type Argument = Box<dyn Fn(&Variables) -> Option<ConstValue> + Send + Sync>;

/// One query text's entries: its operation name (if any) and its checks.
type ByOperation = Vec<(Option<String>, Arc<Checks>)>;

pub struct ValidatedDocuments {
    env: SchemaEnv,
    /// By query text, then by operation name.
    map: RwLock<HashMap<String, ByOperation>>,
}

impl ValidatedDocuments {
    pub fn new(env: SchemaEnv) -> Self {
        Self {
            env,
            map: Default::default(),
        }
    }

    /// Whether `query` (as `operation`) was valid before and `variables` pass the
    /// variable-dependent rule: then the request may skip the other rules.
    pub fn may_skip(&self, query: &str, operation: Option<&str>, variables: &Variables) -> bool {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let Some(checks) = map
            .get(query)
            .and_then(|ops| ops.iter().find(|(op, _)| op.as_deref() == operation))
            .map(|(_, c)| c)
        else {
            return false;
        };
        checks
            .args
            .iter()
            .all(|(ty, argument)| match argument(variables) {
                Some(v) => valid_input(&self.env.registry, ty, &v),
                // A variable that was not given is not checked by the rule either
                // (execution reports it).
                None => true,
            })
    }

    /// The checks `doc` would need, if it can be remembered at all.
    pub fn checks_for(&self, doc: &ExecutableDocument, operation: Option<&str>) -> Option<Checks> {
        if !doc.fragments.is_empty() {
            return None;
        }
        let op = match (&doc.operations, operation) {
            (DocumentOperations::Single(op), _) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
            (DocumentOperations::Multiple(_), None) => return None,
        };
        checks_of(&self.env.registry, &op.node)
    }

    /// Remembers that `query` (as `operation`) was answered without error.
    pub fn remember(&self, query: &str, operation: Option<&str>, checks: Checks) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let entries: usize = map.values().map(Vec::len).sum();
        if entries >= MAX_DOCUMENTS {
            return;
        }
        let ops = map.entry(query.to_string()).or_default();
        if !ops.iter().any(|(op, _)| op.as_deref() == operation) {
            ops.push((operation.map(str::to_string), Arc::new(checks)));
        }
    }
}

fn checks_of(registry: &Registry, op: &OperationDefinition) -> Option<Checks> {
    if !op.directives.is_empty() {
        return None;
    }
    let root = match op.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => None,
    }?;
    let mut checks = Checks::default();
    collect(
        registry,
        registry.types.get(root)?,
        &op.selection_set.node,
        &mut checks,
    )?;
    Some(checks)
}

/// Notes the arguments using variables under `set` (of type `parent`); `None`
/// for anything this does not follow (fragment spreads, directives, unknown
/// fields), so that such a document always runs on the strict schema.
fn collect(
    registry: &Registry,
    parent: &MetaType,
    set: &SelectionSet,
    checks: &mut Checks,
) -> Option<()> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                if !field.directives.is_empty() {
                    return None;
                }
                if field.name.node == "__typename" {
                    continue;
                }
                let meta = parent.field_by_name(&field.name.node)?;
                for (name, value) in &field.arguments {
                    let uses_variables = value
                        .node
                        .clone()
                        .into_const_with(|_| Err::<ConstValue, ()>(()))
                        .is_err();
                    if !uses_variables {
                        continue;
                    }
                    let arg = meta.args.get(name.node.as_str())?;
                    let written = value.node.clone();
                    checks.args.push((
                        arg.ty.clone(),
                        Box::new(move |variables: &Variables| {
                            written
                                .clone()
                                .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
                                .ok()
                        }),
                    ));
                }
                if !field.selection_set.node.items.is_empty() {
                    let ty = registry.concrete_type_by_name(&meta.ty)?;
                    collect(registry, ty, &field.selection_set.node, checks)?;
                }
            }
            Selection::InlineFragment(fragment) => {
                let fragment = &fragment.node;
                if !fragment.directives.is_empty() {
                    return None;
                }
                let ty = match &fragment.type_condition {
                    Some(c) => registry.types.get(c.node.on.node.as_str())?,
                    None => parent,
                };
                collect(registry, ty, &fragment.selection_set.node, checks)?;
            }
            Selection::FragmentSpread(_) => return None,
        }
    }
    Some(())
}

/// Whether `value` is a valid input of type `type_name`: async-graphql's own
/// test (`validation::utils::is_valid_input_value`, which it does not export),
/// answering only yes or no — a no sends the request to the strict schema,
/// which says why.
pub fn valid_input(registry: &Registry, type_name: &str, value: &ConstValue) -> bool {
    match MetaTypeName::create(type_name) {
        MetaTypeName::NonNull(inner) => match value {
            ConstValue::Null => false,
            _ => valid_input(registry, inner, value),
        },
        MetaTypeName::List(inner) => match value {
            ConstValue::List(items) => items.iter().all(|v| valid_input(registry, inner, v)),
            ConstValue::Null => true,
            _ => valid_input(registry, inner, value),
        },
        MetaTypeName::Named(name) => {
            if let ConstValue::Null = value {
                return true;
            }
            match registry.types.get(name) {
                // async-graphql panics here; the strict schema will say so.
                None => false,
                Some(MetaType::Scalar {
                    is_valid: Some(f), ..
                }) => f(value),
                Some(MetaType::Scalar { is_valid: None, .. }) => true,
                Some(MetaType::Enum { enum_values, .. }) => match value {
                    ConstValue::Enum(n) => enum_values.contains_key(n.as_str()),
                    ConstValue::String(n) => enum_values.contains_key(n.as_str()),
                    _ => false,
                },
                Some(MetaType::InputObject {
                    input_fields,
                    oneof,
                    ..
                }) => match value {
                    ConstValue::Object(values) => {
                        if *oneof
                            && (values.len() != 1
                                || matches!(values.values().next(), Some(ConstValue::Null)))
                        {
                            return false;
                        }
                        let mut names: HashSet<&str> = values.keys().map(|k| k.as_str()).collect();
                        for field in input_fields.values() {
                            names.remove(field.name.as_str());
                            match values.get(field.name.as_str()) {
                                Some(v) => {
                                    if !valid_input(registry, &field.ty, v) {
                                        return false;
                                    }
                                }
                                None => {
                                    if MetaTypeName::create(&field.ty).is_non_null()
                                        && field.default_value.is_none()
                                    {
                                        return false;
                                    }
                                }
                            }
                        }
                        names.is_empty()
                    }
                    _ => true,
                },
                Some(_) => true,
            }
        }
    }
}

#[cfg(test)]
mod tests;
