//! The commonest first-run failures, each one line saying what is wrong and what to run next,
//! like the AWS CLI, with its causes (never held back for -v). Each runs with temporary AWS config files and an
//! endpoint on a closed local port, so nothing leaves the machine.

use std::path::PathBuf;
use std::process::Command;

const CONFIG: &str = "\
[profile sso]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
region = us-east-1
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
[profile chain]
role_arn = arn:aws:iam::111122223333:role/Admin
source_profile = base
region = us-east-1
[profile base]
region = us-east-1
[profile noregion]
";

const CREDENTIALS: &str = "\
[base]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
[noregion]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
";

fn home() -> PathBuf {
    let d = crate::support::cli::fresh_dir("first-run");
    std::fs::write(d.join("config"), CONFIG).unwrap();
    std::fs::write(d.join("credentials"), CREDENTIALS).unwrap();
    d
}

/// kms-doctor with only the temporary files as AWS configuration.
fn run(env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let home = home();
    let o = Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .envs(env.iter().copied())
        .args([
            "diagnose",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "--timeout",
            "3",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_one_line(stderr: &str, says: &[&str]) {
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    for s in says {
        assert!(stderr.contains(s), "{s:?} in {stderr}");
    }
    assert!(!stderr.contains(" { "), "no Debug dump: {stderr}");
}

#[test]
fn no_credentials() {
    let (code, err) = run(&[("AWS_REGION", "us-east-1")], &[]);
    assert_eq!(code, Some(2));
    assert_one_line(&err, &["no AWS credentials were found", "aws configure"]);
}

#[test]
fn an_unknown_profile() {
    let (code, err) = run(&[], &["--profile", "nope"]);
    assert_eq!(code, Some(2));
    assert_one_line(
        &err,
        &[
            "the config profile (nope) could not be found",
            "aws configure list-profiles",
        ],
    );
}

#[test]
fn an_unknown_profile_and_no_config_files_at_all() {
    // The SDK says only that credentials could not be loaded (it fell through to the metadata
    // service); the config files say the profile is not there.
    let (code, err) = run(
        &[
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ],
        &["--profile", "prod"],
    );
    assert_eq!(code, Some(2));
    assert_one_line(&err, &["the config profile (prod) could not be found"]);
    assert!(!err.contains("IMDS"), "{err}");
}

#[test]
fn no_credentials_anywhere_names_the_metadata_service() {
    let (code, err) = run(
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"),
        ],
        &[],
    );
    assert_eq!(code, Some(2));
    assert_one_line(
        &err,
        &[
            "no AWS credentials were found",
            "metadata service gave none",
            "aws configure",
        ],
    );
    assert!(!err.contains("profile default"), "{err}");
}

#[test]
fn an_sso_session_to_log_into() {
    let (code, err) = run(&[("AWS_PROFILE", "sso")], &[]);
    assert_eq!(code, Some(2));
    assert_one_line(
        &err,
        &["SSO session of profile sso", "aws sso login --profile sso"],
    );
}

#[test]
fn no_region() {
    let (code, err) = run(&[], &["--profile", "noregion"]);
    assert_eq!(code, Some(2));
    assert_one_line(
        &err,
        &[
            "no AWS Region is set",
            "--region",
            "aws configure set region REGION --profile noregion",
        ],
    );
}

#[test]
fn a_role_chain_that_fails_says_its_cause_without_v() {
    let (code, err) = run(&[], &["--profile", "chain"]);
    assert_eq!(code, Some(2));
    assert_one_line(
        &err,
        &[
            "credentials of profile chain could not be loaded",
            "Connection refused",
            "aws sts get-caller-identity --profile chain",
        ],
    );
    assert!(!err.contains("wJalr"), "never a credential");
    let (_, verbose) = run(&[], &["--profile", "chain", "-v"]);
    assert!(verbose.contains("Connection refused"), "{verbose}");
    assert!(!verbose.contains("wJalr"), "never a credential");
}

#[test]
fn usage_and_input_errors_say_their_cause_without_v() {
    let bad = "arn:aws:iam:111122223333:role/X";
    for args in [
        &[
            "explain",
            "--policy",
            "examples/default-key-policy.json",
            "--principal",
            bad,
        ][..],
        &["check", "tests/iac/cfn", "--deployer", bad],
        &["check", "tests/iac/cfn", "--keep", bad],
    ] {
        let o = crate::support::cli::kms_doctor(args);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        let flag = args[args.len() - 2];
        assert_one_line(
            &err,
            &[&format!("invalid {flag}"), "is not a principal", bad],
        );
    }
    let o = crate::support::cli::kms_doctor(&[
        "history",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "--logs",
        "nonexist",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_one_line(
        &String::from_utf8_lossy(&o.stderr),
        &[
            "cannot read the log archive at nonexist",
            "No such file or directory",
        ],
    );
}
