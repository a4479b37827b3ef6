//! `kms-doctor check`: the key policies a template, a plan or a policy file would deploy, judged
//! before they ship. The same rules as `scan` (for nobody in particular, nothing known to be
//! deleted), plus what only a change can break: the principal that deploys the next change
//! (`--deployer`), the principals that must keep access (`--keep`), and the restorers a change
//! takes away (a plan's before and after, or `--against OLD`). Pure.

use super::case::{KeyCase, PolicyScope};
use super::judge::judge;
use super::model::PolicyDecl;
use super::model::{
    CheckReport, CheckSummary, CheckedFile, CheckedResource, Code, ConfigIgnore, DeclaredKey,
    DeclaredPolicy, Finding, InputFile, LocatedFinding, Removal, Removed, SCHEMA_VERSION, Severity,
    SourceKind, Suppression, SuppressionKind, Text, code, fingerprint, sort_findings,
};
use super::verdict::key_policy_cause;
use crate::diagnosis::model::ResourceType;
use crate::policy::{
    Context, Effect, GET_KEY_POLICY, Identity, KeyPolicy, PUT_KEY_POLICY, evaluate_for,
};
use crate::text;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `--deployer`: the principal that deploys changes (a CI role).
    pub deployer: Option<Identity>,
    /// `--keep`: principals that must keep `kms:PutKeyPolicy`.
    pub keep: Vec<Identity>,
    /// `--against OLD`: the policy in force now, for a policy file.
    pub against: Option<DeclaredPolicy>,
    /// `--scp`, `--rcp`: the organisation's policies that apply.
    pub org: crate::policy::OrgPolicies,
    /// Findings `.kms-doctor.toml` accepts.
    pub ignores: Vec<ConfigIgnore>,
    /// `--baseline`: the fingerprints of findings known before.
    pub baseline: BTreeSet<String>,
    /// `--keys FILE` or `--live`: the keys that exist, with their policies, judged against the
    /// principals the change removes.
    pub existing: Option<super::model::ScanEvidence>,
    /// `--org-id`: the organisation the keys' principals are in (`aws:PrincipalOrgID`).
    pub org_id: Option<String>,
    /// `--region`, when one was given: where the keys are deployed, so every request about
    /// them asks for it (`aws:RequestedRegion`). The default Region decides nothing.
    pub region: Option<String>,
}

impl CheckOptions {
    /// What is known of every request about a declared key (`judge::known_context`).
    fn known(&self) -> Context {
        super::judge::known_context(
            self.org_id
                .as_ref()
                .map(|id| super::model::OrgEvidence {
                    id: Some(id.clone()),
                    ..Default::default()
                })
                .as_ref(),
            self.region.as_deref(),
        )
    }
}

pub fn check(
    files: &[InputFile],
    opts: &CheckOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> CheckReport {
    let mut summary = CheckSummary::default();
    let mut checked: Vec<CheckedFile> = files
        .iter()
        .map(|f| {
            let resources: Vec<CheckedResource> = f
                .keys
                .iter()
                .map(|k| {
                    let mut findings = check_key(k, f.kind, opts, now);
                    for l in &mut findings {
                        l.finding.suppressed = suppression(&f.path, k, l.finding.code, opts);
                    }
                    findings.sort_by_key(|l| (l.finding.severity, l.line, l.finding.code));
                    CheckedResource {
                        name: k.name.clone(),
                        resource_type: k.resource_type,
                        line: k.at.line,
                        findings,
                    }
                })
                .collect();
            CheckedFile {
                path: f.path.clone(),
                kind: f.kind,
                resources,
                error: f.error.as_ref().map(|e| e.message.clone()),
                error_location: f.error.as_ref().map(|e| e.at),
            }
        })
        .collect();
    before_you_delete(files, opts, now, &mut checked, &mut summary);
    for f in &checked {
        summary.files += 1;
        summary.unreadable += u64::from(f.error.is_some());
        summary.resources += f.resources.len() as u64;
        for l in f.resources.iter().flat_map(|r| &r.findings) {
            if !l.counts() {
                summary.suppressed += 1;
                continue;
            }
            match l.finding.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => {}
            }
        }
    }
    let findings = existing_keys_findings(files, opts, &summary);
    for f in &findings {
        match f.severity {
            Severity::Error => summary.errors += 1,
            Severity::Warning => summary.warnings += 1,
            Severity::Info => {}
        }
    }
    CheckReport {
        schema_version: SCHEMA_VERSION,
        files: checked,
        summary,
        findings,
        config: None,
    }
}

