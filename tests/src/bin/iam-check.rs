//! `iam-check --calls FILE [--calls FILE...] [--template infra/template.yaml]
//! [--exact]`: each function's IAM policy against the AWS calls recorded in the JSON
//! lines of `LIVECHAT_AWS_CALL_LOG` files (`livechat_aws::calls`). Prints per
//! function what it needs (recorded calls and the platform's), what it is granted,
//! and what is missing or (with `--exact`) granted beyond; exits with 1 when any
//! function fails, 2 on a usage or input error.

use std::process::ExitCode;

use livechat_tests::iam::{Template, check, read_calls};

const USAGE: &str = "usage: iam-check --calls FILE [--calls FILE...] [--template PATH] [--exact]
  --calls FILE     JSON lines of recorded calls (LIVECHAT_AWS_CALL_LOG); repeatable
  --template PATH  the SAM template (default infra/template.yaml)
  --exact          also fail on grants no recorded call or platform need uses";

fn main() -> ExitCode {
    let mut files = Vec::new();
    let mut template = String::from("infra/template.yaml");
    let mut exact = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--exact" => {
                exact = true;
                continue;
            }
            "--calls" | "--template" => args.next(),
            _ => None,
        };
        match (arg.as_str(), value) {
            ("--calls", Some(file)) => files.push(file),
            ("--template", Some(path)) => template = path,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    let mut calls = Vec::new();
    for file in &files {
        match read(file).and_then(|text| read_calls(&text).map_err(|e| format!("{file}: {e}"))) {
            Ok(more) => calls.extend(more),
            Err(e) => {
                eprintln!("iam-check: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let template =
        match read(&template).and_then(|t| Template::parse(&t).map_err(|e| e.to_string())) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("iam-check: {e}");
                return ExitCode::from(2);
            }
        };
    let reports = match check(&template, &calls) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("iam-check: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{} calls recorded in {}; {}",
        calls.len(),
        files.join(", "),
        if exact {
            "exact: nothing may be granted beyond them and the platform's needs"
        } else {
            "every recorded call must be allowed"
        }
    );
    let mut failed = 0;
    for report in &reports {
        print!("{report}");
        if !report.passes(exact) {
            failed += 1;
        }
    }
    if failed > 0 {
        println!("iam-check: {failed} function(s) fail");
        ExitCode::FAILURE
    } else {
        println!(
            "iam-check: every function's policy allows its calls{}",
            if exact { ", and only them" } else { "" }
        );
        ExitCode::SUCCESS
    }
}
