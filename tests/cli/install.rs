//! The release path, end to end: `scripts/package.sh` makes the archive (from the binary under
//! test), a local HTTP server serves it as GitHub would, and `install.sh` downloads, checks and
//! installs it; with a bad checksum and on an unknown platform it must refuse.

use crate::support::cli::fresh_dir;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Packages the binary under test as the release would.
fn package(dir: &Path) -> PathBuf {
    let o = Command::new("bash")
        .arg(root().join("scripts/package.sh"))
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_kms-doctor"),
            "--target",
            TARGET,
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dir.join(format!("kms-doctor-{TARGET}.tar.gz"))
}

/// Serves the files of `dir` by name, whatever the path before it; returns the base URL.
fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let name = path.rsplit('/').next().unwrap_or("");
            let mut stream = stream;
            match std::fs::read(dir.join(name)) {
                Ok(body) if !name.is_empty() => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(&body);
                }
                _ => {
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    url
}

fn install(base: &str, home: &Path, os: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg(root().join("install.sh"))
        .args(args)
        .env("KMS_DOCTOR_BASE_URL", base)
        // The test server speaks plain HTTP on 127.0.0.1; and has no attestation to verify.
        .env("KMS_DOCTOR_ALLOW_HTTP", "1")
        .env("KMS_DOCTOR_SKIP_ATTESTATION", "1")
        .env("KMS_DOCTOR_OS", os)
        .env("KMS_DOCTOR_ARCH", "x86_64")
        .env("HOME", home)
        .output()
        .unwrap()
}

