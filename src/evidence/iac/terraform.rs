//! Terraform plans, as `terraform show -json PLAN` prints them: the `aws_kms_key`,
//! `aws_kms_key_policy` and `aws_kms_replica_key` changes, each policy before and after.
//! Plans carry no useful lines: resources are located by their address. Also the IAM
//! principals a plan deletes or replaces (`aws_iam_role`, `aws_iam_user`, Identity Center
//! permission sets and their account assignments), for "before you delete".

use super::Settings;
use crate::diagnosis::model::PolicyDecl;
use crate::diagnosis::model::ResourceType;
use crate::diagnosis::model::{
    DeclaredKey, DeclaredPolicy, IamPrincipalKind, InputError, Location, Removal, Removed,
    RemovedPrincipal,
};
use serde_json::Value;

const TYPES: [ResourceType; 3] = [
    ResourceType::TfKmsKey,
    ResourceType::TfKmsKeyPolicy,
    ResourceType::TfKmsReplicaKey,
];

/// A plan's text as the few parts kms-doctor reads: its version, whether it has planned
/// values, the changes of the resource types it knows (whole), and the permission sets of the
/// prior state. The rest — most of a large plan — is skipped as it is read, never held: a 60 MB
/// plan parsed whole is a tree of several hundred megabytes. `None`: not JSON.
pub fn parse_plan(text: &str) -> Option<Value> {
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    struct RawPlan<'a> {
        format_version: Option<Value>,
        #[serde(borrow)]
        planned_values: Option<&'a RawValue>,
        #[serde(borrow)]
        resource_changes: Option<Vec<&'a RawValue>>,
        #[serde(borrow)]
        prior_state: Option<PriorState<'a>>,
    }
    #[derive(Deserialize)]
    struct PriorState<'a> {
        #[serde(borrow)]
        values: Option<Values<'a>>,
    }
    #[derive(Deserialize)]
    struct Values<'a> {
        #[serde(borrow)]
        root_module: Option<Module<'a>>,
    }
    #[derive(Deserialize)]
    struct Module<'a> {
        #[serde(borrow, default)]
        resources: Vec<&'a RawValue>,
        #[serde(borrow, default)]
        child_modules: Vec<Module<'a>>,
    }
    /// A resource's type, read without the rest of it.
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
    }
    let kind_of = |raw: &RawValue| {
        serde_json::from_str::<Head>(raw.get())
            .ok()
            .and_then(|h| h.kind)
            .map(Cow::into_owned)
    };
    let plan: RawPlan = serde_json::from_str(text).ok()?;
    let mut out = serde_json::Map::new();
    if let Some(v) = plan.format_version {
        out.insert("format_version".into(), v);
    }
    if plan.planned_values.is_some() {
        out.insert("planned_values".into(), Value::Object(Default::default()));
    }
    if let Some(changes) = plan.resource_changes {
        let known: Vec<Value> = changes
            .into_iter()
            .filter(|raw| kind_of(raw).is_some_and(|k| ResourceType::parse(&k).is_some()))
            .filter_map(|raw| serde_json::from_str(raw.get()).ok())
            .collect();
        out.insert("resource_changes".into(), Value::Array(known));
    }
    // The prior state's permission sets, from every module (a bounded number of them).
    let mut sets = Vec::new();
    let mut modules: Vec<Module> = plan
        .prior_state
        .and_then(|p| p.values)
        .and_then(|v| v.root_module)
        .into_iter()
        .collect();
    let mut seen = 0;
    while let Some(m) = modules.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        sets.extend(
            m.resources
                .iter()
                .filter(|raw| kind_of(raw).as_deref() == Some("aws_ssoadmin_permission_set"))
                .filter_map(|raw| serde_json::from_str::<Value>(raw.get()).ok()),
        );
        modules.extend(m.child_modules);
    }
    if !sets.is_empty() {
        out.insert(
            "prior_state".into(),
            serde_json::json!({"values": {"root_module": {"resources": sets}}}),
        );
    }
    Some(Value::Object(out))
}

/// Whether a JSON document looks like a plan.
pub fn is_plan(v: &Value) -> bool {
    v.get("format_version").is_some()
        && (v.get("resource_changes").is_some() || v.get("planned_values").is_some())
}

