//! Writes realistic CloudTrail log archives: many accounts' and Regions' worth of gzip files
//! under `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, mostly unrelated events (Decrypt,
//! GenerateDataKey, AssumeRole, other keys' PutKeyPolicy…) with one key's policy changes mixed
//! in. Shared by the tests and `examples/generate_archive.rs` (benchmarks).

#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const ACCOUNT: &str = "111122223333";
pub const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

/// The columns `history --athena` selects, in its order (the header row of a result).
pub const ATHENA_COLUMNS: [&str; 10] = [
    "eventtime",
    "eventname",
    "eventid",
    "author",
    "role_arn",
    "sourceipaddress",
    "useragent",
    "errorcode",
    "requestparameters",
    "responseelements",
];

pub fn key_arn() -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}")
}

pub struct Spec {
    pub accounts: usize,
    pub regions: Vec<&'static str>,
    /// Days from 2026-11-01.
    pub days: usize,
    pub files_per_day: usize,
    pub records_per_file: usize,
    /// The key's own events: (day index, record). They go into us-east-1 of the key's account.
    pub changes: Vec<(usize, Value)>,
}

/// A small xorshift, so archives are the same from run to run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn account(i: usize) -> String {
    if i == 0 {
        ACCOUNT.to_owned()
    } else {
        format!("{:012}", 200000000000u64 + i as u64)
    }
}

