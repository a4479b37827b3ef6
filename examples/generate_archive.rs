//! Writes a realistic CloudTrail log archive for benchmarks (`bench/history-archive.sh`): many
//! accounts, Regions and days of gzip files, mostly unrelated events, with one key's policy
//! changes mixed in (key `1234abcd-12ab-34cd-56ef-1234567890ab` of account 111122223333).
//!
//! ```sh
//! cargo run --release --example generate_archive -- DIR [--files-per-day N] [--records-per-file N]
//! ```
//! Prints the number of files and the uncompressed bytes.

// A tool of its own that prints to its own terminal.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

#[path = "../tests/cli/support/archive.rs"]
mod archive;

use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: generate_archive DIR [--files-per-day N] [--records-per-file N]");
        std::process::exit(2);
    };
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let admins = json!({"Sid": "Allow access for Key Administrators", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:role/KeyAdmin", archive::ACCOUNT)}, "Action": "kms:*", "Resource": "*"});
    let delegation = json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", archive::ACCOUNT)}, "Action": "kms:*", "Resource": "*"});
    let spec = archive::Spec {
        accounts: 4,
        regions: vec!["us-east-1", "eu-west-1", "ap-southeast-2"],
        days: 10,
        files_per_day: flag("--files-per-day", 12),
        records_per_file: flag("--records-per-file", 1200),
        changes: vec![
            (0, archive::create_key(0, 100, "evt-create")),
            (
                2,
                archive::put_key_policy(
                    2,
                    200,
                    "evt-admins",
                    "Admin",
                    Some(
                        &json!({"Version": "2012-10-17", "Statement": [delegation, admins.clone()]}),
                    ),
                    None,
                ),
            ),
            (
                5,
                archive::put_key_policy(
                    5,
                    300,
                    "evt-failed",
                    "Intern",
                    Some(&json!({"Statement": []})),
                    Some("MalformedPolicyDocumentException"),
                ),
            ),
            (
                8,
                archive::put_key_policy(
                    8,
                    400,
                    "evt-lockout",
                    "Deployer",
                    Some(&json!({"Version": "2012-10-17", "Statement": [admins]})),
                    None,
                ),
            ),
        ],
    };
    let (files, bytes) = archive::write(std::path::Path::new(dir), &spec);
    println!("{} files, {} bytes uncompressed", files.len(), bytes);
}