/// The line and column of the first occurrence of `needle` in `text`.
fn find(text: &str, needle: &str) -> Location {
    let mut at = Locator::new(text);
    at.find(needle)
}

/// Where the resources of `resource_changes` are, found in one pass over the plan's text: each
/// search goes on from the last one found (the changes are written in their order), counting
/// lines on the way, so that locating n resources reads the text once, not n times.
struct Locator<'t> {
    text: &'t str,
    /// Where the last search ended, its line (1-based), and the characters before it on that
    /// line (a plan is often one line of many megabytes: counted as the search goes, too).
    at: usize,
    line: usize,
    column: usize,
    /// Searches from the start left: each reads the text again, so a plan written out of order
    /// gets a few, then its resources are located at the file.
    rereads: usize,
}

/// Searches from the start a locator makes at most.
const MAX_REREADS: usize = 16;

impl<'t> Locator<'t> {
    fn new(text: &'t str) -> Self {
        Locator {
            text,
            at: 0,
            line: 1,
            column: 0,
            rereads: MAX_REREADS,
        }
    }

    /// From the `resource_changes` key on, where the changes are written.
    fn at_changes(text: &'t str) -> Self {
        let mut locator = Locator::new(text);
        if let Some(i) = memchr::memmem::find(text.as_bytes(), b"\"resource_changes\"") {
            locator.advance(i);
        }
        locator
    }

    fn advance(&mut self, to: usize) {
        let passed = &self.text[self.at..to];
        match memchr::memrchr(b'\n', passed.as_bytes()) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', passed.as_bytes()).count();
                self.column = passed[last + 1..].chars().count();
            }
            None => self.column += passed.chars().count(),
        }
        self.at = to;
    }

    /// The next occurrence of `needle` from where the last search ended; else the first one
    /// anywhere (a plan written in another order), from the start.
    fn find(&mut self, needle: &str) -> Location {
        let next = memchr::memmem::find(&self.text.as_bytes()[self.at..], needle.as_bytes());
        match next {
            Some(i) => {
                self.advance(self.at + i);
                Location::at(self.line, self.column + 1)
            }
            None if self.at > 0 && self.rereads > 0 => {
                let mut again = Locator::new(self.text);
                again.rereads = self.rereads - 1;
                self.rereads -= 1;
                let found = again.find(needle);
                if found != Location::default() {
                    *self = again;
                }
                found
            }
            None => Location::default(),
        }
    }
}

/// What a plan's `change.actions` does to a resource that exists: `None` when it stays.
fn removal(change: &Value) -> Option<Removal> {
    let actions: Vec<&str> = change
        .get("actions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match actions.as_slice() {
        ["delete"] => Some(Removal::Deleted),
        ["delete", "create"] | ["create", "delete"] => Some(Removal::Replaced),
        _ => None,
    }
}

/// The ARN of every permission set the plan knows (its changes' before and after, and the prior
/// state), by name: an account assignment names its permission set by ARN only.
fn permission_set_names(plan: &Value) -> std::collections::BTreeMap<String, String> {
    let mut names = std::collections::BTreeMap::new();
    let mut note = |v: &Value| {
        if let (Some(arn), Some(name)) = (
            v.get("arn").and_then(Value::as_str),
            v.get("name").and_then(Value::as_str),
        ) {
            names.insert(arn.to_owned(), name.to_owned());
        }
    };
    for (_, change) in changes(plan).filter(|(kind, _)| *kind == "aws_ssoadmin_permission_set") {
        for state in ["before", "after"] {
            if let Some(v) = change.get("change").and_then(|c| c.get(state)) {
                note(v);
            }
        }
    }
    // The prior state's permission sets: `parse_plan` gathers those of every module into the
    // root module.
    for r in plan
        .pointer("/prior_state/values/root_module/resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("type").and_then(Value::as_str) == Some("aws_ssoadmin_permission_set"))
    {
        if let Some(v) = r.get("values") {
            note(v);
        }
    }
    names
}

/// A plan's resource changes, each with its type.
fn changes(plan: &Value) -> impl Iterator<Item = (&str, &Value)> {
    plan.get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (c.get("type").and_then(Value::as_str).unwrap_or(""), c))
}

