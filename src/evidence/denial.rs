//! AWS's AccessDenied messages, read for the layer that decided. The IAM User Guide
//! ("Troubleshooting access denied error messages") documents two phrases: `because no <type>
//! allows the <action> action` for an implicit deny, `with an explicit deny in a <type>` for an
//! explicit one; and that an SCP's denial may read `due to an explicit deny in a Service Control
//! Policy` even when it is implicit. Anything else is `unknown`: never a guess.

use crate::diagnosis::model::{Denial, PolicyType};

/// The policy types as the messages name them, longest first where one contains another.
const TYPES: [(&str, PolicyType); 7] = [
    ("identity-based policy", PolicyType::Identity),
    ("resource-based policy", PolicyType::Resource),
    ("service control policy", PolicyType::Scp),
    ("resource control policy", PolicyType::Rcp),
    ("permissions boundary", PolicyType::PermissionsBoundary),
    ("session policy", PolicyType::Session),
    ("vpc endpoint policy", PolicyType::VpcEndpoint),
];

/// What an AccessDenied message says of its cause.
pub fn denial_of(message: &str) -> Denial {
    let m = message.to_ascii_lowercase();
    let named = |after: &str| {
        TYPES
            .iter()
            .find(|(words, _)| after.starts_with(words))
            .map(|(_, t)| *t)
    };
    let phrase = |p: &str| m.find(p).map(|i| &m[i + p.len()..]);
    // "due to an explicit deny in a Service Control Policy" may stand for an implicit deny too.
    if let Some(t) = phrase("due to an explicit deny in a ").and_then(named) {
        return Denial {
            policy_type: t,
            explicit: (t != PolicyType::Scp).then_some(true),
        };
    }
    for p in [
        "with an explicit deny in a ",
        "with an explicit deny in an ",
    ] {
        if let Some(after) = phrase(p) {
            return Denial {
                policy_type: named(after).unwrap_or(PolicyType::Unknown),
                explicit: Some(true),
            };
        }
    }
    if let Some(t) = phrase("because no ").and_then(named)
        && m.contains(" allows the ")
    {
        return Denial {
            policy_type: t,
            explicit: Some(false),
        };
    }
    if m.contains("with an explicit deny") {
        return Denial {
            policy_type: PolicyType::Unknown,
            explicit: Some(true),
        };
    }
    Denial {
        policy_type: PolicyType::Unknown,
        explicit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "User: arn:aws:sts::111122223333:assumed-role/Admin/alice is not authorized to perform: kms:GetKeyPolicy on resource: arn:aws:kms:us-east-1:111122223333:key/k";

    fn d(t: PolicyType, explicit: Option<bool>) -> Denial {
        Denial {
            policy_type: t,
            explicit,
        }
    }

    #[test]
    fn every_documented_phrase_and_type() {
        for (words, t) in TYPES {
            let implicit = format!("{USER} because no {words} allows the kms:GetKeyPolicy action");
            assert_eq!(denial_of(&implicit), d(t, Some(false)), "{implicit}");
            let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            let explicit = format!("{USER} with an explicit deny in {article} {words}");
            assert_eq!(denial_of(&explicit), d(t, Some(true)), "{explicit}");
        }
        // AWS capitalises as it likes.
        assert_eq!(
            denial_of(&format!(
                "{USER} with an explicit deny in a VPC endpoint policy"
            )),
            d(PolicyType::VpcEndpoint, Some(true))
        );
    }

    #[test]
    fn an_scp_said_explicit_may_be_implicit() {
        assert_eq!(
            denial_of(&format!(
                "{USER} due to an explicit deny in a Service Control Policy"
            )),
            d(PolicyType::Scp, None)
        );
    }

    #[test]
    fn anything_else_is_unknown_never_a_guess() {
        assert_eq!(denial_of(USER), d(PolicyType::Unknown, None));
        assert_eq!(denial_of("Access Denied"), d(PolicyType::Unknown, None));
        assert_eq!(
            denial_of(&format!("{USER} with an explicit deny")),
            d(PolicyType::Unknown, Some(true))
        );
        assert_eq!(
            denial_of(&format!("{USER} because no magic policy allows it")),
            d(PolicyType::Unknown, None)
        );
    }
}
