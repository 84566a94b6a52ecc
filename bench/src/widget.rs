//! Widget weight: what a host page downloads, minified with esbuild and gzipped
//! (`gzip -9`), for our widget and for two peers' published npm packages (pinned in
//! `bench/package.json`, installed by `scripts/bench.sh`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::report::{Row, ratio};

fn gzip_len(bytes: &[u8]) -> Result<u64, String> {
    let mut child = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("gzip: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("gzip: no stdin")?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().map_err(|e| format!("gzip: {e}"))?;
    writer
        .join()
        .map_err(|_| "gzip writer panicked".to_string())?
        .map_err(|e| format!("gzip: {e}"))?;
    Ok(out.stdout.len() as u64)
}

/// Bundles and minifies the module `source` (its imports resolved from `bench/`)
/// with esbuild; `extra` adds flags.
fn esbuild(bench: &Path, source: &str, extra: &[&str]) -> Result<Vec<u8>, String> {
    let mut child = Command::new(bench.join("node_modules/.bin/esbuild"))
        .args([
            "--bundle",
            "--minify",
            "--log-level=error",
            "--define:process.env.NODE_ENV=\"production\"",
        ])
        .args(extra)
        .current_dir(bench)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("esbuild (run scripts/bench.sh, which installs it): {e}"))?;
    let mut stdin = child.stdin.take().ok_or("esbuild: no stdin")?;
    stdin
        .write_all(source.as_bytes())
        .map_err(|e| format!("esbuild: {e}"))?;
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("esbuild: {e}"))?;
    if !out.status.success() {
        return Err(format!("esbuild: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

/// Minifies one already-built file (no bundling).
fn minify(bench: &Path, file: &Path) -> Result<Vec<u8>, String> {
    let loader = if file.extension().is_some_and(|e| e == "css") {
        "css"
    } else {
        "js"
    };
    let out = Command::new(bench.join("node_modules/.bin/esbuild"))
        .args([
            "--minify",
            "--log-level=error",
            &format!("--loader={loader}"),
        ])
        .stdin(std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?)
        .output()
        .map_err(|e| format!("esbuild: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "esbuild {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1e3)
}

/// The widget rows.
pub fn run(repo: &Path) -> Result<Vec<Row>, String> {
    let bench = repo.join("bench");
    let ours = esbuild(
        &bench,
        "import '../web/widget/livechat.js';\n",
        &["--format=esm"],
    )?;
    let ours_gz = gzip_len(&ours)?;

    // Rocket.Chat: the loader the host page includes, then the app its iframe loads
    // (every .js and .css file the package ships, lazy chunks included).
    let rc_dir = bench.join("node_modules/@rocket.chat/livechat/build");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&rc_dir)
        .map_err(|e| format!("{} (run scripts/bench.sh): {e}", rc_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "js" || e == "css"))
        .collect();
    files.sort();
    let loader = rc_dir.join("rocketchat-livechat.min.js");
    let loader_gz = gzip_len(&minify(&bench, &loader)?)?;
    let mut rc_total = 0;
    for f in &files {
        rc_total += gzip_len(&minify(&bench, f)?)?;
    }

    // Papercups: the React component bundled with its dependencies; React itself
    // is the host's (a peer dependency), so it is left out, and counted separately.
    let entry = "import { ChatWidget } from '@papercups-io/chat-widget';\nwindow.PapercupsChatWidget = ChatWidget;\n";
    let papercups = esbuild(
        &bench,
        entry,
        &["--format=iife", "--external:react", "--external:react-dom"],
    )?;
    let pc_gz = gzip_len(&papercups)?;
    // A host page without React needs React and ReactDOM to render the component.
    let with_react = esbuild(
        &bench,
        "import { ChatWidget } from '@papercups-io/chat-widget';\nimport * as ReactDOM from 'react-dom';\nwindow.PapercupsChatWidget = [ChatWidget, ReactDOM];\n",
        &["--format=iife"],
    )?;
    let pc_react_gz = gzip_len(&with_react)?;

    let s = "6 widget weight";
    Ok(vec![
        Row::new(
            s,
            "our widget (web/widget, bundled, min+gzip)",
            kb(ours_gz),
            format!(
                "@rocket.chat/livechat 1.13.3: {} ({} files); loader alone {}",
                kb(rc_total),
                files.len(),
                kb(loader_gz)
            ),
            format!(
                "{} of Rocket.Chat's",
                ratio(ours_gz as f64, rc_total as f64)
            ),
        ),
        Row::new(
            s,
            "our widget (web/widget, bundled, min+gzip)",
            kb(ours_gz),
            format!(
                "@papercups-io/chat-widget 1.3.1: {} without React; {} with React 17 + ReactDOM",
                kb(pc_gz),
                kb(pc_react_gz)
            ),
            format!(
                "{} of Papercups' without React, {} with",
                ratio(ours_gz as f64, pc_gz as f64),
                ratio(ours_gz as f64, pc_react_gz as f64)
            ),
        ),
    ])
}
