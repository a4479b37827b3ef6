//! The engine's speed on a policy at KMS's size limit: one request, and the restorer query.
//! Targets (docs/benchmarks.md): under 50 µs per request, under 1 ms for the restorer query.

// A tool of its own that prints to its own terminal.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use kms_doctor::policy::{
    Context, Identity, KeyPolicy, MAX_POLICY_BYTES, PUT_KEY_POLICY, evaluate_for, grantees,
};
use std::hint::black_box;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// A key policy just under 32 KB: many statements with role lists, action wildcards,
/// resource patterns and conditions, the delegation statement last.
fn big_policy() -> String {
    let mut statements = Vec::new();
    let mut i = 0;
    loop {
        let roles: Vec<String> = (0..4)
            .map(|r| format!("\"arn:aws:iam::111122223333:role/team{i}/Role{r}\""))
            .collect();
        let stmt = format!(
            r#"{{"Sid": "Team{i}", "Effect": "{effect}", "Principal": {{"AWS": [{roles}]}},
  "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*", "{admin}"],
  "Resource": "arn:aws:kms:*:111122223333:key/*",
  "Condition": {{"StringEquals": {{"kms:CallerAccount": "111122223333"}},
                 "StringLike": {{"kms:ViaService": ["s3.*.amazonaws.com", "ec2.*.amazonaws.com"]}},
                 "ForAnyValue:StringEquals": {{"aws:TagKeys": ["team{i}", "shared"]}}}}}}"#,
            effect = if i % 7 == 6 { "Deny" } else { "Allow" },
            // Every other team administers the key: many candidates for the restorer query.
            admin = if i % 2 == 0 { "kms:Put*" } else { "kms:Get*" },
            roles = roles.join(", "),
        );
        let candidate = format!(
            r#"{{"Version": "2012-10-17", "Statement": [{}, {}]}}"#,
            statements
                .iter()
                .chain(std::iter::once(&stmt))
                .cloned()
                .collect::<Vec<_>>()
                .join(",\n"),
            r#"{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}"#
        );
        if candidate.len() > MAX_POLICY_BYTES {
            break;
        }
        statements.push(stmt);
        i += 1;
    }
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}, {}]}}"#,
        statements.join(",\n"),
        r#"{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}"#
    )
}

fn now() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn engine(c: &mut Criterion) {
    let text = big_policy();
    let policy = KeyPolicy::parse(&text).unwrap();
    eprintln!(
        "policy: {} bytes, {} statements",
        text.len(),
        policy.statements.len()
    );
    let caller = Identity::parse("arn:aws:sts::111122223333:assumed-role/Role2/alice").unwrap();
    let mut context = Context::default();
    context.push("kms:ViaService", "s3.us-east-1.amazonaws.com".into());
    context.push("aws:TagKeys", "shared".into());

    c.bench_function("parse 32 KB policy", |b| {
        b.iter(|| KeyPolicy::parse(black_box(&text)).unwrap())
    });
    c.bench_function("evaluate one request (32 KB policy)", |b| {
        b.iter(|| {
            evaluate_for(
                &policy,
                black_box(&caller),
                "kms:GetKeyPolicy",
                Some(KEY),
                &context,
                now(),
            )
        })
    });
    c.bench_function("restorer query (32 KB policy)", |b| {
        b.iter(|| {
            grantees(
                &policy,
                PUT_KEY_POLICY,
                Some(KEY),
                &Context::default(),
                now(),
            )
        })
    });
}

criterion_group!(benches, engine);
criterion_main!(benches);
