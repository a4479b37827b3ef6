//! Before you delete: what a key loses when principals go — a change that deletes or replaces
//! them (`check`), or the principals named with `--without` (`scan`, `diagnose`). The key's
//! restorers are judged twice, as they are and with those principals gone. Pure.

use super::case::{KeyCase, PolicyScope};
use super::judge::restorers;
use super::model::{Code, Finding, Removal, Removed, RemovedPrincipal, Restorer, Text, code};
use crate::policy::Identity;
use crate::text;

/// Whether the principal a key policy names (`named`, as the restorer list has it) is one that
/// `gone` removes. Roles and users match by account and name (IAM names are unique in an account
/// whatever their path, and case-insensitively); a role's sessions go with it; an account's
/// root only when the account itself is named.
pub fn removes(gone: &RemovedPrincipal, named: &str) -> bool {
    let Ok(named) = Identity::parse(named) else {
        return false;
    };
    match gone {
        RemovedPrincipal::Iam { arn } => {
            let Ok(gone) = Identity::parse(arn) else {
                return false;
            };
            match (&gone, &named) {
                (Identity::Account { account: a, .. }, Identity::Account { account: b, .. }) => {
                    a == b
                }
                (
                    Identity::User {
                        account: a,
                        name: x,
                        ..
                    },
                    Identity::User {
                        account: b,
                        name: y,
                        ..
                    },
                ) => a == b && x.eq_ignore_ascii_case(y),
                (Identity::Role { account: a, .. }, _) => {
                    named.account() == Some(a.as_str())
                        && gone
                            .role_name()
                            .zip(named.role_name())
                            .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
                }
                _ => false,
            }
        }
        RemovedPrincipal::PermissionSet { name, account } => {
            let Some(arn) = named.principal_arn().or_else(|| Some(named.to_string())) else {
                return false;
            };
            super::restore_paths::permission_set(&arn).is_some_and(|set| &set == name)
                && account
                    .as_deref()
                    .is_none_or(|a| named.account() == Some(a))
        }
    }
}

/// The restorers that count: not known to be gone, not held by the organisation's policies.
fn living(restorers: &[Restorer]) -> Vec<&str> {
    let mut names: Vec<&str> = restorers
        .iter()
        .filter(|r| r.counts())
        .map(|r| r.principal.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Who can update a key policy: the principals it names that count, and, while it delegates,
/// those IAM lets (`iam`, sorted, shared by the keys of the account: never copied per key),
/// less the ones going (`gone`). The two parts never share a principal (`via_iam`).
struct Living<'a> {
    named: Vec<&'a str>,
    iam: &'a [String],
    /// Indices into `iam` of principals that go, sorted.
    gone: Vec<usize>,
}

impl<'a> Living<'a> {
    fn len(&self) -> usize {
        self.named.len() + self.iam.len() - self.gone.len()
    }

    /// Every principal, sorted.
    fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        let mut named = self.named.iter().copied().peekable();
        let mut iam = self
            .iam
            .iter()
            .enumerate()
            .filter(|(i, _)| self.gone.binary_search(i).is_err())
            .map(|(_, p)| p.as_str())
            .peekable();
        std::iter::from_fn(move || match (named.peek(), iam.peek()) {
            (Some(a), Some(b)) if a <= b => named.next(),
            (_, Some(_)) => iam.next(),
            _ => named.next(),
        })
    }

    /// Only the account's root user (of last resort): no user or role.
    fn root_only(&self) -> bool {
        self.len() == self.named.len()
            && self
                .named
                .iter()
                .all(|p| matches!(Identity::parse(p), Ok(Identity::Account { .. })))
    }
}

/// What one key loses.
#[derive(Debug, Clone)]
pub struct Impact<'r> {
    /// Each finding with the removal it is located at (for `check`: the resource that
    /// removes the principal). Only the findings are kept: a scan of many keys, each with
    /// thousands of IAM restorers, must not hold every list.
    pub findings: Vec<(Finding, &'r Removed)>,
}

