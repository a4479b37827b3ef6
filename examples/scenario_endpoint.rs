//! Serves one scenario of `tests/scenarios/` on 127.0.0.1, for benchmarks and for trying
//! kms-doctor by hand without AWS:
//!
//! ```sh
//! cargo run --example scenario_endpoint -- tests/scenarios/02-classic-lockout-alias.json [--delay-ms 50] [--port 4599]
//! AWS_ENDPOINT_URL=http://127.0.0.1:4599 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 \
//!   kms-doctor diagnose alias/payments
//! ```
//! It prints the endpoint's URL on its first line, then runs until killed.

// A tool of its own that prints to its own terminal.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

#[path = "../tests/cli/support/scenario.rs"]
mod scenario;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: scenario_endpoint SCENARIO.json [--delay-ms MS] [--port PORT]");
        std::process::exit(2);
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let text = std::fs::read_to_string(path).expect("read the scenario file");
    let file: serde_json::Value = serde_json::from_str(&text).expect("the scenario file is JSON");
    let mut scenario: scenario::Scenario =
        serde_json::from_value(file.get("scenario").cloned().unwrap_or(file)).expect("a scenario");
    if let Some(ms) = flag("--delay-ms") {
        scenario.delay_ms = ms;
    }
    let endpoint = scenario::start_on(scenario, flag("--port").unwrap_or(0) as u16);
    println!("{}", endpoint.url);
    std::io::stdout().flush().ok();
    loop {
        std::thread::park();
    }
}
