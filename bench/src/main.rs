//! `bench`: where the live chat stands against its peers and its limits. Every figure
//! is measured side by side, in the same run, with its reference, so that a ratio
//! means something on a noisy machine. Progress goes to stderr, the table to stdout
//! and, with the machine it ran on, to `docs/benchmarks.md`. Run it with
//! `scripts/bench.sh`, which builds the release binaries and starts DynamoDB Local.
//!
//! # Layout
//! - [`coldstart`]: a local Lambda Runtime API; each function binary exec'd against it.
//! - [`relay`]: the local gateway (`livechat dev`) and a bare WebSocket echo server
//!   on the same stack, driven by real WebSocket clients; the load test.
//! - [`store`]: DynamoDB requests per use case, the sample app's Scan, routing
//!   contention and a naive cursor, all on DynamoDB Local.
//! - [`widget`]: our widget's weight beside two peers' published packages.
//! - [`cost`]: the cost of 1,000 chats on AWS from what the other sections counted.
//! - [`report`], [`machine`]: the table and the machine facts.

mod coldstart;
mod cost;
mod machine;
mod relay;
mod report;
mod store;
mod widget;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use report::{Row, ratio};

/// Which sections to run (`--only 1,3`), where to write (`--out`), how many cold
/// starts per binary (`--runs`).
struct Args {
    only: Option<Vec<u32>>,
    out: PathBuf,
    runs: usize,
}

fn parse_args(repo: &Path) -> Result<Args, String> {
    let mut args = Args {
        only: None,
        out: repo.join("docs/benchmarks.md"),
        runs: 9,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--only" => {
                args.only = Some(
                    value()?
                        .split(',')
                        .map(|s| s.trim().parse::<u32>().map_err(|e| format!("--only: {e}")))
                        .collect::<Result<_, _>>()?,
                )
            }
            "--out" => args.out = PathBuf::from(value()?),
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: bench [--only 1,2,...] [--out FILE] [--runs N]"
                ));
            }
        }
    }
    Ok(args)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("echo-server") {
        return relay::echo_server_main().await;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match run(&repo).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(repo: &Path) -> Result<(), String> {
    let args = parse_args(repo)?;
    let started = Instant::now();
    let progress = move |line: String| {
        eprintln!("[{:>6.1}s] {line}", started.elapsed().as_secs_f64());
    };
    let wanted = |n: u32| args.only.as_ref().is_none_or(|o| o.contains(&n));
    let endpoint = std::env::var("DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .ok_or("DYNAMODB_ENDPOINT is not set: run scripts/bench.sh, which starts DynamoDB Local")?;

    let mut rows: Vec<Row> = Vec::new();
    let mut measured = cost::Measured::default();

    // A section that fails leaves a row saying why; the others still run.
    let failed = |section: &'static str, e: String| {
        progress(format!("{section} FAILED: {e}"));
        vec![Row::new(section, "FAILED", e, "-", "-")]
    };
    if wanted(1) {
        progress("1 cold start".into());
        match cold_start(repo, &endpoint, args.runs, &progress).await {
            Ok(cold) => {
                rows.extend(cold_rows(&cold, args.runs));
                measured.cold = Some(cold);
            }
            Err(e) => rows.extend(failed("1 cold start", e)),
        }
        rows.extend(size_rows(repo));
    }
    if wanted(2) || wanted(5) {
        match relay::run(&endpoint, wanted(2), wanted(5), &mut measured, &progress).await {
            Ok(r) => rows.extend(r),
            Err(e) => rows.extend(failed("2/5 relay, load", e)),
        }
    }
    if wanted(3) || wanted(4) {
        match store::run(
            &endpoint,
            wanted(3),
            wanted(4),
            &mut rows,
            &mut measured,
            &progress,
        )
        .await
        {
            Ok(()) => {}
            Err(e) => rows.extend(failed("3/4 store, contention", e)),
        }
    }
    if wanted(6) {
        progress("6 widget weight".into());
        match widget::run(repo) {
            Ok(r) => rows.extend(r),
            Err(e) => rows.extend(failed("6 widget weight", e)),
        }
    }
    if wanted(7) {
        rows.extend(cost::rows(&measured));
    }

    let total = started.elapsed().as_secs_f64();
    println!("{}", report::text(&rows));
    println!("total run time: {total:.0} s");
    let doc = document(&rows, total, &args);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&args.out, doc).map_err(|e| format!("{}: {e}", args.out.display()))?;
    progress(format!("wrote {}", args.out.display()));
    Ok(())
}

async fn cold_start(
    repo: &Path,
    endpoint: &str,
    runs: usize,
    progress: &dyn Fn(String),
) -> Result<coldstart::ColdStart, String> {
    let table = format!(
        "bench-coldstart-{}",
        livechat_core::domain::new_ulid().to_lowercase()
    );
    let (client, _) = livechat_tests::dynamodb::client(endpoint);
    livechat_aws::dynamo::table::create(&client, &table)
        .await
        .map_err(|e| format!("create {table}: {e}"))?;
    coldstart::measure(repo, endpoint, &table, runs, progress).await
}

