//! CloudFormation templates (JSON or YAML; CDK's `cdk.out/*.template.json` are the same): the
//! `AWS::KMS::Key` and `AWS::KMS::ReplicaKey` resources, their `KeyPolicy` resolved as far as
//! can be known before deployment, and `BypassPolicyLockoutSafetyCheck`.
//!
//! Intrinsic functions are evaluated in their long (`Fn::Sub`) and short (`!Sub`) forms. Pseudo
//! parameters come from the options; parameters from their `Default`; `Fn::If` from
//! `Conditions` when they can be decided. What cannot be known offline (an `Fn::ImportValue`, a
//! parameter without a default, an attribute of another resource) stands in the policy as
//! `${…}` and is listed, never guessed silently.

use super::Settings;
use super::located::{Located, Node, Pos, key_text};
use crate::diagnosis::model::PolicyDecl;
use crate::diagnosis::model::ResourceType;
use crate::diagnosis::model::{
    DeclaredKey, DeclaredPolicy, DeclaredPrincipal, IamPrincipalKind, Ignore, InputError, Location,
    SuppressionKind,
};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The functions CloudFormation defines, by the name of their short form.
const FUNCTIONS: &[&str] = &[
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "And",
    "Or",
    "Not",
    "FindInMap",
    "ImportValue",
    "Base64",
    "Cidr",
    "GetAZs",
    "Transform",
    "Length",
    "ToJsonString",
    "ForEach",
];

/// Whether a parsed document looks like a template.
pub fn is_template(root: &Located) -> bool {
    root.get("AWSTemplateFormatVersion").is_some()
        || root
            .get("Resources")
            .is_some_and(|r| matches!(r.node, Node::Map(_)))
}

fn loc(p: Pos) -> Location {
    Location::at(p.line, p.column)
}

fn fail(at: Pos, message: impl Into<String>) -> InputError {
    InputError {
        message: message.into(),
        at: loc(at),
    }
}

/// A resolved value: JSON, or `AWS::NoValue` (the element is removed).
#[derive(Clone)]
enum V {
    Json(Value),
    NoValue,
}

struct Template<'a> {
    settings: &'a Settings,
    parameters: BTreeMap<String, &'a Located>,
    mappings: Option<&'a Located>,
    conditions: Option<&'a Located>,
    resources: BTreeMap<String, &'a Located>,
    unresolved: RefCell<Vec<String>>,
    /// Conditions being evaluated: a condition that refers to itself is undecided.
    deciding: RefCell<Vec<String>>,
    /// Values being resolved, nested: a parameter or a role name that refers to itself (or a
    /// chain that goes round) stops here instead of overflowing the stack.
    depth: std::cell::Cell<usize>,
    /// The first resolution that went too deep, or past a bound: some lookups treat a failure
    /// as an unknown value, so it is kept here and makes the whole template an error.
    too_deep: RefCell<Option<InputError>>,
    /// Each parameter resolved once, each condition decided once: a template that refers to
    /// them many times over does not evaluate them many times over.
    /// (value, the expressions it left unresolved, noted again on each use)
    parameters_done: RefCell<std::collections::HashMap<String, (V, Vec<String>)>>,
    conditions_done: RefCell<std::collections::HashMap<String, Option<bool>>>,
    /// Evaluation steps taken, against [`MAX_STEPS`].
    steps: std::cell::Cell<usize>,
}

/// Resolutions nested at most (the document itself nests at most `located::MAX_DEPTH`); named
/// conditions that refer to one another, likewise.
const MAX_RESOLVE_DEPTH: usize = 64;
/// Evaluation steps per template at most: real templates take a few thousand.
const MAX_STEPS: usize = 1_000_000;
/// The longest string a function may build (a key policy is at most 32 KB).
const MAX_VALUE_BYTES: usize = 1 << 20;
/// The longest list a function may build.
const MAX_LIST_ITEMS: usize = 100_000;

