//! Reading infrastructure as code for `check`: bare key policies, CloudFormation templates (JSON
//! and YAML, CDK output included) and Terraform plans, recognised by their content, into the key
//! resources they declare, each policy with the line and column of its statements.
//!
//! Directories are walked (regular files only, each once, by `evidence::walk`), patterns with
//! `*`, `?` or `[` are matched under their literal prefix, and every read is bounded.

pub mod cloudformation;
pub mod located;
pub mod terraform;

use super::walk;
use crate::diagnosis::model::PolicyDecl;
use crate::diagnosis::model::ResourceType;
use crate::diagnosis::model::{
    Code, DeclaredKey, DeclaredPolicy, DeclaredPrincipal, IamPrincipalKind, Ignore, InputError,
    InputFile, InputKind, Location, Removal, Removed, RemovedPrincipal, SuppressionKind,
};
use located::{Located, Node};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a template cannot say by itself: the pseudo parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `AWS::AccountId` (`--account`, else the deployer's account, else 123456789012).
    pub account: String,
    /// The account was given (`--account` or the deployer's), not the default.
    pub account_given: bool,
    pub partition: String,
    pub region: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            account: "123456789012".to_owned(),
            account_given: false,
            partition: "aws".to_owned(),
            region: "us-east-1".to_owned(),
        }
    }
}

/// The largest input read (a plan of a large stack runs to tens of MB).
pub const MAX_INPUT_BYTES: u64 = 64 << 20;
/// Files read at most from the paths given.
pub const MAX_FILES: usize = 100_000;
/// Directories a walk never enters.
const SKIPPED_DIRS: [&str; 5] = [".git", "node_modules", ".terraform", "target", ".venv"];
/// What a walk reads.
const EXTENSIONS: [&str; 4] = ["json", "yaml", "yml", "template"];

/// The key's account: the one given, else the account a policy's ARNs name most (a plan or a
/// policy file has real ARNs), else the default.
pub fn key_account(settings: &Settings, policy: Option<&DeclaredPolicy>) -> String {
    if settings.account_given {
        return settings.account.clone();
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut rest = policy.map_or("", |p| p.text.as_str());
    while let Some(i) = rest.find(":iam::") {
        let tail = &rest[i + 6..];
        let id = tail.get(..12).unwrap_or("");
        if id.bytes().all(|b| b.is_ascii_digit()) && id.len() == 12 {
            *counts.entry(id).or_default() += 1;
        }
        rest = tail;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| settings.account.clone())
}

/// A path to read: named on the command line (`explicit`: it must be something kms-doctor
/// reads), or found by a walk or a pattern (skipped quietly when it is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub explicit: bool,
}

/// The files the arguments name, in order, each once; and an error for each argument that
/// names nothing. `follow_links`: follow links out of a directory walked (`--follow-links`).
pub fn expand(args: &[PathBuf], follow_links: bool) -> (Vec<Input>, Vec<InputFile>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let too_many = format!("more than {MAX_FILES} files: the rest are not checked");
    for arg in args {
        let text = arg.to_string_lossy();
        let pattern = text.contains(['*', '?', '[']);
        let root = if pattern {
            // The literal directories before the first wildcard.
            let literal: PathBuf = arg
                .components()
                .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
                .collect();
            if literal.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                literal
            }
        } else {
            arg.clone()
        };
        let named_file = !pattern && std::fs::metadata(&root).is_ok_and(|m| !m.is_dir());
        if named_file {
            if seen.insert(arg.clone()) {
                inputs.push(Input {
                    path: arg.clone(),
                    explicit: true,
                });
            }
            continue;
        }
        let matcher = pattern.then(|| wildmatch::WildMatch::new(&text));
        let want = |p: &Path, _: &str| match &matcher {
            Some(m) => m.matches(&p.to_string_lossy()),
            None => p
                .extension()
                .is_some_and(|e| EXTENSIONS.contains(&e.to_string_lossy().as_ref())),
        };
        let walked = walk::regular_files(
            &root,
            &walk::Walk {
                max_files: MAX_FILES.saturating_sub(inputs.len()),
                enter: &|name| !SKIPPED_DIRS.contains(&name),
                want: &want,
                too_many: &too_many,
                follow_links,
            },
        );
        match walked {
            Ok((files, skipped)) => {
                if pattern && files.is_empty() {
                    errors.push(error_at(
                        Path::new(text.as_ref()),
                        "no file matches this pattern",
                        Location::default(),
                    ));
                }
                for path in files {
                    if seen.insert(path.clone()) {
                        inputs.push(Input {
                            path,
                            explicit: false,
                        });
                    }
                }
                // Nothing is skipped silently: an unreadable directory, a FIFO, the file cap.
                for reason in skipped.reasons {
                    errors.push(error_at(&root, reason, Location::default()));
                }
            }
            Err(e) => errors.push(error_at(
                Path::new(text.as_ref()),
                format!("cannot read it: {e}"),
                Location::default(),
            )),
        }
    }
    (inputs, errors)
}

