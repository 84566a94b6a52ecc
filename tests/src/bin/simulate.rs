//! Long simulation runs: `cargo run --release -p livechat-tests --bin simulate --
//! --seeds 10000` runs seeds 1 to 10000 and prints progress, steps per second,
//! faults injected by kind and invariant violations; `--seed N --trace` replays one
//! seed and prints its whole trace. Exits with 1 when an invariant broke in a way
//! that matches no known core bug (`KNOWN_BUGS`).
//! See `docs/simulation.md`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use livechat_tests::sim::{Config, FaultRates, run};

const USAGE: &str = "usage: simulate [--seeds N] [--first N] [--seed N] [--steps N] [--visitors N] [--batch N] [--faults X] [--queue SECS] [--broken-cursor] [--trace]
  --seeds N        run N seeds (default 100), starting at --first (default 1)
  --seed N         run only seed N
  --steps N        steps per seed (default 300)
  --visitors N     visitors per run (default 24)
  --batch N        at most N people act at once in a step (default 6)
  --faults X       multiply every fault rate by X (default 1; 0 turns faults off)
  --queue SECS     the account has a live queue of SECS (settings.queue_wait_limit)
  --broken-cursor  the self-test's deliberate bug: round robin ignores the cursor's version
  --trace          print the whole trace of each run (use with --seed)";

struct Args {
    first: u64,
    count: u64,
    config: Config,
    trace: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        first: 1,
        count: 100,
        config: Config::default(),
        trace: false,
    };
    let mut it = std::env::args().skip(1);
    let number = |it: &mut dyn Iterator<Item = String>, name: &str| -> Result<String, String> {
        it.next().ok_or_else(|| format!("{name} needs a value"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seeds" => {
                args.count = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?
            }
            "--first" => {
                args.first = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?
            }
            "--seed" => {
                args.first = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?;
                args.count = 1;
            }
            "--steps" => {
                args.config.steps = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?
            }
            "--visitors" => {
                args.config.visitors = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?
            }
            "--batch" => {
                args.config.max_batch = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?
            }
            "--faults" => {
                let factor: f64 = number(&mut it, &arg)?
                    .parse()
                    .map_err(|e| format!("{arg}: {e}"))?;
                args.config.rates = FaultRates::scaled(FaultRates::standard(), factor);
            }
            "--queue" => {
                args.config.queue_wait_limit = Some(
                    number(&mut it, &arg)?
                        .parse()
                        .map_err(|e| format!("{arg}: {e}"))?,
                )
            }
            "--broken-cursor" => args.config.broken_cursor = true,
            "--trace" => args.trace = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.trace {
        args.config.keep_trace = usize::MAX;
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let mut steps = 0u64;
    let mut calls = 0u64;
    let mut faults: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut offers: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut digest: u64 = 0;
    let mut failed = Vec::new();
    let mut violations: BTreeMap<String, u64> = BTreeMap::new();
    let mut new_violations = 0usize;
    let mut last_print = Instant::now();
    for seed in args.first..args.first + args.count {
        let report = run(seed, &args.config);
        steps += report.steps;
        calls += report.calls;
        digest = digest.rotate_left(5) ^ report.trace_hash;
        for (kind, n) in &report.faults {
            *faults.entry(kind).or_default() += n;
        }
        for (pool, by_agent) in &report.offers {
            for (agent, n) in by_agent {
                *offers
                    .entry(pool.clone())
                    .or_default()
                    .entry(agent.clone())
                    .or_default() += n;
            }
        }
        if args.trace {
            for line in &report.trace {
                println!("{line}");
            }
        }
        for v in &report.violations {
            let key = match v.known {
                Some(bug) => format!("{} (known bug {bug})", v.invariant),
                None => v.invariant.to_string(),
            };
            *violations.entry(key).or_default() += 1;
        }
        if !report.new_violations().is_empty() {
            new_violations += report.new_violations().len();
            eprintln!("{}", report.failure());
            failed.push(seed);
        } else if args.count == 1 && !report.violations.is_empty() {
            eprintln!("{}", report.failure());
        }
        if last_print.elapsed().as_secs() >= 5 {
            last_print = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "seed {seed} ({}/{}): {steps} steps, {:.0} steps/s, {} failing seeds",
                seed - args.first + 1,
                args.count,
                steps as f64 / secs,
                failed.len()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeds {}..={}: {steps} steps, {calls} handler calls in {secs:.1} s: {:.0} steps/s, {:.0} calls/s",
        args.first,
        args.first + args.count - 1,
        steps as f64 / secs,
        calls as f64 / secs,
    );
    println!("trace digest: {digest:016x} (equal on every run of the same seeds and flags)");
    println!("faults injected by kind:");
    for (kind, n) in &faults {
        println!("  {kind:<28} {n}");
    }
    println!("round-robin offers by pool and agent:");
    for (pool, by_agent) in &offers {
        let counts: Vec<String> = by_agent.iter().map(|(a, n)| format!("{a} {n}")).collect();
        println!("  {pool:<12} {}", counts.join(", "));
    }
    let known: u64 = violations
        .iter()
        .filter(|(k, _)| k.contains("known bug"))
        .map(|(_, n)| n)
        .sum();
    println!("invariant violations: {new_violations} (plus {known} matching known core bugs)");
    for (invariant, n) in &violations {
        println!("  {invariant:<48} {n}");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failing seeds: {failed:?}");
        ExitCode::FAILURE
    }
}