/// What `removed` takes from the key named `key` (its ARN, or where a template declares it):
/// `removes-last-restorer`, `recreation-orphans-principal`, `removes-restorer`. Empty when no
/// principal that can update the policy goes.
///
/// When the account's authorization details were read whole, the delegation is the users and
/// roles whose IAM policies let them update the policy, and the account's root user (a last
/// resort: its own credentials); not known, the delegation stands for any administrator, and
/// stays.
pub fn impact<'r>(key: &Text, case: &KeyCase, removed: &'r [Removed]) -> Impact<'r> {
    let scope = &case.scope;
    let judged_before = restorers(case);
    let iam = judged_before.through_iam();
    let through = |rs: &[Restorer]| -> &[String] {
        match iam {
            Some(via) if super::model::delegates(rs) => &via.living,
            _ => &[],
        }
    };
    let before = Living {
        named: living(judged_before.named()),
        iam: through(judged_before.named()),
        gone: Vec::new(),
    };
    // Each principal that goes with the removal that takes it, by name then removal: those
    // through IAM found by name, not by comparing every one.
    let mut hits: Vec<(&str, usize, &Removed)> = Vec::new();
    for (at, r) in removed.iter().enumerate() {
        hits.extend(
            before
                .named
                .iter()
                .filter(|named| removes(&r.principal, named))
                .map(|named| (*named, at, r)),
        );
        if let Some(via) = iam.filter(|_| !before.iam.is_empty()) {
            hits.extend(
                via.candidates(&r.principal)
                    .into_iter()
                    .map(|i| via.living[i].as_str())
                    .filter(|named| removes(&r.principal, named))
                    .map(|named| (named, at, r)),
            );
        }
    }
    hits.sort_by_key(|(named, at, _)| (*named, *at));
    let mut out = Impact {
        findings: Vec::new(),
    };
    if hits.is_empty() {
        return out;
    }
    let mut gone = case.clone();
    for (named, _, _) in &hits {
        gone.existence.insert(named, Some(false));
    }
    let judged_after = restorers(&gone);
    let after_iam = through(judged_after.named());
    let mut gone_iam: Vec<usize> = hits
        .iter()
        .filter_map(|(named, _, _)| after_iam.binary_search_by(|p| p.as_str().cmp(named)).ok())
        .collect();
    gone_iam.sort_unstable();
    gone_iam.dedup();
    let after = Living {
        named: living(judged_after.named()),
        iam: after_iam,
        gone: gone_iam,
    };
    let words = Words::new(
        key,
        scope,
        iam.is_some(),
        super::model::delegates(judged_after.named()),
        (&before, &after),
    );
    for (named, _, r) in hits.iter().filter(|(_, _, r)| r.how == Removal::Replaced) {
        out.findings.push((words.replaced(named, r), *r));
    }
    let deleted: Vec<&(&str, usize, &Removed)> = hits
        .iter()
        .filter(|(_, _, r)| r.how == Removal::Deleted)
        .collect();
    if let Some((_, _, first)) = deleted.first() {
        let mut named: Vec<&str> = deleted.iter().map(|(n, _, _)| *n).collect();
        named.dedup();
        if let Some(f) = words.deleted(&named) {
            out.findings.push((f, *first));
        }
    }
    out
}

/// Principals named in a finding at most: an account with thousands of IAM administrators
/// gives their number, not every name in every key's finding.
const NAMES_SHOWN: usize = 10;

/// Principals, the first [`NAMES_SHOWN`] by name and the others counted.
fn names(all: &Living) -> Text {
    let mut shown: Vec<Text> = all
        .iter()
        .take(NAMES_SHOWN)
        .map(|p| Text::code(p.to_string()))
        .collect();
    if all.len() > NAMES_SHOWN {
        shown.push(text!(
            "and ",
            super::model::count((all.len() - NAMES_SHOWN) as u64),
            " more"
        ));
    }
    Text::join(shown, ", ")
}

/// What the findings of one key say: who can update its policy now and after, and how to keep
/// access.
struct Words {
    key: Text,
    today: Text,
    remaining: Text,
    keep_access: Text,
    /// No one would remain.
    last: bool,
    /// One would remain, or only the root user (of last resort).
    one_left: bool,
}