fn error_at(path: &Path, message: impl Into<String>, at: Location) -> InputFile {
    InputFile {
        path: path.display().to_string(),
        error: Some(InputError {
            message: message.into(),
            at,
        }),
        ..Default::default()
    }
}

/// `check TEMPLATE --against OLD`: what the template's change does, against its old version.
/// A role or user of the old template that is gone is deleted; one whose name or path changed
/// (a user's name) is replaced — CloudFormation deletes it and creates another, with a new unique
/// ID. A name the template does not state cannot be matched: CloudFormation makes it up. Each
/// key the old template declares under the same logical ID gives its policy as `before`.
pub fn against_template(file: &mut InputFile, old: &InputFile, settings: &Settings) {
    let arn = |p: &DeclaredPrincipal, name: &str| {
        format!(
            "arn:{}:iam::{}:{}{}{name}",
            settings.partition,
            settings.account,
            p.kind.arn_noun(),
            p.path
        )
    };
    for was in &old.principals {
        let Some(name) = &was.name else { continue };
        let now = file
            .principals
            .iter()
            .find(|p| p.logical_id == was.logical_id && p.kind == was.kind);
        let how = match now {
            None => Removal::Deleted,
            Some(now) => {
                let renamed = now.name.as_deref() != Some(name.as_str());
                // A role's path is part of what replaces it; a user's is not.
                let moved = was.kind == IamPrincipalKind::Role && now.path != was.path;
                if !(renamed || moved) {
                    continue;
                }
                Removal::Replaced
            }
        };
        file.removed.push(Removed {
            principal: RemovedPrincipal::Iam {
                arn: arn(was, name),
            },
            how,
            by: was.logical_id.clone(),
            resource_type: was.kind.resource_type(),
            at: now.map_or_else(Location::default, |p| p.at),
        });
    }
    for key in &mut file.keys {
        if key.before.is_none() {
            key.before = old
                .keys
                .iter()
                .find(|k| k.name == key.name)
                .and_then(|k| k.policy.clone().into_stated());
        }
    }
}

/// Reads one input. `None`: a file found by a walk that is none of the three kinds.
pub fn read_input(input: &Input, settings: &Settings) -> Option<InputFile> {
    let path = &input.path;
    let mut bytes = Vec::new();
    let read = crate::evidence::open_regular(path)
        .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Some(error_at(
            path,
            format!("cannot read it: {e}"),
            Location::default(),
        ));
    }
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Some(error_at(
            path,
            format!("larger than {} MiB: not read", MAX_INPUT_BYTES >> 20),
            Location::default(),
        ));
    }
    let Ok(text) = crate::evidence::utf8_text(bytes) else {
        return input
            .explicit
            .then(|| error_at(path, "not UTF-8 text", Location::default()));
    };
    read_str(&text, path, input.explicit, settings)
}

/// Reads the text of an input named `path` (`explicit`: named on the command line, so it must
/// be one of the three kinds). No I/O: the fuzz target's entry too.
pub fn read_str(text: &str, path: &Path, explicit: bool, settings: &Settings) -> Option<InputFile> {
    match read_text(text, path, settings) {
        Outcome::Keys(kind, keys, removed) => Some(InputFile {
            path: path.display().to_string(),
            kind: Some(kind),
            keys,
            removed,
            ..Default::default()
        }),
        Outcome::Template(keys, principals) => Some(InputFile {
            path: path.display().to_string(),
            kind: Some(InputKind::Cloudformation),
            keys,
            principals,
            ..Default::default()
        }),
        Outcome::Failed(kind, e) => Some(InputFile {
            path: path.display().to_string(),
            kind,
            error: Some(e),
            ..Default::default()
        }),
        Outcome::NotMine => explicit.then(|| {
            error_at(
                path,
                "not a key policy, a CloudFormation template or a Terraform plan",
                Location::default(),
            )
        }),
    }
}

enum Outcome {
    /// The keys a file declares, and the principals it removes.
    Keys(InputKind, Vec<DeclaredKey>, Vec<Removed>),
    /// A template's keys, and the roles and users it declares.
    Template(Vec<DeclaredKey>, Vec<DeclaredPrincipal>),
    Failed(Option<InputKind>, InputError),
    NotMine,
}

