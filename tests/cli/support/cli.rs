//! Running the built binary from tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `kms-doctor ARGS` in the project directory, as a user would run it.
/// Columns the tests' text reports wrap to, unless a test says otherwise: wide enough that
/// what a test looks for stays on one line (the wrapping has tests of its own, at 80).
pub const WIDE: &str = "1000";

pub fn kms_doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env("COLUMNS", WIDE)
        .output()
        .expect("the binary runs")
}

/// `kms-doctor` run in `dir`.
pub fn kms_doctor_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env("COLUMNS", WIDE)
        .output()
        .expect("the binary runs")
}

/// `kms-doctor` talking to `endpoint` with test credentials, and nothing of the machine's AWS
/// configuration (no profile, no config files, no instance metadata).
pub fn against(endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kms-doctor"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/kms-doctor-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/kms-doctor-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("COLUMNS", WIDE);
    cmd
}

/// A new, empty directory under the system's temporary directory, unique to this run and call
/// (tests of one binary run in parallel in one process).
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_finished_runs);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("kms-doctor-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a temporary directory");
    d
}

/// Removes the directories that earlier test runs left (`kms-doctor-NAME-PID-N`, their process
/// gone): an install test's is a gigabyte, and runs on one machine must not fill its disk.
fn sweep_finished_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("kms-doctor-") else {
            continue;
        };
        let mut parts = rest.rsplitn(3, '-');
        let (_n, pid) = (parts.next(), parts.next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        // Only where a process can be looked up (Linux): elsewhere nothing is removed.
        let proc = std::path::Path::new("/proc");
        if pid != std::process::id() && proc.is_dir() && !proc.join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Asserts the exit status, showing the binary's stderr when it is not the one expected.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

/// The moto_server that `.ci/run` starts (`KMS_DOCTOR_MOTO_URL`). The tests that call this are
/// `#[ignore]`d, so they only run when asked (`--include-ignored`), and then moto must be there.
pub fn moto_url() -> String {
    match std::env::var("KMS_DOCTOR_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "this test needs moto_server: set KMS_DOCTOR_MOTO_URL (.ci/run starts moto_server and sets it)"
        ),
    }
}

/// An SDK configuration that talks to moto (path-style S3 included by the caller).
pub async fn moto_config(moto: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .load()
        .await
}

/// Asserts that `log` is valid SARIF 2.1.0, by the published schema (`tests/data/`), and that
/// the check can fail: a result without its message is refused.
#[track_caller]
pub fn assert_valid_sarif(log: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::draft4::new(&schema).expect("the SARIF schema compiles");
    let problems: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    // The validator can fail: it refuses the same log broken (a result without its message,
    // or, with no result, a log without its version).
    let mut broken = log.clone();
    match broken["runs"][0]["results"][0].as_object_mut() {
        Some(result) => {
            result.remove("message");
        }
        None => {
            broken.as_object_mut().expect("a log").remove("version");
        }
    }
    assert!(
        !validator.is_valid(&broken),
        "the validator refuses a broken log"
    );
}

/// The scenario files' own arguments, less the format and redaction chosen by the caller.
pub fn scenario_args(file: &serde_json::Value) -> Vec<String> {
    let mut args = Vec::new();
    let mut given = file["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap());
    while let Some(a) = given.next() {
        match a {
            "--format" => {
                given.next();
            }
            "--redact" => {}
            other => args.push(other.to_owned()),
        }
    }
    args
}

/// The files of `dir` that end in `.ext`, sorted.
pub fn sorted_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
}

/// Runs `work` over `items` on four threads, each taking the next item when it is free (a
/// scenario that waits for a timeout holds up no other), and keeps their order.
pub fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(item) = items.get(i) else { break mine };
                        mine.push((i, work(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// A run of kms-doctor held to a time and a memory bound.
pub struct Bounded {
    pub output: Output,
    /// The largest resident set seen (`VmHWM` of `/proc/PID/status`, read while it ran), in KiB;
    /// 0 where the platform has no `/proc`.
    pub peak_kib: u64,
}

/// The peak resident set of a running process so far, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs kms-doctor with `args` in the package's directory; panics if it runs past `limit` or
/// its resident set grows past `max_mib` (it is killed first).
pub fn run_bounded(args: &[&str], limit: std::time::Duration, max_mib: u64) -> Bounded {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kms-doctor"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drain the pipes as it runs, so that a long report cannot block it.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).map(|_| b)
    });
    let started = std::time::Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if peak > max_mib * 1024 || started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "kms-doctor {args:?} passed its bound ({:?}, {} MiB; limit {limit:?}, {max_mib} MiB)",
                started.elapsed(),
                peak / 1024
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Bounded {
        output: Output {
            status,
            stdout: out.join().unwrap().unwrap(),
            stderr: err.join().unwrap().unwrap(),
        },
        peak_kib: peak,
    }
}
