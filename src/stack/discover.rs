//! Finding the stack file in a directory, the way Compose does.

use std::path::{Path, PathBuf};

/// The names Compose looks for, in order.
pub const STACK_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The stack file in `working_dir`: compose.yaml, compose.yml, docker-compose.yaml,
/// docker-compose.yml, in that order.
pub fn discover(working_dir: &Path) -> Option<PathBuf> {
    STACK_FILE_NAMES
        .iter()
        .map(|name| working_dir.join(name))
        .find(|path| path.is_file())
}

/// The override file Compose merges on top of a discovered file (`compose.override.yaml` beside
/// `compose.yaml`, and so on), if there is one.
pub fn override_for(file: &Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    let stem = file.file_stem()?.to_str()?;
    ["yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.override.{ext}")))
        .find(|path| path.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_prefers_compose_yaml_then_the_others_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(discover(dir.path()), None);
        for name in STACK_FILE_NAMES.iter().rev() {
            std::fs::write(dir.path().join(name), "services: {}\n").expect("write");
            assert_eq!(discover(dir.path()), Some(dir.path().join(name)));
        }
    }

    #[test]
    fn override_file_is_found_beside_the_stack_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("compose.yaml");
        assert_eq!(override_for(&file), None);
        std::fs::write(dir.path().join("compose.override.yml"), "").expect("write");
        assert_eq!(
            override_for(&file),
            Some(dir.path().join("compose.override.yml"))
        );
    }
}