fn time(day: usize, second: usize) -> String {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    (base
        + chrono::Duration::days(day as i64)
        + chrono::Duration::seconds((second % 86_000) as i64))
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn unrelated(rng: &mut Rng, acct: &str, region: &str, day: usize, n: usize) -> Value {
    let other_key = format!(
        "{:08x}-0000-4000-8000-{:012x}",
        rng.next() as u32,
        rng.next() % 0xffff_ffff_ffff
    );
    let session = format!(
        "arn:aws:sts::{acct}:assumed-role/app-{}/i-{:016x}",
        rng.below(40),
        rng.next()
    );
    let identity = json!({
        "type": "AssumedRole", "principalId": format!("AROA{:016X}:i-{:08x}", rng.next(), rng.next() as u32),
        "arn": session, "accountId": acct, "accessKeyId": format!("ASIA{:016X}", rng.next()),
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROA{:016X}", rng.next()),
            "arn": format!("arn:aws:iam::{acct}:role/app-{}", rng.below(40)), "accountId": acct, "userName": "app"},
            "attributes": {"creationDate": time(day, n), "mfaAuthenticated": "false"}}
    });
    let (source, name, params, resources) = match rng.below(10) {
        0..=3 => (
            "kms.amazonaws.com",
            "Decrypt",
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::bucket-{}/object-{}", rng.below(100), rng.next())}}),
            json!([{"accountId": acct, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{region}:{acct}:key/{other_key}")}]),
        ),
        4..=6 => (
            "kms.amazonaws.com",
            "GenerateDataKey",
            json!({"keyId": format!("arn:aws:kms:{region}:{acct}:key/{other_key}"), "keySpec": "AES_256"}),
            json!([{"accountId": acct, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{region}:{acct}:key/{other_key}")}]),
        ),
        7 | 8 => (
            "sts.amazonaws.com",
            "AssumeRole",
            json!({"roleArn": format!("arn:aws:iam::{acct}:role/app-{}", rng.below(40)), "roleSessionName": format!("i-{:016x}", rng.next()), "durationSeconds": 3600}),
            json!([]),
        ),
        _ => (
            "kms.amazonaws.com",
            "PutKeyPolicy",
            json!({"keyId": other_key, "policyName": "default", "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Enable IAM User Permissions\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}", "bypassPolicyLockoutSafetyCheck": false}),
            json!([{"accountId": acct, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{region}:{acct}:key/{other_key}")}]),
        ),
    };
    json!({
        "eventVersion": "1.09", "userIdentity": identity, "eventTime": time(day, n),
        "eventSource": source, "eventName": name, "awsRegion": region,
        "sourceIPAddress": format!("10.{}.{}.{}", rng.below(255), rng.below(255), rng.below(255)),
        "userAgent": "aws-sdk-java/2.20.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17",
        "requestParameters": params, "responseElements": null,
        "requestID": format!("{:016x}-{:016x}", rng.next(), rng.next()), "eventID": format!("{:016x}-{:016x}", rng.next(), rng.next()),
        "readOnly": name != "PutKeyPolicy", "resources": resources, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": acct, "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("kms.{region}.amazonaws.com")}
    })
}

/// Writes the archive; returns the files written and their uncompressed bytes.
pub fn write(root: &Path, spec: &Spec) -> (Vec<PathBuf>, u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut files = Vec::new();
    let mut total = 0u64;
    for a in 0..spec.accounts {
        let acct = account(a);
        for region in &spec.regions {
            for day in 0..spec.days {
                let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
                    + chrono::Duration::days(day as i64);
                let dir = root
                    .join("AWSLogs")
                    .join(&acct)
                    .join("CloudTrail")
                    .join(region)
                    .join(date.format("%Y").to_string())
                    .join(date.format("%m").to_string())
                    .join(date.format("%d").to_string());
                std::fs::create_dir_all(&dir).unwrap();
                for f in 0..spec.files_per_day {
                    let mut records: Vec<Value> = (0..spec.records_per_file)
                        .map(|n| unrelated(&mut rng, &acct, region, day, f * 1000 + n))
                        .collect();
                    if a == 0 && *region == "us-east-1" && f == 0 {
                        for (d, change) in &spec.changes {
                            if *d == day {
                                let at = rng.below(records.len() + 1);
                                records.insert(at, change.clone());
                            }
                        }
                    }
                    let text = serde_json::to_vec(&json!({"Records": records})).unwrap();
                    total += text.len() as u64;
                    let name = format!(
                        "{acct}_CloudTrail_{region}_{}T{:04}Z_{:016x}.json.gz",
                        date.format("%Y%m%d"),
                        f,
                        rng.next()
                    );
                    let path = dir.join(name);
                    let mut gz = flate2::write::GzEncoder::new(
                        std::fs::File::create(&path).unwrap(),
                        flate2::Compression::fast(),
                    );
                    gz.write_all(&text).unwrap();
                    gz.finish().unwrap();
                    files.push(path);
                }
            }
        }
    }
    (files, total)
}

/// A policy change of the key, as CloudTrail records it.
pub fn put_key_policy(
    day: usize,
    second: usize,
    id: &str,
    by: &str,
    policy: Option<&Value>,
    error: Option<&str>,
) -> Value {
    let mut r = json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{by}/session"), "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{ACCOUNT}:role/{by}"), "accountId": ACCOUNT}}},
        "eventTime": time(day, second), "eventSource": "kms.amazonaws.com", "eventName": "PutKeyPolicy", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.24", "userAgent": "aws-cli/2.22.0",
        "requestParameters": {"keyId": KEY_ID, "policyName": "default", "bypassPolicyLockoutSafetyCheck": false},
        "responseElements": null, "eventID": id, "readOnly": false,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn()}],
        "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT
    });
    if let Some(p) = policy {
        r["requestParameters"]["policy"] = json!(p.to_string());
    }
    if let Some(code) = error {
        r["errorCode"] = json!(code);
        r["errorMessage"] =
            json!("The new key policy will not allow you to update the key policy in the future.");
    }
    r
}

pub fn create_key(day: usize, second: usize, id: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bootstrap"), "accountId": ACCOUNT},
        "eventTime": time(day, second), "eventSource": "kms.amazonaws.com", "eventName": "CreateKey", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.10", "userAgent": "console.amazonaws.com",
        "requestParameters": {"description": "payments", "keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT", "bypassPolicyLockoutSafetyCheck": false},
        "responseElements": {"keyMetadata": {"aWSAccountId": ACCOUNT, "keyId": KEY_ID, "arn": key_arn(), "keyState": "Enabled"}},
        "eventID": id, "readOnly": false, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT
    })
}
