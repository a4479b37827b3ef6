//! The statements and policies KMS itself writes.

/// The statement AWS puts first in the default key policy: it delegates the key to IAM.
pub fn delegation_statement(partition: &str, account: &str) -> serde_json::Value {
    serde_json::json!({
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })
}

/// The policy KMS applies to a key created without one.
pub fn default_key_policy(partition: &str, account: &str) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [delegation_statement(partition, account)]
    }))
    .expect("a literal serializes")
}