/// Recognises an input by its content and reads it.
fn read_text(text: &str, path: &Path, settings: &Settings) -> Outcome {
    let looks_json = text.trim_start().starts_with('{');
    // A plan is read as plain JSON: it can be large, and its lines say nothing.
    if looks_json
        && text.contains("\"format_version\"")
        && let Some(v) = terraform::parse_plan(text)
        && terraform::is_plan(&v)
    {
        return match terraform::read(&v, text, settings) {
            Ok(keys) => Outcome::Keys(
                InputKind::TerraformPlan,
                keys,
                terraform::removed(&v, text, settings),
            ),
            Err(e) => Outcome::Failed(Some(InputKind::TerraformPlan), e),
        };
    }
    let root = match located::parse(text) {
        Ok(root) => root,
        Err(e) => {
            // A broken file is reported only when it means to be one of ours.
            let ours = text.contains("AWSTemplateFormatVersion")
                || text.contains("AWS::KMS::")
                || text.contains("\"Statement\"")
                || text.contains("\"format_version\"");
            return if ours {
                Outcome::Failed(
                    None,
                    InputError {
                        message: format!(
                            "not well-formed {}: {}",
                            if looks_json { "JSON" } else { "YAML" },
                            e.message
                        ),
                        at: Location::at(e.at.line, e.at.column),
                    },
                )
            } else {
                Outcome::NotMine
            };
        }
    };
    if cloudformation::is_template(&root) {
        return match cloudformation::read(&root, settings).and_then(|(mut keys, principals)| {
            let spans = resource_spans(&root, &keys);
            comment_ignores(text, &spans, &mut keys).map(|()| (keys, principals))
        }) {
            Ok((keys, principals)) => Outcome::Template(keys, principals),
            Err(e) => Outcome::Failed(Some(InputKind::Cloudformation), e),
        };
    }
    match policy(&root, path, settings) {
        Some(Ok(key)) => {
            let mut keys = vec![key];
            // A policy file is the key's own: every line of it.
            match comment_ignores(text, &[(1, usize::MAX)], &mut keys) {
                Ok(()) => Outcome::Keys(InputKind::Policy, keys, Vec::new()),
                Err(e) => Outcome::Failed(Some(InputKind::Policy), e),
            }
        }
        Some(Err(e)) => Outcome::Failed(Some(InputKind::Policy), e),
        None => Outcome::NotMine,
    }
}

/// An accepted finding, as an input or the configuration file states it: a known code and a
/// reason (a suppression without one is refused: someone must say why).
pub fn ignore(
    code: Option<&str>,
    reason: Option<&str>,
    kind: SuppressionKind,
) -> Result<Ignore, String> {
    let code = code.ok_or("an ignore needs its code (code: single-restorer)")?;
    let code = Code::parse(code).ok_or_else(|| {
        format!("{code:?} is not a kms-doctor finding code (see docs/diagnostics.md)")
    })?;
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| format!("the ignore of {code} needs a reason: say why it is accepted"))?;
    Ok(Ignore {
        code,
        reason: reason.to_owned(),
        kind,
    })
}

/// The comment that accepts findings in a YAML file: `# kms-doctor:ignore=CODE[,CODE] REASON`.
const IGNORE_COMMENT: &str = "kms-doctor:ignore=";