/// The key resources of a template, and its IAM roles and users (for `--against OLD`).
pub fn read(
    root: &Located,
    settings: &Settings,
) -> Result<(Vec<DeclaredKey>, Vec<DeclaredPrincipal>), InputError> {
    let named = |section: &str| -> BTreeMap<String, &Located> {
        root.get(section)
            .map(|s| s.entries().iter().map(|(k, v)| (key_text(k), v)).collect())
            .unwrap_or_default()
    };
    let template = Template {
        settings,
        parameters: named("Parameters"),
        mappings: root.get("Mappings"),
        conditions: root.get("Conditions"),
        resources: named("Resources"),
        unresolved: RefCell::new(Vec::new()),
        deciding: RefCell::new(Vec::new()),
        depth: std::cell::Cell::new(0),
        too_deep: RefCell::new(None),
        parameters_done: RefCell::new(std::collections::HashMap::new()),
        conditions_done: RefCell::new(std::collections::HashMap::new()),
        steps: std::cell::Cell::new(0),
    };
    let mut keys = Vec::new();
    let mut principals = Vec::new();
    let Some(resources) = root.get("Resources") else {
        return Ok((keys, principals));
    };
    for (id, resource) in resources.entries() {
        let kind = resource.get("Type").and_then(Located::as_str).unwrap_or("");
        let resource_type = match ResourceType::parse(kind) {
            Some(ResourceType::CfnIamRole) => {
                principals.push(template.principal(id, resource, IamPrincipalKind::Role)?);
                continue;
            }
            Some(ResourceType::CfnIamUser) => {
                principals.push(template.principal(id, resource, IamPrincipalKind::User)?);
                continue;
            }
            Some(t @ (ResourceType::CfnKmsKey | ResourceType::CfnKmsReplicaKey)) => t,
            _ => continue,
        };
        template.unresolved.borrow_mut().clear();
        let properties = resource.get("Properties");
        let policy = match properties.and_then(|p| p.get("KeyPolicy")) {
            Some(p) => PolicyDecl::Stated(template.policy(p)?),
            None => PolicyDecl::KmsDefault,
        };
        if let Some(e) = template.too_deep.borrow_mut().take() {
            return Err(e);
        }
        let bypass = match properties.and_then(|p| p.get("BypassPolicyLockoutSafetyCheck")) {
            Some(flag) => match template.resolve(flag)? {
                V::Json(Value::Bool(true)) => Some(loc(flag.pos)),
                V::Json(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(loc(flag.pos)),
                _ => None,
            },
            None => None,
        };
        let ignores = metadata_ignores(resource)?;
        keys.push(DeclaredKey {
            name: key_text(id),
            resource_type,
            at: loc(id.pos),
            policy,
            before: None,
            bypass,
            account: settings.account.clone(),
            partition: settings.partition.clone(),
            account_known: settings.account_given,
            ignores,
        });
    }
    Ok((keys, principals))
}

/// `Metadata: { kms-doctor: { ignore: [ { code: CODE, reason: "…" } ] } }` on the resource, as
/// cfn-lint reads `Metadata: { cfn-lint: … }`.
fn metadata_ignores(resource: &Located) -> Result<Vec<Ignore>, InputError> {
    let Some(list) = resource
        .get("Metadata")
        .and_then(|m| m.get("kms-doctor"))
        .and_then(|k| k.get("ignore"))
    else {
        return Ok(Vec::new());
    };
    let Node::Seq(items) = &list.node else {
        return Err(fail(
            list.pos,
            "Metadata kms-doctor ignore is a list of { code: CODE, reason: \"…\" }",
        ));
    };
    items
        .iter()
        .map(|item| {
            super::ignore(
                item.get("code").and_then(Located::as_str),
                item.get("reason").and_then(Located::as_str),
                SuppressionKind::Inline,
            )
            .map_err(|why| fail(item.pos, why))
        })
        .collect()
}

impl<'a> Template<'a> {
    fn unknown(&self, expr: String) -> Value {
        let text = format!("${{{expr}}}");
        let mut list = self.unresolved.borrow_mut();
        if !list.contains(&expr) {
            list.push(expr);
        }
        Value::String(text)
    }

    /// `KeyPolicy`: a map (or a JSON string), its statements located one by one.
    fn policy(&self, node: &Located) -> Result<DeclaredPolicy, InputError> {
        let mut statements = Vec::new();
        let value = match (&node.node, &node.tag) {
            (Node::Map(entries), None) if self.function(node).is_none() => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let key = key_text(k);
                    if key == "Statement" {
                        let mut list = Vec::new();
                        match (&v.node, &v.tag) {
                            (Node::Seq(items), None) => {
                                for item in items {
                                    if let V::Json(j) = self.resolve(item)? {
                                        // An Fn::If may give a list of statements.
                                        match j {
                                            Value::Array(many) => {
                                                for one in many {
                                                    list.push(one);
                                                    statements.push(loc(item.pos));
                                                }
                                            }
                                            one => {
                                                list.push(one);
                                                statements.push(loc(item.pos));
                                            }
                                        }
                                    }
                                }
                                map.insert(key, Value::Array(list));
                            }
                            _ => {
                                if let V::Json(j) = self.resolve(v)? {
                                    let n = j.as_array().map_or(1, Vec::len);
                                    statements.extend(std::iter::repeat_n(loc(v.pos), n));
                                    map.insert(key, j);
                                }
                            }
                        }
                    } else if let V::Json(j) = self.resolve(v)? {
                        map.insert(key, j);
                    }
                }
                Value::Object(map)
            }
            _ => match self.resolve(node)? {
                // A policy given as a JSON string (or built by Fn::Sub / Fn::ToJsonString).
                V::Json(Value::String(s)) => super::located::policy_json(&s).map_err(|e| {
                    fail(
                        node.pos,
                        format!("KeyPolicy is a string that is not JSON: {e}"),
                    )
                })?,
                V::Json(v) => v,
                V::NoValue => Value::Null,
            },
        };
        if statements.is_empty() {
            let n = value
                .get("Statement")
                .map_or(0, |s| s.as_array().map_or(1, Vec::len));
            statements = vec![loc(node.pos); n];
        }
        Ok(DeclaredPolicy {
            text: value.to_string(),
            at: loc(node.pos),
            statements,
            unresolved: self.unresolved.borrow().clone(),
        })
    }

    /// The function a node calls, and its argument: `!Sub x` or `{"Fn::Sub": x}`.
    fn function<'n>(&self, node: &'n Located) -> Option<(String, Arg<'n>)> {
        if let Some(tag) = &node.tag {
            let mut plain = node.clone();
            plain.tag = None;
            return Some((tag.clone(), Arg::Tagged(plain)));
        }
        match &node.node {
            Node::Map(entries) if entries.len() == 1 => {
                let key = key_text(&entries[0].0);
                let name = match key.strip_prefix("Fn::") {
                    Some(n) => n.to_owned(),
                    None if key == "Ref" || key == "Condition" => key,
                    None => return None,
                };
                Some((name, Arg::Value(&entries[0].1)))
            }
            _ => None,
        }
    }

    /// Stops the evaluation at `at` for `why`; the first such stop makes the template an error.
    fn past_bound(&self, at: Pos, why: impl Into<String>) -> InputError {
        let e = fail(at, why);
        self.too_deep.borrow_mut().get_or_insert_with(|| e.clone());
        e
    }

    /// A role or user of the template: its name and path when they can be known offline.
    fn principal(
        &self,
        id: &Located,
        resource: &Located,
        kind: IamPrincipalKind,
    ) -> Result<DeclaredPrincipal, InputError> {
        let properties = resource.get("Properties");
        let text = |field: &str| -> Result<Option<String>, InputError> {
            let Some(node) = properties.and_then(|p| p.get(field)) else {
                return Ok(None);
            };
            let before = self.unresolved.borrow().len();
            let value = self.resolve(node)?;
            if self.unresolved.borrow().len() > before {
                return Ok(None);
            }
            Ok(match value {
                V::Json(Value::String(s)) if !s.contains("${") => Some(s),
                _ => None,
            })
        };
        let name_field = match kind {
            IamPrincipalKind::Role => "RoleName",
            IamPrincipalKind::User => "UserName",
        };
        let name = text(name_field)?;
        let path = text("Path")?.unwrap_or_else(|| "/".to_owned());
        Ok(DeclaredPrincipal {
            logical_id: key_text(id),
            kind,
            name,
            path,
            at: loc(id.pos),
        })
    }

    fn resolve(&self, node: &Located) -> Result<V, InputError> {
        if self.depth.get() >= MAX_RESOLVE_DEPTH {
            return Err(self.past_bound(
                node.pos,
                "references that go round in a circle (or nest too deep) to resolve",
            ));
        }
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > MAX_STEPS {
            return Err(self.past_bound(
                node.pos,
                format!("more than {MAX_STEPS} evaluation steps: not read"),
            ));
        }
        self.depth.set(self.depth.get() + 1);
        let resolved = self.resolve_within(node);
        self.depth.set(self.depth.get() - 1);
        // What a function builds is bounded: strings doubled at each step grow past any memory.
        match &resolved {
            Ok(V::Json(Value::String(s))) if s.len() > MAX_VALUE_BYTES => Err(self.past_bound(
                node.pos,
                format!("a value longer than {MAX_VALUE_BYTES} bytes: not read"),
            )),
            Ok(V::Json(Value::Array(a))) if a.len() > MAX_LIST_ITEMS => Err(self.past_bound(
                node.pos,
                format!("a list of more than {MAX_LIST_ITEMS} items: not read"),
            )),
            _ => resolved,
        }
    }

    fn resolve_within(&self, node: &Located) -> Result<V, InputError> {
        if let Some((name, arg)) = self.function(node) {
            return self.call(&name, arg, node.pos);
        }
        Ok(V::Json(match &node.node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
            Node::String(s) => Value::String(s.clone()),
            Node::Seq(items) => {
                let mut out = Vec::new();
                for i in items {
                    if let V::Json(v) = self.resolve(i)? {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            Node::Map(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    if let V::Json(j) = self.resolve(v)? {
                        out.insert(key_text(k), j);
                    }
                }
                Value::Object(out)
            }
        }))
    }

    fn json(&self, node: &Located) -> Result<Value, InputError> {
        Ok(match self.resolve(node)? {
            V::Json(v) => v,
            V::NoValue => Value::Null,
        })
    }

    fn call(&self, name: &str, arg: Arg, at: Pos) -> Result<V, InputError> {
        if !FUNCTIONS.contains(&name) {
            return Err(fail(
                at,
                format!("!{name} is not a CloudFormation intrinsic function"),
            ));
        }
        let node = arg.node();
        Ok(V::Json(match name {
            "Ref" => {
                let target = node.as_str().unwrap_or_default();
                return Ok(self.reference(target));
            }
            "Condition" => match self.condition(node.as_str().unwrap_or_default()) {
                Some(b) => Value::Bool(b),
                None => self.unknown(format!("Condition {}", node.as_str().unwrap_or("?"))),
            },
            "Sub" => self.sub(node)?,
            "GetAtt" => self.get_att(node)?,
            "Join" => self.join(node)?,
            "Select" => self.select(node)?,
            "Split" => self.split(node)?,
            "If" => {
                let a = list_args(node, name)?;
                let (Some(condition), Some(yes), Some(no)) = (a.first(), a.get(1), a.get(2)) else {
                    return Err(fail(node.pos, "Fn::If takes a condition and two values"));
                };
                let name = condition.as_str().unwrap_or_default();
                let chosen = match self.condition(name) {
                    Some(true) => yes,
                    Some(false) => no,
                    None => {
                        // Undecided: the first branch is checked, and the report says so.
                        self.unknown(format!("Fn::If {name} (checked as true)"));
                        yes
                    }
                };
                return self.resolve(chosen);
            }
            "Equals" | "And" | "Or" | "Not" => match self.decide(name, node)? {
                Some(b) => Value::Bool(b),
                None => self.unknown(format!("Fn::{name}")),
            },
            "FindInMap" => self.find_in_map(node)?,
            "ImportValue" => {
                let what = text(&self.json(node)?);
                self.unknown(format!("Fn::ImportValue {what}"))
            }
            "Base64" => self.json(node)?,
            "ToJsonString" => Value::String(self.json(node)?.to_string()),
            "Length" => match self.json(node)? {
                Value::Array(items) => Value::from(items.len()),
                _ => self.unknown("Fn::Length".to_owned()),
            },
            other => self.unknown(format!("Fn::{other}")),
        }))
    }

    /// `Fn::Sub`: the string with its variables and the template's references substituted.
    fn sub(&self, node: &Located) -> Result<Value, InputError> {
        let (template, vars) = match &node.node {
            Node::Seq(items) if !items.is_empty() => (&items[0], items.get(1)),
            _ => (node, None),
        };
        let mut values = BTreeMap::new();
        if let Some(vars) = vars {
            for (k, v) in vars.entries() {
                values.insert(key_text(k), self.json(v)?);
            }
        }
        let Some(s) = template.as_str() else {
            return Err(fail(template.pos, "Fn::Sub takes a string"));
        };
        Ok(Value::String(self.substitute(s, &values)))
    }

    /// `Fn::GetAtt`: `RESOURCE.ATTRIBUTE`, or the two as a list.
    fn get_att(&self, node: &Located) -> Result<Value, InputError> {
        let (resource, attribute) = match &node.node {
            Node::String(s) => match s.split_once('.') {
                Some((r, a)) => (r.to_owned(), a.to_owned()),
                None => return Err(fail(node.pos, "Fn::GetAtt takes RESOURCE.ATTRIBUTE")),
            },
            _ => {
                let a = list_args(node, "GetAtt")?;
                match (a.first(), a.get(1)) {
                    (Some(r), Some(attr)) => (text(&self.json(r)?), text(&self.json(attr)?)),
                    _ => return Err(fail(node.pos, "Fn::GetAtt takes two arguments")),
                }
            }
        };
        Ok(self.attribute(&resource, &attribute))
    }

    /// `Fn::Join`: a list joined with a delimiter.
    fn join(&self, node: &Located) -> Result<Value, InputError> {
        let a = list_args(node, "Join")?;
        let (Some(delimiter), Some(list)) = (a.first(), a.get(1)) else {
            return Err(fail(node.pos, "Fn::Join takes a delimiter and a list"));
        };
        let delimiter = text(&self.json(delimiter)?);
        Ok(match self.json(list)? {
            Value::Array(items) => {
                Value::String(items.iter().map(text).collect::<Vec<_>>().join(&delimiter))
            }
            other => Value::String(text(&other)),
        })
    }

    /// `Fn::Select`: one item of a list, unknown when the index is not.
    fn select(&self, node: &Located) -> Result<Value, InputError> {
        let a = list_args(node, "Select")?;
        let (Some(index), Some(list)) = (a.first(), a.get(1)) else {
            return Err(fail(node.pos, "Fn::Select takes an index and a list"));
        };
        let index = text(&self.json(index)?).parse::<usize>().ok();
        Ok(match (index, self.json(list)?) {
            (Some(i), Value::Array(items)) if i < items.len() => items[i].clone(),
            _ => self.unknown("Fn::Select".to_owned()),
        })
    }

    /// `Fn::Split`: a string split on a delimiter.
    fn split(&self, node: &Located) -> Result<Value, InputError> {
        let a = list_args(node, "Split")?;
        let (Some(delimiter), Some(source)) = (a.first(), a.get(1)) else {
            return Err(fail(node.pos, "Fn::Split takes a delimiter and a string"));
        };
        let delimiter = text(&self.json(delimiter)?);
        let source = text(&self.json(source)?);
        Ok(if delimiter.is_empty() {
            Value::Array(vec![Value::String(source)])
        } else {
            Value::Array(
                source
                    .split(delimiter.as_str())
                    .map(|s| Value::String(s.to_owned()))
                    .collect(),
            )
        })
    }

    /// `Fn::FindInMap`: a value of the template's Mappings.
    fn find_in_map(&self, node: &Located) -> Result<Value, InputError> {
        let a = list_args(node, "FindInMap")?;
        let keys: Vec<String> = a
            .iter()
            .take(3)
            .map(|k| self.json(k).map(|v| text(&v)))
            .collect::<Result<_, _>>()?;
        let found = match keys.as_slice() {
            [map, top, second] => self
                .mappings
                .and_then(|m| m.get(map))
                .and_then(|m| m.get(top))
                .and_then(|m| m.get(second)),
            _ => None,
        };
        Ok(match found {
            Some(v) => self.json(v)?,
            None => self.unknown(format!("Fn::FindInMap {}", keys.join("."))),
        })
    }

    /// `Ref`: a pseudo parameter, a parameter's default, or a resource (unknown before
    /// deployment, but for a role or user with a name).
    fn reference(&self, target: &str) -> V {
        let s = self.settings;
        V::Json(match target {
            "AWS::NoValue" => return V::NoValue,
            "AWS::AccountId" => Value::String(s.account.clone()),
            "AWS::Partition" => Value::String(s.partition.clone()),
            "AWS::Region" => Value::String(s.region.clone()),
            "AWS::URLSuffix" => Value::String(
                if s.partition == "aws-cn" {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                }
                .to_owned(),
            ),
            _ => {
                if let Some((done, unresolved)) = self.parameters_done.borrow().get(target) {
                    self.unresolved
                        .borrow_mut()
                        .extend(unresolved.iter().cloned());
                    return done.clone();
                }
                if let Some(p) = self.parameters.get(target) {
                    let before = self.unresolved.borrow().len();
                    let list = p
                        .get("Type")
                        .and_then(Located::as_str)
                        .is_some_and(|t| t == "CommaDelimitedList" || t.starts_with("List<"));
                    let value = match p.get("Default") {
                        Some(d) => match self.resolve(d) {
                            // A list parameter's value is its default split at commas.
                            Ok(V::Json(Value::String(s))) if list => Value::Array(
                                s.split(',')
                                    .map(|x| Value::String(x.trim().to_owned()))
                                    .collect(),
                            ),
                            Ok(V::Json(v)) => v,
                            _ => self.unknown(format!("Ref {target}")),
                        },
                        None => self.unknown(format!("Ref {target}")),
                    };
                    let unresolved = self.unresolved.borrow()
                        [before.min(self.unresolved.borrow().len())..]
                        .to_vec();
                    self.parameters_done
                        .borrow_mut()
                        .insert(target.to_owned(), (V::Json(value.clone()), unresolved));
                    value
                } else if let Some(name) = self.entity_name(target) {
                    Value::String(name)
                } else {
                    self.unknown(format!("Ref {target}"))
                }
            }
        })
    }

    /// A role's or user's name, when the template gives it.
    fn entity_name(&self, resource: &str) -> Option<String> {
        let r = self.resources.get(resource)?;
        let kind = r.get("Type").and_then(Located::as_str)?;
        let field = match kind {
            "AWS::IAM::Role" => "RoleName",
            "AWS::IAM::User" => "UserName",
            _ => return None,
        };
        let name = r.get("Properties").and_then(|p| p.get(field))?;
        match self.resolve(name) {
            Ok(V::Json(Value::String(s))) => Some(s),
            _ => None,
        }
    }

    /// `Fn::GetAtt`: a role's or user's ARN is built from the template (the name CloudFormation
    /// generates when none is given stands as the logical ID); anything else is unknown.
    fn attribute(&self, resource: &str, attribute: &str) -> Value {
        let kind = self
            .resources
            .get(resource)
            .and_then(|r| r.get("Type"))
            .and_then(Located::as_str);
        let prefix = match (kind, attribute) {
            (Some("AWS::IAM::Role"), "Arn") => "role",
            (Some("AWS::IAM::User"), "Arn") => "user",
            _ => return self.unknown(format!("{resource}.{attribute}")),
        };
        let path = self
            .resources
            .get(resource)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("Path"))
            .and_then(|p| match self.resolve(p) {
                Ok(V::Json(Value::String(s))) => Some(s),
                _ => None,
            })
            .unwrap_or_else(|| "/".to_owned());
        let name = self.entity_name(resource).unwrap_or_else(|| {
            self.unknown(format!(
                "{resource}.Arn (the name CloudFormation generates; checked as {resource})"
            ));
            resource.to_owned()
        });
        Value::String(format!(
            "arn:{}:iam::{}:{prefix}{path}{name}",
            self.settings.partition, self.settings.account
        ))
    }

    /// `${Name}` in an `Fn::Sub` string.
    fn substitute(&self, s: &str, values: &BTreeMap<String, Value>) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                return out;
            };
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let value = match values.get(name) {
                    Some(v) => v.clone(),
                    None => match name.split_once('.') {
                        Some((r, a)) if !name.starts_with("AWS::") => self.attribute(r, a),
                        _ => match self.reference(name) {
                            V::Json(v) => v,
                            V::NoValue => Value::String(String::new()),
                        },
                    },
                };
                match value {
                    Value::String(v) => out.push_str(&v),
                    other => out.push_str(&other.to_string()),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A named condition of the `Conditions` section, when it can be decided.
    fn condition(&self, name: &str) -> Option<bool> {
        if let Some(done) = self.conditions_done.borrow().get(name) {
            return *done;
        }
        if self.deciding.borrow().iter().any(|n| n == name) {
            return None;
        }
        let body = self.conditions?.get(name)?;
        // Conditions that refer to one another nest no deeper than values do.
        if self.deciding.borrow().len() >= MAX_RESOLVE_DEPTH {
            self.past_bound(body.pos, "conditions that nest too deep to decide");
            return None;
        }
        self.deciding.borrow_mut().push(name.to_owned());
        let decided = match self.function(body) {
            Some((f, arg)) => self.decide(&f, arg.node()).ok().flatten(),
            None => None,
        };
        self.deciding.borrow_mut().pop();
        self.conditions_done
            .borrow_mut()
            .insert(name.to_owned(), decided);
        decided
    }

    /// `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, `Condition`: `None` when undecided.
    fn decide(&self, name: &str, node: &Located) -> Result<Option<bool>, InputError> {
        let items: Vec<&Located> = match &node.node {
            Node::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let truth = |n: &Located| -> Result<Option<bool>, InputError> {
            match self.function(n) {
                Some((f, arg)) if matches!(f.as_str(), "Equals" | "And" | "Or" | "Not") => {
                    self.decide(&f, arg.node())
                }
                Some((f, arg)) if f == "Condition" => {
                    Ok(self.condition(arg.node().as_str().unwrap_or_default()))
                }
                _ => Ok(match self.json(n)? {
                    Value::Bool(b) => Some(b),
                    _ => None,
                }),
            }
        };
        Ok(match name {
            "Equals" => {
                if items.len() != 2 {
                    return Err(fail(node.pos, "Fn::Equals takes two values"));
                }
                let (a, b) = (self.json(items[0])?, self.json(items[1])?);
                let unknown = |v: &Value| v.as_str().is_some_and(|s| s.contains("${"));
                if unknown(&a) || unknown(&b) {
                    None
                } else {
                    Some(a == b)
                }
            }
            "Not" => truth(items[0])?.map(|b| !b),
            "And" | "Or" => {
                let mut all = Vec::new();
                for i in items {
                    all.push(truth(i)?);
                }
                let and = name == "And";
                if all.contains(&Some(!and)) {
                    Some(!and)
                } else if all.iter().all(Option::is_some) {
                    Some(and)
                } else {
                    None
                }
            }
            "Condition" => self.condition(node.as_str().unwrap_or_default()),
            _ => None,
        })
    }
}

/// A function's argument: the tagged node itself, its tag dropped (the tag is the function),
/// or the value of the `Fn::` key.
enum Arg<'n> {
    Tagged(Located),
    Value(&'n Located),
}

impl Arg<'_> {
    fn node(&self) -> &Located {
        match self {
            Arg::Tagged(n) => n,
            Arg::Value(n) => n,
        }
    }
}