/// The IAM principals a plan deletes or replaces. A role or user is known by its ARN as it is
/// now (`before`); a permission set by its name.
pub fn removed(plan: &Value, text: &str, settings: &Settings) -> Vec<Removed> {
    let sets = std::sync::OnceLock::new();
    let mut out = Vec::new();
    let mut locator = Locator::at_changes(text);
    for (kind, change) in changes(plan) {
        let Some(c) = change.get("change") else {
            continue;
        };
        let Some(how) = removal(c) else { continue };
        let Some(before) = c.get("before").filter(|b| b.is_object()) else {
            continue;
        };
        let field = |name: &str| before.get(name).and_then(Value::as_str);
        let Some(resource_type) = ResourceType::parse(kind) else {
            continue;
        };
        let principal = match resource_type {
            ResourceType::TfIamRole | ResourceType::TfIamUser => {
                let iam = if resource_type == ResourceType::TfIamRole {
                    IamPrincipalKind::Role
                } else {
                    IamPrincipalKind::User
                };
                let arn = field("arn").map(str::to_owned).or_else(|| {
                    let name = field("name")?;
                    let path = field("path").unwrap_or("/");
                    Some(format!(
                        "arn:{}:iam::{}:{}{path}{name}",
                        settings.partition,
                        settings.account,
                        iam.arn_noun()
                    ))
                });
                arn.map(|arn| RemovedPrincipal::Iam { arn })
            }
            ResourceType::TfPermissionSet => {
                field("name").map(|name| RemovedPrincipal::PermissionSet {
                    name: name.into(),
                    account: None,
                })
            }
            ResourceType::TfAccountAssignment
                if field("target_type").is_none_or(|t| t == "AWS_ACCOUNT") =>
            {
                let names = sets.get_or_init(|| permission_set_names(plan));
                field("permission_set_arn")
                    .and_then(|arn| names.get(arn))
                    .map(|name| RemovedPrincipal::PermissionSet {
                        name: name.as_str().into(),
                        account: field("target_id").map(str::to_owned),
                    })
            }
            _ => None,
        };
        let Some(principal) = principal else { continue };
        let address = change
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or(kind)
            .to_owned();
        out.push(Removed {
            principal,
            how,
            at: locator.find(&format!("\"{address}\"")),
            by: address,
            resource_type,
        });
    }
    out
}

