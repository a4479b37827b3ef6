//! Restorers through IAM and restore paths for a large account: 5,000 roles and 2,000 managed
//! policies (bench/restorers.sh measures it with peak memory). Prints what it found and the
//! time each step took.

// A tool of its own that prints to its own terminal.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

use kms_doctor::diagnosis::iam_restorers::iam_restorers;
use kms_doctor::diagnosis::model::{
    AuthorizationDetails, Evidence, IamPrincipalDetails, ManagedPolicy,
};
use kms_doctor::diagnosis::restore_paths::Graph;
use kms_doctor::policy::Identity;
use std::time::Instant;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn main() {
    let roles: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let policies: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000);
    let started = Instant::now();
    let policy = |i: usize| {
        // Most policies are about other services; one in fifty manages KMS keys.
        let (action, resource) = if i.is_multiple_of(50) {
            ("kms:*", KEY.to_owned())
        } else {
            ("s3:GetObject", format!("arn:aws:s3:::bucket-{i}/*"))
        };
        ManagedPolicy {
            arn: format!("arn:aws:iam::111122223333:policy/team-{i}"),
            name: format!("team-{i}"),
            document: Some(
                serde_json::json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": [action, "logs:PutLogEvents"], "Resource": resource},
                    {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}},
                    {"Effect": "Deny", "Action": "iam:*", "Resource": "*",
                     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]})
                .to_string(),
            ),
        }
    };
    let role = |i: usize| {
        // Half the roles trust the whole account (the IAM policies of the assuming principal
        // decide), the others the previous role: a wide graph, and long chains.
        let trusted = if i == 0 || i % 2 == 1 {
            "arn:aws:iam::111122223333:root".to_owned()
        } else {
            format!("arn:aws:iam::111122223333:role/app-{}", i - 1)
        };
        IamPrincipalDetails {
            arn: format!("arn:aws:iam::111122223333:role/app-{i}"),
            name: format!("app-{i}"),
            path: "/".into(),
            // Three team policies each; one role in ten may assume any role.
            attached: (0..3)
                .map(|k| {
                    format!(
                        "arn:aws:iam::111122223333:policy/team-{}",
                        (i * 7 + k * 13 + 1) % policies
                    )
                })
                .chain(
                    i.is_multiple_of(10)
                        .then(|| "arn:aws:iam::111122223333:policy/assume-any".to_owned()),
                )
                .collect(),
            trust_policy: Some(
                serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]})
                .to_string(),
            ),
            ..Default::default()
        }
    };
    let assume_any = ManagedPolicy {
        arn: "arn:aws:iam::111122223333:policy/assume-any".into(),
        name: "assume-any".into(),
        document: Some(
            serde_json::json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
            .to_string(),
        ),
    };
    let details = AuthorizationDetails {
        roles: (0..roles).map(role).collect(),
        policies: (0..policies).map(policy).chain([assume_any]).collect(),
        complete: true,
        ..Default::default()
    };
    let generated = started.elapsed();

    let now = "2026-11-28T00:00:00Z".parse().unwrap();
    let mut ev: Evidence =
        serde_json::from_str(include_str!("../examples/evidence-locked-out.json")).unwrap();
    ev.authorization = Some(details);
    let t = Instant::now();
    let graph = Graph::new(&ev, now);
    let found = iam_restorers(ev.authorization.as_ref().unwrap(), &graph, Some(KEY), now);
    let restorers_time = t.elapsed();
    let t = Instant::now();
    // The starting role: app-0 may assume any role; app-1 may assume none (its way, if any,
    // takes the second level of the search).
    let from: usize = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let start = Identity::parse(&format!(
        "arn:aws:sts::111122223333:assumed-role/app-{from}/alice"
    ))
    .unwrap();
    let targets: Vec<String> = found.iter().map(|r| r.arn.clone()).collect();
    let path = graph.path(&start, "alice", &targets, 2);
    let path_time = t.elapsed();

    println!(
        "{roles} roles, {policies} policies: generated in {} ms; graph built and {} restorers found in {} ms; a 2-hop path search in {} ms (path: {})",
        generated.as_millis(),
        found.len(),
        restorers_time.as_millis(),
        path_time.as_millis(),
        path.map(|p| p.len().to_string())
            .unwrap_or_else(|| "none".into())
    );
}