/// `# kms-doctor:ignore=…` comments, each given to the key whose own lines hold it, or that
/// starts on the next line. Only YAML comments count, as the YAML scanner finds them: never
/// text inside a string (a Sid can carry anything), never in JSON (which has no comments), and
/// never a comment within another resource. `spans`: each key's first and last line.
fn comment_ignores(
    text: &str,
    spans: &[(usize, usize)],
    keys: &mut [DeclaredKey],
) -> Result<(), InputError> {
    if text.trim_start().starts_with('{') {
        return Ok(());
    }
    for comment in located::comments(text) {
        let Some(rest) = comment.text.trim_start().strip_prefix(IGNORE_COMMENT) else {
            continue;
        };
        let at = comment.pos.line;
        let (codes, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let error = |message: String| InputError {
            message,
            at: Location::at(at, comment.pos.column),
        };
        let owner = spans
            .iter()
            .position(|&(first, _)| first == at + 1)
            .or_else(|| {
                spans
                    .iter()
                    .position(|&(first, last)| first <= at && at <= last)
            })
            .ok_or_else(|| {
                error("this kms-doctor:ignore comment is not inside a key resource".into())
            })?;
        for code in codes.split(',') {
            let ignore =
                ignore(Some(code), Some(reason), SuppressionKind::Inline).map_err(error)?;
            keys[owner].ignores.push(ignore);
        }
    }
    Ok(())
}

/// Each key's lines in a template: from its logical ID to the last line of its resource.
fn resource_spans(root: &Located, keys: &[DeclaredKey]) -> Vec<(usize, usize)> {
    let resources = match root.get("Resources").map(|r| &r.node) {
        Some(Node::Map(entries)) => entries.as_slice(),
        _ => &[],
    };
    keys.iter()
        .map(|k| {
            resources
                .iter()
                .find(|(id, _)| located::key_text(id) == k.name)
                .map_or((0, 0), |(id, body)| {
                    (id.pos.line, located::last_line(body).max(id.pos.line))
                })
        })
        .collect()
}

/// A bare key policy, or `{"Policy": "…"}` as `aws kms get-key-policy` prints it.
fn policy(
    root: &Located,
    path: &Path,
    settings: &Settings,
) -> Option<Result<DeclaredKey, InputError>> {
    let at = |n: &Located| Location::at(n.pos.line, n.pos.column);
    let declared = if let Some(statements) = root.get("Statement") {
        let positions = match &statements.node {
            Node::Seq(items) => items.iter().map(at).collect(),
            _ => vec![at(statements)],
        };
        DeclaredPolicy {
            text: located::to_json(root).to_string(),
            at: at(root),
            statements: positions,
            unresolved: Vec::new(),
        }
    } else if let Some(inner) = root.get("Policy").and_then(Located::as_str) {
        let value: serde_json::Value = match located::policy_json(inner) {
            Ok(v) => v,
            Err(e) => {
                return Some(Err(InputError {
                    message: format!("Policy is not JSON: {e}"),
                    at: at(root.get("Policy").expect("just found")),
                }));
            }
        };
        let n = value
            .get("Statement")
            .map_or(0, |s| s.as_array().map_or(1, Vec::len));
        let where_ = at(root.get("Policy").expect("just found"));
        DeclaredPolicy {
            text: value.to_string(),
            at: where_,
            statements: vec![where_; n],
            unresolved: Vec::new(),
        }
    } else {
        return None;
    };
    let account = key_account(settings, Some(&declared));
    Some(Ok(DeclaredKey {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        resource_type: ResourceType::PolicyDocument,
        at: declared.at,
        policy: PolicyDecl::Stated(declared),
        before: None,
        bypass: None,
        account,
        partition: settings.partition.clone(),
        account_known: settings.account_given,
        ignores: Vec::new(),
    }))
}

/// Memory that inputs read at once may take, estimated from their sizes: a large plan is read
/// alone, however many threads there are, so that four 60 MB plans do not take four times what
/// one does.
const READ_BUDGET: u64 = 512 << 20;

/// What reading and judging a file of `bytes` takes at most, about: its text, and the parsed
/// document (a JSON or YAML tree of a plan or template takes several times its text).
fn read_cost(bytes: u64) -> u64 {
    bytes.saturating_mul(12).clamp(1, READ_BUDGET)
}

/// The memory left to readers, shared: each takes its file's cost before reading and gives it
/// back after.
struct Budget {
    left: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
}

impl Budget {
    /// Waits until `cost` is free, and holds it until the guard is dropped (a reader that
    /// panics gives it back too).
    fn take(&self, cost: u64) -> Held<'_> {
        let mut left = self
            .left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *left < cost {
            left = self
                .freed
                .wait(left)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *left -= cost;
        Held { budget: self, cost }
    }
}

struct Held<'b> {
    budget: &'b Budget,
    cost: u64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self
            .budget
            .left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += self.cost;
        self.budget.freed.notify_all();
    }
}

/// Reads every input on `threads` threads (0: one per core); the result is in input order.
pub fn read_all(inputs: &[Input], settings: &Settings, threads: usize) -> Vec<InputFile> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(inputs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<InputFile>> = Vec::new();
    slots.resize_with(inputs.len(), || None);
    let slots = std::sync::Mutex::new(slots);
    let budget = Budget {
        left: std::sync::Mutex::new(READ_BUDGET),
        freed: std::sync::Condvar::new(),
    };
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // Reading a template recurses as deep as the document nests (bounded by
            // `located::MAX_DEPTH`): room for that, in debug builds too.
            let worker = std::thread::Builder::new().stack_size(16 << 20);
            let spawned = worker.spawn_scoped(scope, || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let size = std::fs::metadata(&input.path).map_or(0, |m| m.len());
                    let cost = read_cost(size.min(MAX_INPUT_BYTES));
                    let held = budget.take(cost);
                    let read = read_input(input, settings);
                    drop(held);
                    slots.lock().expect("slots")[i] = read;
                }
            });
            spawned.expect("a reader thread starts");
        }
    });
    slots
        .into_inner()
        .expect("slots")
        .into_iter()
        .flatten()
        .collect()
}
