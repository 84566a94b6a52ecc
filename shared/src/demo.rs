//! The demo account: `examples/demo-config.yaml` and the dialogs it names,
//! `examples/sales-dialog.yaml` and `examples/pricing-dialog.yaml`, compiled in so that the local gateway runs with
//! nothing but its binary, and tests share them.

use std::path::Path;

use crate::dialog::ValidDialog;
use crate::routing::Directory;

/// `examples/sales-dialog.yaml`.
pub const DIALOG_YAML: &str = include_str!("../../examples/sales-dialog.yaml");
/// `examples/pricing-dialog.yaml`, the demo site's pricing page's dialog.
pub const PRICING_DIALOG_YAML: &str = include_str!("../../examples/pricing-dialog.yaml");
/// `examples/demo-config.yaml` (its `dialogs` are the two above).
pub const CONFIG_YAML: &str = include_str!("../../examples/demo-config.yaml");

/// The demo configuration's path, as errors name it.
pub const CONFIG_PATH: &str = "examples/demo-config.yaml";

/// Why the demo configuration did not load (a broken edit of `examples/`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(String);

/// The demo directory, dialog included: agents ana, ben and cleo and the Marketing Admin mia, team `sales`.
pub fn directory() -> Result<Directory, DemoError> {
    let read = |path: &Path| -> std::io::Result<String> {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("demo-config.yaml") => Ok(CONFIG_YAML.to_string()),
            Some("sales-dialog.yaml") => Ok(DIALOG_YAML.to_string()),
            Some("pricing-dialog.yaml") => Ok(PRICING_DIALOG_YAML.to_string()),
            _ => Err(std::io::ErrorKind::NotFound.into()),
        }
    };
    crate::config::load(Path::new(CONFIG_PATH), read).map_err(|e| DemoError(e.to_string()))
}

/// The demo's first dialog (sales), validated against `directory`.
pub fn dialog(directory: &Directory) -> Result<ValidDialog, DemoError> {
    match directory.valid_dialog() {
        Some(Ok(dialog)) => Ok(dialog),
        Some(Err(errors)) => Err(DemoError(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
        None => Err(DemoError("the demo configuration has no dialog".into())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_directory_and_dialog_load_and_validate() {
        let directory = super::directory().unwrap();
        assert_eq!(directory.agents.len(), 4);
        assert!(super::dialog(&directory).is_ok());
        let widget = directory.widget.expect("the demo brands its widget");
        assert_eq!(widget.accent.to_string(), "#3b5bdb", "today's blue");
        assert_eq!(widget.position, crate::domain::Position::Right);
    }
}
