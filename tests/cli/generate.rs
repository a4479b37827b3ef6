//! Completions and man pages come from the command line's own definition: every command and
//! flag is in them, and man pages are never written over existing files without --force.

use crate::support::cli::{assert_exit, fresh_dir, kms_doctor, stdout};

#[test]
fn completions_know_every_command_and_flag() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let o = kms_doctor(&["completions", shell]);
        assert_exit(&o, 0);
        let script = stdout(&o);
        for word in ["diagnose", "scan", "check", "all-regions", "deployer"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    assert_exit(&kms_doctor(&["completions", "tcsh"]), 2);
}

#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    // `kms-doctor completions bash | head -1`: the reader is gone before the script is written.
    for shell in ["bash", "zsh", "fish"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
            .args(["completions", shell])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_exit(&o, 0);
        assert!(
            o.stderr.is_empty(),
            "{shell}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn man_pages_for_every_command_and_never_over_a_file() {
    let dir = fresh_dir("man");
    let o = kms_doctor(&["manpages", dir.to_str().unwrap()]);
    assert_exit(&o, 0);
    for page in [
        "kms-doctor.1",
        "kms-doctor-diagnose.1",
        "kms-doctor-scan.1",
        "kms-doctor-check.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is roff"
        );
    }
    let scan = std::fs::read_to_string(dir.join("kms-doctor-scan.1")).unwrap();
    assert!(scan.contains("all\\-regions"), "{scan}");
    assert!(
        !dir.join("kms-doctor-manpages.1").exists(),
        "the hidden command has no page"
    );
    let again = kms_doctor(&["manpages", dir.to_str().unwrap()]);
    assert_exit(&again, 2);
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_exit(
        &kms_doctor(&["manpages", dir.to_str().unwrap(), "--force"]),
        0,
    );
}