fn cold_rows(cold: &coldstart::ColdStart, runs: usize) -> Vec<Row> {
    let s = "1 cold start";
    let (rust_ms, rust_mb) = coldstart::PUBLISHED_RUST;
    let (node_ms, node_mb) = coldstart::PUBLISHED_NODE;
    let h = &cold.hello;
    let mut rows = vec![Row::new(
        s,
        format!("hello-world lambda_runtime binary, here (median of {runs})"),
        format!("{:.1} ms, {}", h.init_ms, machine::mb(h.rss)),
        format!("published: Rust {rust_ms} ms / {rust_mb} MB; Node.js {node_ms} ms / {node_mb} MB"),
        "the local reference for the rows below",
    )];
    for (name, warm, cold_) in &cold.functions {
        rows.push(Row::new(
            s,
            format!("{name}: exec to first `next` (init), with pre-warm (without); peak RSS"),
            format!(
                "{:.1} ms ({:.1} ms), {}",
                warm.init_ms,
                cold_.init_ms,
                machine::mb(warm.rss)
            ),
            format!("hello {:.1} ms, {}", h.init_ms, machine::mb(h.rss)),
            format!(
                "{} time, {} memory; vs published Node.js {}",
                ratio(warm.init_ms, h.init_ms),
                ratio(warm.rss as f64, h.rss as f64),
                ratio(warm.init_ms, node_ms)
            ),
        ));
        rows.push(Row::new(
            s,
            format!("{name}: first invocation, with pre-warm (without)"),
            format!(
                "{:.1} ms ({:.1} ms)",
                warm.first_invoke_ms, cold_.first_invoke_ms
            ),
            format!("hello {:.2} ms", h.first_invoke_ms),
            format!(
                "pre-warm saves {:.1} ms of the first request; init + first request {:.1} ms ({:.1} ms)",
                cold_.first_invoke_ms - warm.first_invoke_ms,
                warm.init_ms + warm.first_invoke_ms,
                cold_.init_ms + cold_.first_invoke_ms
            ),
        ));
    }
    rows
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The binaries' sizes, and the deployable zips': those `scripts/sam-build.sh` makes of
/// `sam build`'s output, as `sam deploy` uploads them (`infra/.aws-sam/zips/<f>.zip`).
fn size_rows(repo: &Path) -> Vec<Row> {
    let dir = coldstart::release_dir();
    let zips = repo.join("infra/.aws-sam/zips");
    let hello = file_size(&dir.join("hello-lambda")).unwrap_or(0);
    let mut rows = Vec::new();
    for f in &coldstart::FUNCTIONS {
        let bin = file_size(&dir.join(f.name)).unwrap_or(0);
        rows.push(Row::new(
            "1 cold start",
            format!("{}: release binary (x86_64 host)", f.name),
            machine::mb(bin),
            format!("hello {}", machine::mb(hello)),
            ratio(bin as f64, hello as f64),
        ));
        let zip = file_size(&zips.join(format!("{}.zip", f.name)));
        rows.push(Row::new(
            "1 cold start",
            format!("{}: deployed zip (arm64, sam build)", f.name),
            zip.map_or("not built (scripts/sam-build.sh)".into(), machine::mb),
            "Lambda's limit for a zip uploaded directly: 50 MB",
            zip.map_or("-".into(), |z| {
                format!("{:.0}% of the limit", z as f64 / 50e6 * 100.0)
            }),
        ));
    }
    rows
}

fn document(rows: &[Row], total: f64, args: &Args) -> String {
    let mut doc = String::from(
        "# Benchmarks\n\nWritten by `scripts/bench.sh` (the `bench` binary in `bench/`); do not edit by hand.\n\
         Every figure is measured in the same run as the reference beside it, so the ratios hold on a noisy \
         machine even when the absolute numbers do not. How each figure is taken, and its caveats, follow the table.\n\n## Machine\n\n",
    );
    for (k, v) in machine::facts() {
        doc += &format!("- {k}: {v}\n");
    }
    let script = std::env::var("BENCH_SCRIPT_STARTED")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| jiff::Timestamp::now().as_second() - s);
    if let Some(secs) = script {
        doc += &format!(
            "- `scripts/bench.sh` from start to the table, builds and installs included: {secs} s\n"
        );
    }
    doc += &format!(
        "- sections run: {}\n- run time of the `bench` binary: {total:.0} s\n\n## Results\n\n",
        args.only
            .as_ref()
            .map_or("all".to_string(), |o| format!("{o:?}"))
    );
    doc += &report::markdown(rows);
    doc += "\n";
    doc += CAVEATS;
    doc += "\n";
    doc += METHOD;
    doc += cost::NOTES;
    doc
}

/// What the figures do not say; appended to the document.
const CAVEATS: &str = include_str!("caveats.md");
/// How the figures are taken; appended to the document.
const METHOD: &str = include_str!("method.md");
