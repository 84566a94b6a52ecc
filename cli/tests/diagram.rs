//! `livechat diagram` as a user runs it: the binary, its arguments, its files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn livechat(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_livechat"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

#[test]
fn the_demo_dialog_is_drawn_as_the_svg_docs_dialogs_md_shows() {
    let out = livechat(&[
        "diagram",
        "examples/sales-dialog.yaml",
        "--config",
        "examples/demo-config.yaml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("team sales · fallback: the standard message"));
    // The picture in the docs is this command's output, byte for byte: regenerate
    // it with the command in docs/dialogs.md when the dialog or the drawing changes.
    let committed = std::fs::read_to_string(repo().join("docs/sales-dialog.svg")).unwrap();
    assert_eq!(svg, committed, "docs/sales-dialog.svg is out of date");
}

#[test]
fn mermaid_goes_to_the_output_file_and_a_configuration_file_draws_its_dialog() {
    let dir = std::env::temp_dir().join(format!("livechat-diagram-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sales.mmd");
    let out = livechat(&[
        "diagram",
        "examples/demo-config.yaml",
        "--mermaid",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "written to the file, not printed");
    let mermaid = std::fs::read_to_string(&file).unwrap();
    assert!(mermaid.starts_with("flowchart TD\n"), "{mermaid}");
    assert!(mermaid.contains(" -->|Yes| "), "{mermaid}");
    assert!(mermaid.contains("agent ana · fallback: the standard message"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_is_not_a_dialog_fails_with_its_name_and_line() {
    let dir = std::env::temp_dir().join(format!("livechat-diagram-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "id: d\nname: D\nstart: a\ncards:\n  - id: a\n    type: nope\n",
    )
    .unwrap();
    let out = livechat(&["diagram", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.yaml") && err.contains("line 6"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