/// How a declared key's policy is judged: in its account as far as known, before deployment,
/// under the organisation's policies given.
fn declared_scope<'a>(key: &'a DeclaredKey, opts: &'a CheckOptions) -> PolicyScope<'a> {
    PolicyScope {
        account: &key.account,
        account_known: key.account_known,
        partition: &key.partition,
        key_arn: None,
        source: SourceKind::None,
        org: super::case::OrgScope {
            policies: Some(&opts.org).filter(|o| !o.is_empty()),
            // A declared key is a customer managed key.
            exempt_key: opts
                .org
                .exempts_key(key.account_known.then_some(key.account.as_str()), false),
        },
    }
}

/// What the read of the keys that exist could not examine (the scan's own `scan-incomplete`),
/// and the keys whose policy it could not learn: a partial answer is never an all clear.
fn existing_keys_findings(
    files: &[InputFile],
    opts: &CheckOptions,
    summary: &CheckSummary,
) -> Vec<Finding> {
    let Some(ev) = &opts.existing else {
        return Vec::new();
    };
    let mut out = super::scan::coverage_findings(ev, !opts.org.is_empty());
    // A principal removed from an account the keys were not read in: what its keys lose is
    // not known, and silence would read as "nothing".
    let outside: BTreeSet<String> = files
        .iter()
        .flat_map(|f| &f.removed)
        .filter_map(|r| match &r.principal {
            super::model::RemovedPrincipal::Iam { arn } => Identity::parse(arn)
                .ok()
                .and_then(|i| i.account().map(str::to_owned)),
            super::model::RemovedPrincipal::PermissionSet { account, .. } => account.clone(),
        })
        .filter(|a| !ev.accounts.iter().any(|x| x == a))
        .collect();
    if !outside.is_empty() {
        out.push(
            Finding::new(
                Code::ScanIncomplete,
                text!(
                    "The keys of ",
                    Text::join(outside.iter().map(|a| Text::code(a.clone())), ", "),
                    " were not read: the change removes principals there"
                ),
            )
            .detail("The keys that exist were read (--keys, --live) in other accounts only: what the change takes from this account's keys is not known.")
            .help("Scan those accounts too (`kms-doctor scan --accounts ID --save-evidence FILE`, or `check --live` with credentials that reach them)."),
        );
    }
    // A permission set removed from every account it is provisioned in: its roles are in
    // accounts the read may not have reached (IAM Identity Center creates one role per account
    // assignment), unless it read the whole organisation.
    let everywhere: Vec<Text> = files
        .iter()
        .flat_map(|f| &f.removed)
        .filter_map(|r| match &r.principal {
            super::model::RemovedPrincipal::PermissionSet {
                name,
                account: None,
            } => Some(Text::code(name.clone())),
            _ => None,
        })
        .collect();
    if !everywhere.is_empty() && !ev.whole_organization {
        out.push(
            Finding::new(
                Code::ScanIncomplete,
                text!(
                    "The permission set ",
                    Text::join(everywhere, ", "),
                    " may be provisioned in accounts whose keys were not read"
                ),
            )
            .detail(text!(
                "Its roles exist in every account it is assigned to; the keys of ",
                Text::join(ev.accounts.iter().map(|a| Text::code(a.to_string())), ", "),
                " only were read: what its removal takes from the others is not known."
            ))
            .help("Read every account of the organisation: `check --live --org`, or `kms-doctor scan --org --save-evidence FILE` then `check --keys FILE`."),
        );
    }
    if summary.principals_removed > 0 && summary.existing_keys_unknown > 0 {
        // Not read is not none: a gate that cannot say what the change takes must not pass.
        out.push(
            Finding::new(
                Code::ScanIncomplete,
                text!(
                    "What the change takes from ",
                    super::model::counted(summary.existing_keys_unknown, "existing key", "existing keys"),
                    " is unknown: their policy could not be learned"
                ),
            )
            .detail("Their key policy was denied or could not be read, and CloudTrail did not give it: they may rest on the principals the change removes.")
            .help("Run `kms-doctor scan --without ARN` with a principal that can read those policies, or `kms-doctor diagnose KEY`."),
        );
    }
    out
}