#[test]
fn the_archive_installs_and_runs() {
    let dir = fresh_dir("install-good");
    let archive = package(&dir.join("dist"));
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for part in [
        "/kms-doctor",
        "/README.md",
        "/LICENSE",
        "/completions/kms-doctor.bash",
        "/completions/_kms-doctor",
        "/completions/kms-doctor.fish",
        "/man/kms-doctor.1",
        "/man/kms-doctor-check.1",
    ] {
        assert!(listing.contains(part), "{part} in {listing}");
    }
    let base = serve(dir.join("dist"));
    let bin = dir.join("bin");
    let o = install(
        &base,
        &dir,
        "Linux",
        &["--to", bin.to_str().unwrap(), "--version", "0.1.0"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = Command::new(bin.join("kms-doctor"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("kms-doctor "));
    // Without --to: ~/.local/bin.
    let o = install(&base, &dir, "Linux", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.join(".local/bin/kms-doctor").exists());
}

#[test]
fn a_bad_checksum_installs_nothing() {
    let dir = fresh_dir("install-bad");
    let archive = package(&dir.join("dist"));
    let sums = PathBuf::from(format!("{}.sha256", archive.display()));
    std::fs::write(
        &sums,
        format!("{}  kms-doctor-{TARGET}.tar.gz\n", "0".repeat(64)),
    )
    .unwrap();
    let base = serve(dir.join("dist"));
    let bin = dir.join("bin");
    let o = install(&base, &dir, "Linux", &["--to", bin.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!bin.join("kms-doctor").exists());
}

/// `--version` is X.Y.Z (optionally -pre.release): a version that climbs out of the releases
/// path (the server here answers any path with the archive) is refused, and nothing installed.
#[test]
fn a_version_that_is_not_a_version_installs_nothing() {
    let dir = fresh_dir("install-version");
    package(&dir.join("dist"));
    let base = serve(dir.join("dist"));
    let bin = dir.join("bin");
    for bad in [
        "1.2.3/../../..",
        "../1.2.3",
        "1.2",
        "1.2.3\n../x",
        "1.2.3-",
        "1.2.3 rc",
    ] {
        let o = install(
            &base,
            &dir,
            "Linux",
            &["--to", bin.to_str().unwrap(), "--version", bad],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{bad:?} was accepted: {err}");
        assert!(
            err.contains("--version must look like 1.2.3"),
            "{bad:?}: {err}"
        );
        assert!(err.contains("nothing was installed"), "{err}");
        assert!(!bin.join("kms-doctor").exists(), "{bad:?} installed");
    }
    for good in ["0.1.0", "v0.1.0", "1.2.3-rc.1"] {
        let o = install(
            &base,
            &dir,
            "Linux",
            &["--to", bin.to_str().unwrap(), "--version", good],
        );
        assert!(
            o.status.success(),
            "{good}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn an_unknown_platform_is_refused_with_what_to_do() {
    let dir = fresh_dir("install-platform");
    let o = install(
        "http://127.0.0.1:9",
        &dir,
        "Plan9",
        &["--to", dir.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no kms-doctor release for Plan9") && err.contains("cargo install"),
        "{err}"
    );
    let o = install("http://127.0.0.1:9", &dir, "Linux", &["--bogus"]);
    assert!(!o.status.success());
}

#[test]
fn the_homebrew_formula_is_filled_for_every_platform() {
    let dir = fresh_dir("formula");
    let targets = [
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
        "aarch64-unknown-linux-musl",
        "x86_64-unknown-linux-musl",
    ];
    for (i, t) in targets.iter().enumerate() {
        let sum = format!("{i}").repeat(64);
        std::fs::write(
            dir.join(format!("kms-doctor-{t}.tar.gz.sha256")),
            format!("{sum}  kms-doctor-{t}.tar.gz\n"),
        )
        .unwrap();
    }
    let run = || {
        Command::new("bash")
            .arg(root().join("scripts/homebrew-formula.sh"))
            .arg("v1.2.3")
            .arg(&dir)
            .output()
            .unwrap()
    };
    let o = run();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let formula = String::from_utf8_lossy(&o.stdout);
    assert!(!formula.contains('@'), "{formula}");
    assert!(formula.contains("version \"1.2.3\""));
    assert!(formula.contains(&format!("sha256 \"{}\"", "3".repeat(64))));
    assert!(
        formula.contains("releases/download/v1.2.3/kms-doctor-x86_64-unknown-linux-musl.tar.gz")
    );
    // A missing archive is an error, not a formula with a hole.
    std::fs::remove_file(dir.join("kms-doctor-x86_64-apple-darwin.tar.gz.sha256")).unwrap();
    assert!(!run().status.success());
}

/// One address for the project: Cargo.toml's `repository`, which SARIF's rule links read; the
/// README, install.sh, the Homebrew formula and the docs say the same, with no placeholder left.
#[test]
fn every_file_names_the_repository_of_cargo_toml() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let repository = env!("CARGO_PKG_REPOSITORY");
    let slug = repository.trim_start_matches("https://github.com/");
    for file in [
        "README.md",
        "install.sh",
        "packaging/homebrew/kms-doctor.rb.in",
        "docs/check.md",
        "docs/release.md",
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(!text.contains("OWNER"), "{file} has a placeholder");
        for (at, _) in text.match_indices("github.com/") {
            let rest = &text[at + "github.com/".len()..];
            if rest.contains("/kms-doctor")
                && rest
                    .split('/')
                    .nth(1)
                    .is_some_and(|n| n.starts_with("kms-doctor"))
            {
                assert!(
                    rest.starts_with(slug),
                    "{file}: github.com/{}",
                    &rest[..slug.len().min(rest.len())]
                );
            }
        }
    }
}

/// The Action's install step, with `cargo` replaced by a stand-in that records being called.
fn action_install(base: &str, dir: &Path) -> (Output, bool) {
    let fake_bin = dir.join("fake-bin");
    std::fs::create_dir_all(&fake_bin).unwrap();
    let marker = dir.join("cargo-called");
    let cargo = fake_bin.join("cargo");
    std::fs::write(
        &cargo,
        format!("#!/bin/sh\ntouch '{}'\nexit 0\n", marker.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        fake_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("bash")
        .arg(root().join("scripts/action-install.sh"))
        .arg(root())
        .arg(dir.join("dest"))
        .env("PATH", path)
        .env("KMS_DOCTOR_BASE_URL", base)
        .env("KMS_DOCTOR_ALLOW_HTTP", "1")
        .env("KMS_DOCTOR_SKIP_ATTESTATION", "1")
        .env("KMS_DOCTOR_OS", "Linux")
        .env("KMS_DOCTOR_ARCH", "x86_64")
        .env("HOME", dir)
        .env("GITHUB_PATH", dir.join("github-path"))
        .output()
        .unwrap();
    (o, marker.exists())
}

#[test]
fn the_action_installs_the_release_archive_and_builds_only_without_one() {
    let dir = fresh_dir("action-install");
    package(&dir.join("dist"));
    let (o, built) = action_install(&serve(dir.join("dist")), &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!built, "a release matched: nothing is built");
    let run = Command::new(dir.join("dest/bin/kms-doctor"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("kms-doctor "));
    let github_path = std::fs::read_to_string(dir.join("github-path")).unwrap();
    assert_eq!(github_path.trim(), dir.join("dest/bin").to_str().unwrap());
    // No release for this version (a server with nothing): built from source.
    let empty = fresh_dir("action-install-none");
    std::fs::create_dir_all(empty.join("dist")).unwrap();
    let (o, built) = action_install(&serve(empty.join("dist")), &empty);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(built, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("building it from source"));
}

/// The Action's check step, as bash runs it.
fn action_check_step() -> String {
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let step = &action[action.find("    - name: Check").unwrap()..];
    let run = &step[step.find("      run: |\n").unwrap() + "      run: |\n".len()..];
    let run = &run[..run.find("    - name: ").unwrap()];
    run.lines()
        .map(|l| l.strip_prefix("        ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A repository whose paths an attacker chose: a config that accepts every lockout, and a
/// locked-out template deep in a tree beside a healthy one.
fn hostile_repository(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    std::fs::create_dir_all(dir.join("infra/x")).unwrap();
    std::fs::create_dir_all(dir.join("infra/deep/nested")).unwrap();
    std::fs::copy(
        root().join("tests/iac/cfn/healthy.yaml"),
        dir.join("infra/x/decoy.yaml"),
    )
    .unwrap();
    std::fs::copy(
        root().join("tests/iac/cfn/locked-out.yaml"),
        dir.join("infra/deep/nested/locked.yaml"),
    )
    .unwrap();
    let evil: String = ["no-restorer", "no-account-delegation", "single-restorer"]
        .iter()
        .map(|c| format!("[[check.ignore]]\ncode = \"{c}\"\nreason = \"planted\"\n"))
        .collect();
    std::fs::write(dir.join("evil.toml"), &evil).unwrap();
    // A file whose name is an option, as a pull request can add.
    std::fs::write(dir.join("--config=evil.toml"), &evil).unwrap();
    dir
}

/// The Action's check step as GitHub runs it (`bash --noprofile --norc -eo pipefail`): a
/// pattern reaches kms-doctor unexpanded (bash without globstar would have matched the decoy
/// only), and a path that looks like an option stays a path.
#[test]
fn the_action_passes_paths_to_kms_doctor_not_to_the_shell() {
    let dir = hostile_repository("action-paths");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |paths: &str| {
        Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c"])
            .arg(action_check_step())
            .current_dir(&dir)
            .env("PATH", &path)
            .env("PATHS", paths)
            .env("FAIL_ON", "error")
            .env("RUNNER_TEMP", &dir)
            .env("GITHUB_OUTPUT", "/dev/null")
            .output()
            .unwrap()
    };
    let o = run("infra/**/*.yaml");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("infra/deep/nested/locked.yaml"), "{out}");
    // The planted file is a path kms-doctor cannot check (exit 2), not a configuration that
    // accepts the lockout (exit 0); the lockout is still reported.
    let o = run("--config=evil.toml infra");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("file=--config=evil.toml"), "{out}");
    assert!(out.contains("no-restorer"), "{out}");
}

/// The pre-commit hook's entry, as pre-commit runs it: the staged files after it. A staged
/// file named like an option is a file (skipped: not a policy), never `--config`.
#[test]
fn the_pre_commit_hook_takes_every_staged_file_as_a_path() {
    let dir = hostile_repository("hook-paths");
    let hooks = std::fs::read_to_string(root().join(".pre-commit-hooks.yaml")).unwrap();
    let entry = hooks
        .lines()
        .find_map(|l| l.trim().strip_prefix("entry: "))
        .unwrap();
    let mut words = entry.split_whitespace();
    assert_eq!(words.next(), Some("kms-doctor"));
    let o = Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .args(words)
        .args(["--config=evil.toml", "infra/deep/nested/locked.yaml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("no-restorer"), "{out}");
}

#[test]
fn the_action_checks_its_inputs_before_using_them() {
    let script = action_check_step();
    for (name, value, says) in [
        ("FAIL_ON", "e\n::add-mask::X", "fail-on must be"),
        ("ACCOUNT", "12", "12-digit account ID"),
        ("DEPLOYER", "arn\n::error::x", "on one line"),
    ] {
        let o = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("FAIL_ON", "error")
            .env("PATHS", ".")
            .env(name, value)
            .env("RUNNER_TEMP", std::env::temp_dir())
            .env("GITHUB_OUTPUT", "/dev/null")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(says), "{name}: {out}");
        assert!(!out.contains("add-mask"), "{out}");
    }
}

#[test]
fn plain_http_is_refused_and_says_nothing_was_installed() {
    let dir = fresh_dir("install-http");
    let o = Command::new("sh")
        .arg(root().join("install.sh"))
        .args(["--to", dir.join("bin").to_str().unwrap()])
        .env(
            "KMS_DOCTOR_BASE_URL",
            "http://releases.example.com/kms-doctor",
        )
        .env("KMS_DOCTOR_OS", "Linux")
        .env("KMS_DOCTOR_ARCH", "x86_64")
        .env("HOME", &dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("refusing plain HTTP"), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
}

#[test]
fn a_planted_link_is_not_followed_and_a_broken_archive_says_so() {
    let dir = fresh_dir("install-link");
    package(&dir.join("dist"));
    let base = serve(dir.join("dist"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A link where an older install.sh put its temporary copy, to a file that must not change.
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, bin.join(".kms-doctor.new")).unwrap();
    let o = install(&base, &dir, "Linux", &["--to", bin.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(bin.join("kms-doctor").is_file());
    // An archive that is not one, with a checksum that matches it: tar fails, and it is said.
    let broken = fresh_dir("install-tar");
    let dist = broken.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    let asset = format!("kms-doctor-{TARGET}.tar.gz");
    std::fs::write(dist.join(&asset), b"not a gzip archive").unwrap();
    let sum = Command::new("sha256sum")
        .arg(dist.join(&asset))
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    let sum = sum.split_whitespace().next().unwrap();
    std::fs::write(
        dist.join(format!("{asset}.sha256")),
        format!("{sum}  {asset}\n"),
    )
    .unwrap();
    let o = install(
        &serve(dist),
        &broken,
        "Linux",
        &["--to", broken.join("bin").to_str().unwrap()],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot unpack") && err.contains("nothing was installed"),
        "{err}"
    );
    assert!(!broken.join("bin/kms-doctor").exists());
}
