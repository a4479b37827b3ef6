//! `--write-fix` and `--save-evidence` never destroy anything: no overwrite without `--force`, no
//! writing through a link, no output that is also an input.

use crate::support::cli::{fresh_dir, kms_doctor};

const EVIDENCE: &str = "examples/evidence-locked-out.json";

fn write_fix(to: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "diagnose",
        "--from-evidence",
        EVIDENCE,
        "--format",
        "json",
        "--write-fix",
        to.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    kms_doctor(&args)
}

#[test]
fn an_existing_file_is_replaced_only_with_force() {
    let d = fresh_dir("keep");
    let target = d.join("fix.json");
    std::fs::write(&target, "mine").unwrap();
    let o = write_fix(&target, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("exists: pass --force"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "mine");

    let o = write_fix(&target, &["--force"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the diagnosis still finds the lockout"
    );
    let fixed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(fixed["Statement"][0]["Sid"], "Enable IAM User Permissions");
}

#[test]
fn a_link_at_the_target_is_refused() {
    let d = fresh_dir("link");
    let victim = d.join("authorized_keys");
    std::fs::write(&victim, "keep").unwrap();
    let link = d.join("fix.json");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let o = write_fix(&link, &["--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("symbolic link"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[test]
fn an_output_that_is_an_input_is_a_usage_error() {
    let d = fresh_dir("input");
    let evidence = d.join("evidence.json");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EVIDENCE),
        &evidence,
    )
    .unwrap();
    let before = std::fs::read(&evidence).unwrap();
    let o = kms_doctor(&[
        "diagnose",
        "--from-evidence",
        evidence.to_str().unwrap(),
        "--write-fix",
        d.join(".").join("evidence.json").to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("would overwrite"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&evidence).unwrap(), before);
    assert!(o.stdout.is_empty(), "nothing ran");
}