/// The key changes of a plan; `text` is the plan as read, to say where a problem is.
pub fn read(plan: &Value, text: &str, settings: &Settings) -> Result<Vec<DeclaredKey>, InputError> {
    let version = plan
        .get("format_version")
        .and_then(Value::as_str)
        .unwrap_or("");
    if version.split('.').next() != Some("1") {
        return Err(InputError {
            message: format!(
                "a Terraform plan of format version {version:?}: kms-doctor reads format version 1.x (`terraform show -json PLAN` of Terraform 0.12 and later)"
            ),
            at: find(text, "\"format_version\""),
        });
    }
    let mut keys = Vec::new();
    for (kind, change) in changes(plan) {
        let Some(resource_type) = ResourceType::parse(kind).filter(|t| TYPES.contains(t)) else {
            continue;
        };
        let address = change
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or(kind)
            .to_owned();
        let c = change.get("change");
        let actions: Vec<&str> = c
            .and_then(|c| c.get("actions"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if actions == ["delete"] {
            continue;
        }
        let after = c.and_then(|c| c.get("after")).filter(|a| a.is_object());
        let before = c.and_then(|c| c.get("before")).filter(|b| b.is_object());
        let unknown_after = c
            .and_then(|c| c.get("after_unknown"))
            .and_then(|u| u.get("policy"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let policy_of = |state: Option<&Value>| -> Result<Option<DeclaredPolicy>, InputError> {
            let Some(text_policy) = state
                .and_then(|s| s.get("policy"))
                .and_then(Value::as_str)
                .filter(|p| !p.trim().is_empty())
            else {
                return Ok(None);
            };
            let value: Value =
                super::located::policy_json(text_policy).map_err(|e| InputError {
                    message: format!("{address}: its policy is not JSON: {e}"),
                    at: find(text, &address),
                })?;
            let n = value
                .get("Statement")
                .map_or(0, |s| s.as_array().map_or(1, Vec::len));
            Ok(Some(DeclaredPolicy {
                text: value.to_string(),
                at: Location::default(),
                statements: vec![Location::default(); n],
                unresolved: Vec::new(),
            }))
        };
        let policy = policy_of(after)?;
        let before = policy_of(before)?;
        let bypass = after
            .and_then(|a| a.get("bypass_policy_lockout_safety_check"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .then(Location::default);
        let account = super::key_account(settings, policy.as_ref());
        keys.push(DeclaredKey {
            name: address,
            resource_type,
            at: Location::default(),
            policy: match policy {
                Some(p) => PolicyDecl::Stated(p),
                None if unknown_after => PolicyDecl::KnownAfterApply,
                // A key (or replica) without one gets KMS's default policy.
                None => PolicyDecl::KmsDefault,
            },
            before,
            bypass,
            account,
            partition: settings.partition.clone(),
            account_known: settings.account_given,
            ignores: Vec::new(),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An account assignment names its permission set by ARN; the name is in the prior state,
    /// in a child module: `parse_plan` keeps it, and nothing else of the state.
    #[test]
    fn a_permission_set_is_named_from_the_prior_state_of_any_module() {
        let arn = "arn:aws:sso:::permissionSet/ssoins-1/ps-1";
        let plan = serde_json::json!({
            "format_version": "1.2",
            "planned_values": {"root_module": {}},
            "resource_changes": [
                {"address": "aws_ssoadmin_account_assignment.a", "type": "aws_ssoadmin_account_assignment",
                 "change": {"actions": ["delete"], "before": {"permission_set_arn": arn,
                    "target_id": "111122223333", "target_type": "AWS_ACCOUNT"}}},
                {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket",
                 "change": {"actions": ["no-op"], "before": {"bucket": "b"}}}
            ],
            "prior_state": {"values": {"root_module": {"resources": [], "child_modules": [
                {"resources": [
                    {"type": "aws_ssoadmin_permission_set", "values": {"arn": arn, "name": "KeyAdmins"}},
                    {"type": "aws_s3_bucket", "values": {"bucket": "b"}}
                ]}
            ]}}}
        })
        .to_string();
        let pruned = parse_plan(&plan).unwrap();
        assert!(is_plan(&pruned));
        assert_eq!(pruned["resource_changes"].as_array().unwrap().len(), 1);
        let removed = removed(&pruned, &plan, &Settings::default());
        assert_eq!(removed.len(), 1);
        match &removed[0].principal {
            RemovedPrincipal::PermissionSet { name, account } => {
                assert_eq!(name.as_ref(), "KeyAdmins");
                assert_eq!(account.as_deref(), Some("111122223333"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A plan as `terraform show -json` writes it: one line. Each deleted role is located at
    /// its own entry of `resource_changes`, in one pass (the plan's earlier sections name the
    /// same addresses first).
    #[test]
    fn deletions_are_located_at_their_changes_in_one_pass() {
        let n = 5_000;
        let change = |i: usize| {
            serde_json::json!({"address": format!("aws_iam_role.r{i}"), "type": "aws_iam_role",
                "change": {"actions": ["delete"], "before": {"name": format!("r{i}"),
                    "arn": format!("arn:aws:iam::111122223333:role/r{i}")}}})
        };
        let earlier: Vec<String> = (0..n).map(|i| format!("aws_iam_role.r{i}")).collect();
        let plan = serde_json::json!({
            "format_version": "1.2",
            "planned_values": {"names": earlier},
            "resource_changes": (0..n).map(change).collect::<Vec<_>>(),
        });
        let text = plan.to_string();
        let removed = removed(&plan, &text, &Settings::default());
        assert_eq!(removed.len(), n);
        let changes_at = text.find("\"resource_changes\"").unwrap();
        for r in &removed {
            let column = r.at.column.unwrap();
            let at = column - 1; // one line of ASCII: the column is the offset
            assert_eq!(r.at.line, Some(1));
            assert!(at > changes_at, "{} located before the changes", r.by);
            assert!(text[at..].starts_with(&format!("\"{}\"", r.by)));
        }
    }
}