/// What the principals the change removes take from the keys declared in the inputs and from
/// the keys that exist (`--keys`, `--live`): each finding is located at the resource that
/// removes the principal.
fn before_you_delete(
    files: &[InputFile],
    opts: &CheckOptions,
    now: chrono::DateTime<chrono::Utc>,
    checked: &mut [CheckedFile],
    summary: &mut CheckSummary,
) {
    let mut removed = Vec::new();
    let mut file_of = Vec::new();
    for (i, f) in files.iter().enumerate() {
        removed.extend(f.removed.iter().cloned());
        file_of.extend(std::iter::repeat_n(i, f.removed.len()));
    }
    summary.principals_removed = removed.len() as u64;
    if removed.is_empty() {
        return;
    }
    let mut found: Vec<(Finding, &Removed)> = Vec::new();
    for (f, key) in files
        .iter()
        .flat_map(|f| f.keys.iter().map(move |k| (f, k)))
    {
        let PolicyDecl::Stated(declared) = &key.policy else {
            continue;
        };
        let Ok(policy) = KeyPolicy::parse(&declared.text) else {
            continue;
        };
        let name = text!(code(key.name.clone()), " (", code(f.path.clone()), ")");
        // A policy the change puts again names the principals as they are then: a replaced one
        // is the new one. Only a policy left as it was keeps the old unique ID.
        let put_again = key.before.as_ref().is_none_or(|b| b.text != declared.text);
        let removals: Vec<Removed> = removed
            .iter()
            .filter(|r| !(put_again && r.how == Removal::Replaced))
            .cloned()
            .collect();
        let impact = super::without::impact(
            &name,
            &KeyCase::lockout(Some(&policy), declared_scope(key, opts), now),
            &removals,
        );
        // Located by the removal each finding came from, in the full list.
        for (finding, r) in impact.findings {
            let same = removed
                .iter()
                .find(|x| x.by == r.by && x.principal == r.principal)
                .expect("a removal of the list");
            found.push((finding, same));
        }
    }
    if let Some(ev) = &opts.existing {
        let org = Some(&opts.org).filter(|o| !o.is_empty());
        for (_, impact) in super::scan::impacts(ev, org, &removed, now) {
            summary.existing_keys += 1;
            match impact {
                Some(impact) => found.extend(impact.findings),
                None => summary.existing_keys_unknown += 1,
            }
        }
    }
    let mut by_resource: BTreeMap<(usize, usize), Vec<LocatedFinding>> = BTreeMap::new();
    for (finding, r) in found {
        let index = removed
            .iter()
            .position(|x| std::ptr::eq(x, r))
            .expect("a removal of the list");
        let at = r.at;
        let resource = removed
            .iter()
            .position(|x| x.by == r.by)
            .expect("itself at least");
        by_resource
            .entry((file_of[index], resource))
            .or_default()
            .push(LocatedFinding {
                finding,
                line: at.line,
                column: at.column,
            });
    }
    for ((file, resource), mut findings) in by_resource {
        let r = &removed[resource];
        let path = &checked[file].path;
        let as_key = DeclaredKey {
            name: r.by.clone(),
            ..DeclaredKey::default()
        };
        for l in &mut findings {
            l.finding.suppressed = suppression(path, &as_key, l.finding.code, opts);
        }
        findings.sort_by_key(|l| (l.finding.severity, l.finding.code));
        checked[file].resources.push(CheckedResource {
            name: r.by.clone(),
            resource_type: r.resource_type,
            line: r.at.line,
            findings,
        });
    }
}

