//! A configuration file, as `livechat dev`, `livechat validate` and the functions'
//! cold start read it: [`config::load`] parses and validates it whole, reading the
//! `dialog_file` it names through the same callback.
//!
//! The input is `FORMAT CONFIG [NUL DIALOG]`: the first byte is `j` for a JSON
//! configuration (anything else: YAML), then the configuration's text, then, after a
//! NUL byte, the text any other file read returns (the dialog file, whatever its name).
//!
//! Beyond "no panic":
//! - a loaded directory validates, and so does its dialog;
//! - it serialises to JSON and loads back from that JSON to the same directory (the
//!   directory store keeps it as JSON);
//! - a refusal names at least one problem, each with a 1-based line when it has one.
#![no_main]

use std::io;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use livechat_core::config;
use livechat_core::routing::Directory;

fuzz_target!(|data: &[u8]| {
    let Some((&format, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (config_text, other) = match text.split_once('\0') {
        Some((config_text, other)) => (config_text, Some(other)),
        None => (text, None),
    };
    let file = if format == b'j' {
        Path::new("conf/livechat.json")
    } else {
        Path::new("conf/livechat.yaml")
    };
    let read = |path: &Path| -> io::Result<String> {
        if path == file {
            Ok(config_text.to_string())
        } else {
            other
                .map(str::to_string)
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
    };
    match config::load(file, read) {
        Ok(directory) => check_loaded(&directory),
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a refusal without a reason");
            for e in &errors.0 {
                assert!(e.line.is_none_or(|l| l >= 1), "{e}");
            }
        }
    }
});

fn check_loaded(directory: &Directory) {
    assert_eq!(directory.validate(), Ok(()));
    assert!(directory.valid_dialog().is_none_or(|d| d.is_ok()));
    let json = serde_json::to_string(directory).expect("a directory serialises");
    let stored: Directory =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e} reading back {json}"));
    assert_eq!(&stored, directory, "{json}");
    let path = Path::new("stored.json");
    let reloaded = config::load(path, |_| Ok(json.clone()))
        .unwrap_or_else(|e| panic!("{e} loading back {json}"));
    assert_eq!(&reloaded, directory, "{json}");
}
