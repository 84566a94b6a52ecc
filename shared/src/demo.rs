//! The demo account: the example dialog and directory in `examples/`, compiled in so
//! that the local gateway runs with nothing but its binary, and tests share them.

use crate::dialog::{Dialog, ValidDialog, validate};
use crate::routing::Directory;

/// `examples/sales-dialog.yaml`.
pub const DIALOG_YAML: &str = include_str!("../../examples/sales-dialog.yaml");
/// `examples/demo-directory.yaml`.
pub const DIRECTORY_YAML: &str = include_str!("../../examples/demo-directory.yaml");

/// Why the demo configuration did not load (a broken edit of `examples/`).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("examples/demo-directory.yaml: {0}")]
    Directory(String),
    #[error("examples/sales-dialog.yaml: {0}")]
    Dialog(String),
}

/// The demo directory: agents ana, ben and cleo, team `sales`.
pub fn directory() -> Result<Directory, DemoError> {
    let directory: Directory =
        serde_saphyr::from_str(DIRECTORY_YAML).map_err(|e| DemoError::Directory(e.to_string()))?;
    directory.validate().map_err(|errors| {
        DemoError::Directory(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Ok(directory)
}

/// The demo dialog, validated against `directory`.
pub fn dialog(directory: &Directory) -> Result<ValidDialog, DemoError> {
    let dialog = Dialog::from_yaml(DIALOG_YAML).map_err(|e| DemoError::Dialog(e.to_string()))?;
    validate(&dialog, &directory.targets()).map_err(|errors| {
        DemoError::Dialog(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_directory_and_dialog_load_and_validate() {
        let directory = super::directory().unwrap();
        assert_eq!(directory.agents.len(), 3);
        assert!(super::dialog(&directory).is_ok());
    }
}