/// Whether a finding of `key` in `path` is accepted: in the input itself first, then by the
/// configuration file, then by the baseline.
fn suppression(
    path: &str,
    key: &DeclaredKey,
    code: Code,
    opts: &CheckOptions,
) -> Option<Suppression> {
    let inline = key
        .ignores
        .iter()
        .find(|i| i.code == code)
        .map(|i| Suppression {
            kind: i.kind,
            reason: i.reason.clone(),
        });
    let config = || {
        opts.ignores
            .iter()
            .find(|i| {
                i.code.is_none_or(|c| c == code)
                    && (i.paths.is_empty()
                        || i.paths
                            .iter()
                            .any(|g| wildmatch::WildMatch::new(g).matches(path)))
                    && (i.resources.is_empty() || i.resources.contains(&key.name))
            })
            .map(|i| Suppression {
                kind: SuppressionKind::Config,
                reason: i.reason.clone(),
            })
    };
    let baseline = || {
        opts.baseline
            .contains(&fingerprint(path, &key.name, code))
            .then(|| Suppression {
                kind: SuppressionKind::Baseline,
                reason: "known before: in the baseline".to_owned(),
            })
    };
    inline.or_else(config).or_else(baseline)
}

/// Where a finding points: its statement, else the policy, else the resource.
fn place(f: Finding, key: &DeclaredKey, policy: Option<&DeclaredPolicy>) -> LocatedFinding {
    let at = f
        .statement
        .and_then(|i| policy.and_then(|p| p.statements.get(i)).copied())
        .filter(|l| l.line.is_some())
        .or_else(|| policy.map(|p| p.at).filter(|l| l.line.is_some()))
        .unwrap_or(key.at);
    LocatedFinding {
        finding: f,
        line: at.line,
        column: at.column,
    }
}

fn check_key(
    key: &DeclaredKey,
    kind: Option<super::model::InputKind>,
    opts: &CheckOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<LocatedFinding> {
    let mut out = Vec::new();
    if let Some(at) = key.bypass {
        out.push(LocatedFinding {
            line: at.line.or(key.at.line),
            column: at.column.or(key.at.column),
            finding: bypass_set(key.resource_type),
        });
    }
    let declared = match &key.policy {
        PolicyDecl::Stated(declared) => declared,
        // KMS's default policy delegates to the account: nothing to say.
        PolicyDecl::KmsDefault => return out,
        PolicyDecl::KnownAfterApply => {
            out.push(place(
                Finding::new(Code::EvidenceIncomplete, "The key policy is not checked: the policy is known only after apply")
                    .detail("kms-doctor checks the policy a template or plan states. Run the check again on the plan once the policy is known, or on the policy document itself."),
                key,
                None,
            ));
            return out;
        }
    };
    let policy = match KeyPolicy::parse(&declared.text) {
        Ok(p) => p,
        Err(e) => {
            out.push(place(
                Finding::new(
                    Code::EvidenceIncomplete,
                    "The key policy would be refused by KMS",
                )
                .detail(text!(
                    "It does not parse as a key policy: ",
                    code(e.to_string()),
                    ". KMS rejects it with MalformedPolicyDocumentException; nothing else is checked."
                ))
                .help("Fix the policy; `kms-doctor explain --policy FILE` shows where."),
                key,
                Some(declared),
            ));
            return out;
        }
    };
    // A principal that cannot be known offline may be the restorer: say so rather than call
    // the key locked out.
    let unresolved_admin = policy.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.covers_action(PUT_KEY_POLICY)
            && s.principals.entries().iter().any(|e| e.raw.contains("${"))
    });
    let known = opts.known();
    let judged = judge(&KeyCase {
        undecided: unresolved_admin,
        context: &known,
        ..KeyCase::lockout(Some(&policy), declared_scope(key, opts), now)
    });
    // Who else could update the policy once it is deployed (for the loss findings' words).
    let others_remain = judged.restorers.any_counts();
    let account = key.account_known.then_some(key.account.as_str());
    let held = judged.restorers.held();
    let mut findings: Vec<Finding> = judged
        .findings
        .into_iter()
        .map(|f| before_deployment(f, &key.partition, account, held))
        .collect();
    if !declared.unresolved.is_empty() {
        findings.push(
            Finding::new(
                Code::EvidenceIncomplete,
                "Some values cannot be known before deployment",
            )
            .detail(text!(
                "They stand in the policy as ${…} and are checked as unknown: ",
                Text::join(declared.unresolved.iter().map(|u| Text::code(u.clone())), ", "),
                if unresolved_admin {
                    ". A statement that may let one of them update the policy is one kms-doctor cannot judge, so no-restorer and single-restorer are not reported."
                } else {
                    "."
                }
            ))
            .help("Give --account for AWS::AccountId; give parameters a Default, or check the policy as deployed (`kms-doctor diagnose`)."),
        );
    }
    for who in opts
        .deployer
        .iter()
        .map(|d| (d, Code::DeployerLosesAccess))
        .chain(
            opts.keep
                .iter()
                .map(|k| (k, Code::KeptPrincipalLosesAccess)),
        )
    {
        if let Some(f) = loses_access(&policy, who.0, who.1, others_remain, &known, now) {
            findings.push(f);
        }
    }
    let before = match (&key.before, kind) {
        (Some(b), _) => Some(b),
        (None, Some(super::model::InputKind::Policy)) => opts.against.as_ref(),
        _ => None,
    };
    if let Some(before) = before {
        findings.extend(restorers_removed(before, declared, &key.account, now));
    }
    sort_findings(&mut findings);
    out.extend(findings.into_iter().map(|f| place(f, key, Some(declared))));
    out
}