impl Words {
    fn new(
        key: &Text,
        scope: &PolicyScope,
        iam_known: bool,
        delegates_after: bool,
        (before, after): (&Living, &Living),
    ) -> Words {
        // The account delegation that stays is any IAM administrator of the account, many,
        // unless the authorization details say who they are: then its root user is one, of
        // last resort.
        let whole_account_stays = !iam_known && delegates_after;
        let root_only = iam_known && after.root_only();
        let remaining: Text = if after.len() == 0 {
            "none".into()
        } else {
            names(after)
        };
        let root = format!("arn:{}:iam::{}:root", scope.partition, scope.account);
        Words {
            key: key.clone(),
            today: names(before),
            remaining,
            keep_access: text!(
                "Before the change applies, let another principal that stays update the key policy: the account delegation (",
                code(format!(
                    "{{\"Sid\": \"Enable IAM User Permissions\", \"Effect\": \"Allow\", \"Principal\": {{\"AWS\": \"{root}\"}}, \"Action\": \"kms:*\", \"Resource\": \"*\"}}"
                )),
                ") or a break-glass role; or keep the principal."
            ),
            last: after.len() == 0,
            one_left: (after.len() <= 1 || root_only) && !whole_account_stays,
        }
    }

    /// `recreation-orphans-principal`: an error when no one would remain.
    fn replaced(&self, named: &str, r: &Removed) -> Finding {
        let mut f = Finding::new(
            Code::RecreationOrphansPrincipal,
            text!(
                code(r.by.clone()),
                " replaces ",
                code(named.to_string()),
                ", which the policy of ",
                self.key.clone(),
                " names: the policy will hold the old unique ID"
            ),
        )
        .detail(text!(
            "A principal deleted and created again has a new unique ID; KMS keeps the old one, so the key policy matches nothing (it shows an AROA… or AIDA… ID in its place). Principals that can update the policy now: ",
            self.today.clone(),
            "; after the change: ",
            self.remaining.clone(),
            if self.last {
                ". No one could update it: only AWS Support could restore access."
            } else {
                "."
            }
        ))
        .help(text!(
            "Avoid the replacement (keep the name and path), or have a principal that stays put the key policy again after the change, naming the new one. ",
            self.keep_access.clone()
        ));
        if !self.last {
            f.severity = super::model::Severity::Warning;
        }
        f
    }

