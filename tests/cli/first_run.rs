//! The commonest first-run failures, each one line saying what is wrong and what to run next,
//! like the AWS CLI; the causes only with -v. Each runs with temporary AWS config files and an
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
        &["profile nope is not defined", "aws configure list-profiles"],
    );
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
fn a_role_chain_that_fails_and_its_causes_with_v() {
    let (code, err) = run(&[], &["--profile", "chain"]);
    assert_eq!(code, Some(2));
    assert_one_line(
        &err,
        &[
            "credentials of profile chain could not be loaded",
            "aws sts get-caller-identity --profile chain",
        ],
    );
    let (_, verbose) = run(&[], &["--profile", "chain", "-v"]);
    assert!(verbose.lines().count() > 1, "{verbose}");
    assert!(
        verbose.contains("caused by: CredentialsFailed"),
        "{verbose}"
    );
    assert!(!verbose.contains("wJalr"), "never a credential");
}