fn bypass_set(resource_type: ResourceType) -> Finding {
    let flag = if resource_type.is_terraform() {
        "bypass_policy_lockout_safety_check = true"
    } else {
        "BypassPolicyLockoutSafetyCheck: true"
    };
    Finding::new(
        Code::LockoutCheckBypassed,
        text!("The key policy is deployed with ", code(flag)),
    )
    .detail(
        "KMS refuses a policy that would stop the caller from changing it again, unless this \
         flag turns the check off. With it, a mistake in the policy ships, and locks everyone \
         out until AWS Support restores access.",
    )
    .help(text!(
        "Remove ",
        code(flag),
        " (it defaults to false); if the deploying role is not meant to keep access, check the \
         policy with --keep for the principals that must."
    ))
}

/// `deployer-loses-access` / `kept-principal-loses-access`: the key policy would not let `who`
/// call `kms:PutKeyPolicy`.
/// A finding about a policy not yet deployed, in the words of a change under review: what the
/// change *would* do, and a fix to the template (the key's account filled in when known);
/// AWS Support is for keys already locked out.
fn before_deployment(
    mut f: Finding,
    partition: &str,
    account: Option<&str>,
    held_by_organization: bool,
) -> Finding {
    let root = format!("arn:{partition}:iam::{}:root", account.unwrap_or("ACCOUNT"));
    if f.code == Code::NoRestorer {
        f.title = "This policy would leave no principal able to update the key policy".into();
        f.detail = "Once deployed, no statement would allow kms:PutKeyPolicy to an existing principal or to the account, once denies are applied: nobody in the account could change the policy again, and only AWS Support could restore access.".into();
        f.help = text!(
            "Change the template before it ships: keep the account delegation (",
            code(format!(
                "{{\"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"{root}\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"}}"
            )),
            ") or name a break-glass role for kms:PutKeyPolicy.",
            if held_by_organization {
                " The restorers it names are held by the organisation's SCPs or RCPs: the organisation's administrators can exempt one."
            } else {
                ""
            }
        );
    }
    f
}