    /// `removes-last-restorer`, or `removes-restorer` when one (or only the root user) would
    /// remain; nothing when more would.
    fn deleted(&self, named: &[&str]) -> Option<Finding> {
        let names = Text::join(named.iter().map(|n| Text::code(n.to_string())), ", ");
        if self.last {
            Some(
                Finding::new(
                    Code::RemovesLastRestorer,
                    text!(
                        "Removing ",
                        names,
                        " would leave no principal able to update the policy of ",
                        self.key.clone()
                    ),
                )
                .detail(text!(
                    "Principals that can update the key policy now: ",
                    self.today.clone(),
                    ". Once they are gone no one could, and only AWS Support could restore access."
                ))
                .help(self.keep_access.clone()),
            )
        } else if self.one_left {
            Some(
                Finding::new(
                    Code::RemovesRestorer,
                    text!(
                        "Removing ",
                        names,
                        " leaves one principal able to update the policy of ",
                        self.key.clone()
                    ),
                )
                .detail(text!(
                    "Principals that can update the key policy now: ",
                    self.today.clone(),
                    "; after the change only ",
                    self.remaining.clone(),
                    ": one more removal would lock the key out."
                ))
                .help(
                    "Name a second administrator (a break-glass role) in the key policy, or keep the account delegation.",
                ),
            )
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::case::OrgScope;
    use crate::diagnosis::model::{Location, SourceKind};
    use crate::policy::KeyPolicy;

    const A: &str = "111122223333";

    fn policy(admins: &[&str]) -> KeyPolicy {
        KeyPolicy::parse(
            &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "Admins",
                "Effect": "Allow", "Principal": {"AWS": admins}, "Action": "kms:*", "Resource": "*"}]})
            .to_string(),
        )
        .unwrap()
    }

    fn gone(arn: &str, how: Removal) -> Removed {
        Removed {
            principal: RemovedPrincipal::Iam { arn: arn.into() },
            how,
            by: "aws_iam_role.x".into(),
            resource_type: crate::diagnosis::model::ResourceType::TfIamRole,
            at: Location::default(),
        }
    }

    fn codes(admins: &[&str], removed: &[Removed]) -> Vec<(Code, super::super::model::Severity)> {
        let scope = PolicyScope {
            account: A,
            account_known: true,
            partition: "aws",
            key_arn: None,
            source: SourceKind::Current,
            org: OrgScope::default(),
        };
        let policy = policy(admins);
        impact(
            &"k".into(),
            &KeyCase::lockout(Some(&policy), scope, chrono::Utc::now()),
            removed,
        )
        .findings
        .into_iter()
        .map(|(f, _)| (f.code, f.severity))
        .collect()
    }

    use super::super::model::Severity::{Error, Warning};

    #[test]
    fn deleting_the_only_admin_is_the_last_restorer() {
        let admin = "arn:aws:iam::111122223333:role/KeyAdmin";
        assert_eq!(
            codes(&[admin], &[gone(admin, Removal::Deleted)]),
            [(Code::RemovesLastRestorer, Error)]
        );
        // The path does not matter, nor the case of the name.
        assert_eq!(
            codes(
                &["arn:aws:iam::111122223333:role/ops/keyadmin"],
                &[gone(admin, Removal::Deleted)]
            ),
            [(Code::RemovesLastRestorer, Error)]
        );
    }

    #[test]
    fn replacing_an_admin_orphans_it() {
        let admin = "arn:aws:iam::111122223333:role/KeyAdmin";
        let other = "arn:aws:iam::111122223333:role/BreakGlass";
        assert_eq!(
            codes(&[admin], &[gone(admin, Removal::Replaced)]),
            [(Code::RecreationOrphansPrincipal, Error)]
        );
        assert_eq!(
            codes(&[admin, other], &[gone(admin, Removal::Replaced)]),
            [(Code::RecreationOrphansPrincipal, Warning)]
        );
    }

    #[test]
    fn one_of_two_is_a_warning_one_of_three_is_nothing() {
        let a = "arn:aws:iam::111122223333:role/A";
        let b = "arn:aws:iam::111122223333:user/B";
        let c = "arn:aws:iam::111122223333:role/C";
        assert_eq!(
            codes(&[a, b], &[gone(a, Removal::Deleted)]),
            [(Code::RemovesRestorer, Warning)]
        );
        assert!(codes(&[a, b, c], &[gone(a, Removal::Deleted)]).is_empty());
        // Another account's role of the same name is another role.
        assert!(
            codes(
                &[a],
                &[gone("arn:aws:iam::444455556666:role/A", Removal::Deleted)]
            )
            .is_empty()
        );
    }

    #[test]
    fn the_account_delegation_stays_unless_the_root_is_named() {
        let root = "arn:aws:iam::111122223333:root";
        let a = "arn:aws:iam::111122223333:role/A";
        assert!(codes(&[root, a], &[gone(a, Removal::Deleted)]).is_empty());
        assert_eq!(
            codes(&[root], &[gone(root, Removal::Deleted)]),
            [(Code::RemovesLastRestorer, Error)]
        );
    }

    #[test]
    fn a_permission_set_takes_its_reserved_roles() {
        let sso = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_KeyAdmins_0123456789abcdef";
        let set = |account: Option<&str>| Removed {
            principal: RemovedPrincipal::PermissionSet {
                name: "KeyAdmins".into(),
                account: account.map(str::to_owned),
            },
            ..gone("x", Removal::Deleted)
        };
        assert_eq!(
            codes(&[sso], &[set(None)]),
            [(Code::RemovesLastRestorer, Error)]
        );
        assert_eq!(
            codes(&[sso], &[set(Some(A))]),
            [(Code::RemovesLastRestorer, Error)]
        );
        assert!(codes(&[sso], &[set(Some("444455556666"))]).is_empty());
    }
}
