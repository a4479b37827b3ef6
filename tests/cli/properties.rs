//! Properties of the engine that must hold for every policy, checked on generated ones.

use chrono::{DateTime, Utc};
use kms_doctor::policy::{Context, Decision, Identity, KeyPolicy, evaluate_for};
use proptest::prelude::*;
use serde_json::{Value, json};

const A: &str = "111122223333";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn now() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn principal_value() -> impl Strategy<Value = Value> {
    let one = prop_oneof![
        Just(json!(format!("arn:aws:iam::{A}:root"))),
        Just(json!(A)),
        Just(json!(format!("arn:aws:iam::{A}:role/KeyAdmin"))),
        Just(json!(format!("arn:aws:iam::{A}:role/ops/Admin"))),
        Just(json!(format!("arn:aws:sts::{A}:assumed-role/Admin/alice"))),
        Just(json!(format!("arn:aws:iam::{A}:user/alice"))),
        Just(json!("AROAZ3EXAMPLEADMIN01")),
        Just(json!("arn:aws:iam::444455556666:root")),
        Just(json!("*")),
    ];
    prop_oneof![
        4 => prop::collection::vec(one, 1..3).prop_map(|v| json!({"AWS": v})),
        1 => Just(json!("*")),
        1 => Just(json!({"Service": "logs.amazonaws.com"})),
    ]
}

fn actions() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        prop::sample::select(vec![
            "kms:*",
            "*",
            "kms:Get*",
            "kms:Put*",
            "kms:PutKeyPolicy",
            "kms:GetKeyPolicy",
            "kms:*Policy",
            "kms:Decrypt",
            "kms:?etKeyPolicy",
        ]),
        1..4,
    )
    .prop_map(|v| json!(v))
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.4,
        prop_oneof![
            Just(json!({"StringEquals": {"kms:CallerAccount": A}})),
            Just(json!({"StringEquals": {"kms:CallerAccount": "444455556666"}})),
            Just(json!({"Bool": {"aws:SecureTransport": "true"}})),
            Just(json!({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}})),
            Just(json!({"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})),
            Just(json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
            Just(json!({"Null": {"aws:MultiFactorAuthAge": "false"}})),
        ],
    )
}

fn statement(effect: Option<&'static str>) -> impl Strategy<Value = Value> {
    let effect = match effect {
        Some(e) => Just(e).boxed(),
        None => prop::sample::select(vec!["Allow", "Deny"]).boxed(),
    };
    (
        effect,
        principal_value(),
        prop::bool::weighted(0.1),
        actions(),
        prop::bool::weighted(0.1),
        prop::sample::select(vec![
            "*".to_owned(),
            KEY.to_owned(),
            "arn:aws:kms:*:444455556666:key/*".to_owned(),
        ]),
        condition(),
    )
        .prop_map(
            |(effect, principal, not_p, actions, not_a, resource, cond)| {
                let mut s = serde_json::Map::new();
                s.insert("Effect".into(), json!(effect));
                s.insert(
                    if not_p { "NotPrincipal" } else { "Principal" }.into(),
                    principal,
                );
                s.insert(if not_a { "NotAction" } else { "Action" }.into(), actions);
                s.insert("Resource".into(), json!(resource));
                if let Some(c) = cond {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
}

fn policy(statements: &[Value]) -> KeyPolicy {
    let doc = json!({"Version": "2012-10-17", "Statement": statements});
    KeyPolicy::parse(&doc.to_string()).expect("generated policies are valid")
}

fn caller() -> impl Strategy<Value = Identity> {
    prop::sample::select(vec![
        format!("arn:aws:sts::{A}:assumed-role/Admin/alice"),
        format!("arn:aws:sts::{A}:assumed-role/KeyAdmin/bob"),
        format!("arn:aws:iam::{A}:role/ops/Admin"),
        format!("arn:aws:iam::{A}:user/alice"),
        format!("arn:aws:iam::{A}:root"),
        "arn:aws:sts::444455556666:assumed-role/Admin/x".to_owned(),
        "logs.amazonaws.com".to_owned(),
    ])
    .prop_map(|s| Identity::parse(&s).unwrap())
}

fn action() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:Decrypt"])
}

fn decide(p: &KeyPolicy, who: &Identity, action: &str, key: Option<&str>) -> Decision {
    evaluate_for(p, who, action, key, &Context::default(), now()).decision
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn statement_order_never_changes_a_decision(
        statements in prop::collection::vec(statement(None), 1..8),
        order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
        who in caller(),
        action in action(),
        with_key in any::<bool>(),
    ) {
        let key = with_key.then_some(KEY);
        let before = decide(&policy(&statements), &who, action, key);
        let mut shuffled = statements.clone();
        // A deterministic permutation from the generated seed.
        let n = shuffled.len();
        let mut seed = order;
        for i in (1..n).rev() {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (seed >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(before, decide(&policy(&shuffled), &who, action, key));
    }

    #[test]
    fn adding_a_deny_never_turns_a_denial_into_an_allow(
        statements in prop::collection::vec(statement(None), 0..6),
        deny in statement(Some("Deny")),
        who in caller(),
        action in action(),
    ) {
        let before = decide(&policy(&statements), &who, action, Some(KEY));
        let mut more = statements.clone();
        more.push(deny);
        let after = decide(&policy(&more), &who, action, Some(KEY));
        if !before.is_granted() {
            prop_assert!(!after.is_granted(), "{:?} became {:?}", before, after);
        }
        if before == Decision::ExplicitDeny {
            prop_assert_eq!(after, Decision::ExplicitDeny);
        }
    }

    #[test]
    fn action_names_compare_case_insensitively(
        statements in prop::collection::vec(statement(None), 1..6),
        who in caller(),
        action in action(),
        mask in prop::collection::vec(any::<bool>(), 20),
    ) {
        let recased: String = action
            .chars()
            .zip(mask.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let p = policy(&statements);
        prop_assert_eq!(decide(&p, &who, action, Some(KEY)), decide(&p, &who, &recased, Some(KEY)));
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = KeyPolicy::parse(&text);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics(doc in json_value()) {
        if let Ok(p) = KeyPolicy::parse(&doc.to_string()) {
            let who = Identity::parse("arn:aws:sts::111122223333:assumed-role/Admin/alice").unwrap();
            let _ = decide(&p, &who, "kms:GetKeyPolicy", Some(KEY));
        }
    }
}

/// JSON built from the policy language's own words, so that many documents get deep into the parser.
fn json_value() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "Version",
        "Statement",
        "Sid",
        "Effect",
        "Allow",
        "Deny",
        "Principal",
        "NotPrincipal",
        "AWS",
        "Service",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "StringEquals",
        "ForAnyValue:StringLike",
        "NullIfExists",
        "Null",
        "*",
        "kms:*",
        "${aws:username}",
        "${*}",
        "111122223333",
        "arn:aws:iam::111122223333:root",
        "AROAZ3EXAMPLEADMIN01",
        "2012-10-17",
    ]);
    let leaf = prop_oneof![
        words.clone().prop_map(|w| json!(w)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|n| json!(n)),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..5).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}