fn loses_access(
    policy: &KeyPolicy,
    who: &Identity,
    rule: Code,
    others_remain: bool,
    known: &Context,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Finding> {
    let eval = evaluate_for(policy, who, PUT_KEY_POLICY, None, known, now);
    let cause = key_policy_cause(&eval)?;
    let name = || code(who.to_string());
    let why: Text = match cause {
        Code::KeyPolicyExplicitDeny => text!(
            "A Deny statement matches it for kms:PutKeyPolicy, and a Deny wins over every Allow."
        ),
        Code::ConditionNotMet => text!(
            "The statements that would allow it carry conditions it may not meet: ",
            Text::join(
                eval.unknown_context.iter().map(|k| Text::code(k.clone())),
                ", "
            ),
            "."
        ),
        Code::CrossAccountKey => text!(
            "It is in another account than the key, and kms:PutKeyPolicy never works cross-account."
        ),
        _ => text!(
            "No statement names it (or its role) for kms:PutKeyPolicy, and none delegates to the account, so its IAM policies cannot grant it."
        ),
    };
    let statement = eval
        .statements
        .iter()
        .find(|t| t.effect == Effect::Deny && t.applies != crate::policy::Applies::No)
        .map(|t| t.index);
    let (title, help): (Text, &'static str) = if rule == Code::DeployerLosesAccess {
        (
            text!(
                "The deploying principal ",
                name(),
                " could not update the key policy after this change"
            ),
            "Keep a statement that lets the deploying role call kms:PutKeyPolicy (or the account delegation, with an IAM policy for the role), or deploy the next change from a principal the new policy names.",
        )
    } else {
        (
            text!(name(), " would lose kms:PutKeyPolicy"),
            "Keep the statement that names it (a break-glass role must survive every change), or add it back.",
        )
    };
    let mut f = Finding::new(rule, title)
        .detail(text!(
            why,
            if others_remain {
                " Others the policy names could still update it."
            } else {
                " Nobody else could update it: only AWS Support could restore access."
            }
        ))
        .evidence([text!(
            "the key policy decides ",
            code(eval.decision.as_str()),
            " for ",
            name(),
            " calling kms:PutKeyPolicy"
        )])
        .help(help);
    f.statement = statement;
    Some(f)
}

/// `restorer-removed`: who loses `kms:GetKeyPolicy`/`kms:PutKeyPolicy`, and a removed
/// delegation.
fn restorers_removed(
    before: &DeclaredPolicy,
    after: &DeclaredPolicy,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Finding> {
    let diff =
        super::timeline::policy_diff(&before.text, &after.text, None, Some(account), now).ok()?;
    let lost: Vec<Text> = diff
        .lost
        .iter()
        .filter(|g| g.action == PUT_KEY_POLICY || g.action == GET_KEY_POLICY)
        .map(|g| text!(code(g.principal.clone()), " loses ", code(g.action.clone())))
        .collect();
    if lost.is_empty() && !diff.delegation_removed {
        return None;
    }
    let mut evidence = lost;
    if diff.delegation_removed {
        evidence.insert(
            0,
            text!(
                "the account delegation (",
                code(format!("arn:aws:iam::{account}:root")),
                ") is removed"
            ),
        );
    }
    for s in &diff.statements_removed {
        // The diff names a statement by its Sid (quoted) or by what it says.
        evidence.push(text!(code(s.clone()), " removed"));
    }
    Some(
        Finding::new(
            Code::RestorerRemoved,
            if diff.delegation_removed {
                text!("This change removes the account delegation: IAM policies no longer grant access to the key")
            } else {
                text!("This change takes kms:GetKeyPolicy or kms:PutKeyPolicy from principals that have it now")
            },
        )
        .detail("Fewer principals could read or repair the key policy after the change. If the last of them goes, only AWS Support can restore access.")
        .evidence(evidence)
        .help("Check that each principal that loses access is meant to, and that at least two administrators (or the delegation) remain."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::model::{InputKind, Location};

    const A: &str = "111122223333";

    fn key(policy: serde_json::Value) -> DeclaredKey {
        let n = policy["Statement"].as_array().map_or(0, Vec::len);
        DeclaredKey {
            name: "Key".into(),
            resource_type: ResourceType::CfnKmsKey,
            at: Location::at(3, 3),
            policy: PolicyDecl::Stated(DeclaredPolicy {
                text: policy.to_string(),
                at: Location::at(6, 7),
                statements: (0..n).map(|i| Location::at(8 + 10 * i, 11)).collect(),
                unresolved: Vec::new(),
            }),
            account: A.into(),
            account_known: true,
            partition: "aws".into(),
            ..DeclaredKey::default()
        }
    }

    fn file(keys: Vec<DeclaredKey>) -> InputFile {
        InputFile {
            path: "t.yaml".into(),
            kind: Some(InputKind::Cloudformation),
            keys,
            ..Default::default()
        }
    }

    fn codes(r: &CheckReport) -> Vec<(&'static str, Option<usize>)> {
        r.files[0].resources[0]
            .findings
            .iter()
            .map(|l| (l.finding.code.as_str(), l.line))
            .collect()
    }

    fn admin(principal: &str) -> serde_json::Value {
        serde_json::json!({"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"})
    }

    #[test]
    fn the_deployer_and_kept_principals_are_checked_with_their_statements() {
        let policy = serde_json::json!({"Statement": [
            admin(&format!("arn:aws:iam::{A}:role/Admin")),
            {"Sid": "no ci", "Effect": "Deny", "Principal": {"AWS": format!("arn:aws:iam::{A}:role/ci")}, "Action": "kms:*", "Resource": "*"}
        ]});
        let opts = CheckOptions {
            deployer: Some(Identity::parse(&format!("arn:aws:iam::{A}:role/ci")).unwrap()),
            keep: vec![
                Identity::parse(&format!("arn:aws:iam::{A}:role/Admin")).unwrap(),
                Identity::parse(&format!("arn:aws:iam::{A}:role/BreakGlass")).unwrap(),
            ],
            against: None,
            org: Default::default(),
            ..CheckOptions::default()
        };
        let r = check(&[file(vec![key(policy)])], &opts, chrono::Utc::now());
        let got = codes(&r);
        assert!(
            got.contains(&("deployer-loses-access", Some(18))),
            "at the Deny: {got:?}"
        );
        assert!(
            got.contains(&("kept-principal-loses-access", Some(6))),
            "BreakGlass, at the policy: {got:?}"
        );
        assert_eq!(
            got.iter()
                .filter(|(c, _)| *c == "kept-principal-loses-access")
                .count(),
            1,
            "Admin keeps it"
        );
        assert_eq!(
            crate::diagnosis::exit::check(&r, Some(Severity::Error)),
            crate::diagnosis::model::Exit::Findings
        );
    }

    #[test]
    fn a_plan_that_drops_the_delegation_removes_restorers() {
        let before = serde_json::json!({"Statement": [admin(&format!("arn:aws:iam::{A}:root")), admin(&format!("arn:aws:iam::{A}:role/Admin"))]});
        let after =
            serde_json::json!({"Statement": [admin(&format!("arn:aws:iam::{A}:role/Admin"))]});
        let mut k = key(after);
        k.before = Some(DeclaredPolicy {
            text: before.to_string(),
            ..DeclaredPolicy::default()
        });
        let r = check(
            &[file(vec![k])],
            &CheckOptions::default(),
            chrono::Utc::now(),
        );
        let got: Vec<&str> = codes(&r).into_iter().map(|(c, _)| c).collect();
        assert!(got.contains(&"restorer-removed"), "{got:?}");
        assert!(got.contains(&"single-restorer"), "{got:?}");
        assert!(got.contains(&"no-account-delegation"), "{got:?}");
    }

    #[test]
    fn an_unresolved_administrator_is_not_called_a_lockout() {
        let mut k =
            key(serde_json::json!({"Statement": [admin("${Fn::ImportValue Shared-Admin}")]}));
        k.policy.stated_mut().unwrap().unresolved = vec!["Fn::ImportValue Shared-Admin".into()];
        let r = check(
            &[file(vec![k])],
            &CheckOptions::default(),
            chrono::Utc::now(),
        );
        let got: Vec<&str> = codes(&r).into_iter().map(|(c, _)| c).collect();
        assert!(!got.contains(&"no-restorer"), "{got:?}");
        assert!(got.contains(&"evidence-incomplete"), "{got:?}");
    }

    #[test]
    fn an_unreadable_file_is_status_2() {
        let mut f = file(Vec::new());
        f.error = Some(crate::diagnosis::model::InputError {
            message: "bad".into(),
            at: Location::at(1, 1),
        });
        let r = check(&[f], &CheckOptions::default(), chrono::Utc::now());
        assert_eq!(
            crate::diagnosis::exit::check(&r, None),
            crate::diagnosis::model::Exit::Failure
        );
    }
}
