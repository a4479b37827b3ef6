//! Read any bytes as `check` reads a file: a CloudFormation template (YAML or JSON, every
//! intrinsic function evaluated), a Terraform plan or a bare policy. Nothing may panic, and the
//! evaluation's bounds keep every input within time and memory.
#![no_main]

use kms_doctor::evidence::iac::{Settings, read_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = read_str(
        text,
        std::path::Path::new("fuzz.yaml"),
        true,
        &Settings::default(),
    );
});