/// A function's arguments, when they must be a list.
fn list_args<'a>(node: &'a Located, name: &str) -> Result<Vec<&'a Located>, InputError> {
    match &node.node {
        Node::Seq(items) => Ok(items.iter().collect()),
        _ => Err(fail(node.pos, format!("Fn::{name} takes a list"))),
    }
}

/// A value as a function's text argument: a string as it is, anything else as JSON.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::iac::located::parse;

    fn settings() -> Settings {
        Settings {
            account: "111122223333".into(),
            account_given: true,
            partition: "aws".into(),
            region: "eu-west-1".into(),
        }
    }

    /// The statements of the one key of a template, as JSON, and what stayed unknown.
    fn statements(template: &str) -> (Value, Vec<String>) {
        let root = parse(template).unwrap();
        let (keys, _) = read(&root, &settings()).unwrap();
        let policy = keys[0].policy.stated().unwrap();
        let v: Value = serde_json::from_str(&policy.text).unwrap();
        (v["Statement"].clone(), policy.unresolved.clone())
    }

    #[test]
    fn every_short_form_is_understood() {
        let template = r#"
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a,b,c"}
  Stage: {Type: String}
Conditions:
  Both: !And [!Equals [x, x], !Not [!Equals [x, y]]]
  Either: !Or [!Condition Both, !Equals [!Ref Stage, prod]]
Resources:
  K:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Sid: !Select [1, !Split [",", "p,q,r"]]
            Effect: Allow
            Principal: {AWS: !Join [":", [!Ref AWS::Region, !Ref AWS::URLSuffix]]}
            Action: !Select [0, !Ref Names]
            Resource: "*"
            Condition:
              StringEquals:
                a: !Base64 plain
                b: !GetAZs ""
                c: !Cidr [10.0.0.0/16, 2, 8]
                d: !Transform {Name: AWS::Include}
                e: !If [Either, yes, no]
                f: !If [Both, yes, no]
                g: !ImportValue Shared
                h: !Sub ["${X}-${AWS::AccountId}-${!Literal}", {X: !Ref Stage}]
                i: !GetAtt Other.Arn
"#;
        let (s, unknown) = statements(template);
        assert_eq!(s[0]["Sid"], "q");
        assert_eq!(s[0]["Principal"]["AWS"], "eu-west-1:amazonaws.com");
        assert_eq!(s[0]["Action"], "a", "a list parameter's default is a list");
        let c = &s[0]["Condition"]["StringEquals"];
        assert_eq!(c["a"], "plain");
        assert_eq!(c["f"], "yes", "Both is decided");
        assert_eq!(c["e"], "yes", "Either is decided by Both alone");
        assert_eq!(c["h"], "${Ref Stage}-111122223333-${Literal}");
        for u in [
            "Fn::GetAZs",
            "Fn::Cidr",
            "Fn::Transform",
            "Fn::ImportValue Shared",
            "Ref Stage",
            "Other.Arn",
        ] {
            assert!(unknown.iter().any(|x| x == u), "{u} in {unknown:?}");
        }
    }

    #[test]
    fn circular_references_are_an_error_not_a_crash() {
        let template = r#"
Parameters:
  A: {Type: String, Default: !Ref B}
  B: {Type: String, Default: !Ref A}
Resources:
  Admin:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !GetAtt Admin.Arn
  K:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - {Effect: Allow, Principal: {AWS: !Ref A}, Action: "kms:*", Resource: "*"}
          - {Effect: Allow, Principal: {AWS: !GetAtt Admin.Arn}, Action: "kms:*", Resource: "*"}
"#;
        let root = parse(template).unwrap();
        let e = read(&root, &settings()).unwrap_err();
        assert!(e.message.contains("circle"), "{e:?}");
    }

    #[test]
    fn the_long_forms_are_the_same_functions() {
        let template = r#"{"Resources": {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Sid": {"Fn::Join": ["-", [{"Fn::Select": [0, {"Fn::Split": [",", "x,y"]}]}, {"Ref": "AWS::Partition"}]]},
             "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": "kms:*", "Resource": "*"},
            {"Fn::If": ["Missing", {"Sid": "dropped"}, {"Ref": "AWS::NoValue"}]}
        ]}}}}}"#;
        let (s, unknown) = statements(template);
        assert_eq!(s[0]["Sid"], "x-aws");
        assert_eq!(s[0]["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
        assert_eq!(
            s.as_array().unwrap().len(),
            2,
            "an undecided Fn::If is checked as true"
        );
        assert!(
            unknown.iter().any(|u| u.contains("Fn::If Missing")),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_key_policy_given_as_a_string_and_a_bypass_from_a_parameter() {
        let template = r#"
Parameters:
  Bypass: {Type: String, Default: "true"}
Resources:
  K:
    Type: AWS::KMS::ReplicaKey
    Properties:
      BypassPolicyLockoutSafetyCheck: !Ref Bypass
      KeyPolicy: !Sub '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::${AWS::AccountId}:root"}, "Action": "kms:*", "Resource": "*"}]}'
"#;
        let root = parse(template).unwrap();
        let (keys, _) = read(&root, &settings()).unwrap();
        assert_eq!(keys[0].resource_type, ResourceType::CfnKmsReplicaKey);
        assert_eq!(keys[0].bypass.and_then(|b| b.line), Some(8));
        let policy = keys[0].policy.stated().unwrap();
        assert!(policy.text.contains("arn:aws:iam::111122223333:root"));
        assert_eq!(policy.statements.len(), 1);
    }
}
