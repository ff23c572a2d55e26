//! Behaviour of `load` as a whole: files on disk in a temporary project directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

struct Project {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
    profiles: Vec<String>,
    project_name: Option<String>,
}

impl Project {
    fn new() -> Project {
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/home/dev".to_string());
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
            env,
            profiles: Vec::new(),
            project_name: None,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(self, rel: &str, content: &str) -> Project {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, content).expect("write");
        self
    }

    fn env(mut self, key: &str, value: &str) -> Project {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    fn profile(mut self, p: &str) -> Project {
        self.profiles.push(p.to_string());
        self
    }

    fn load_files(&self, files: &[&str]) -> Result<Loaded, StackError> {
        load(&LoadOptions {
            files: files.iter().map(PathBuf::from).collect(),
            working_dir: self.dir.path().to_path_buf(),
            project_name: self.project_name.clone(),
            profiles: self.profiles.clone(),
            env: self.env.clone(),
        })
    }

    fn load(&self) -> Result<Loaded, StackError> {
        self.load_files(&[])
    }

    fn ok(&self) -> Loaded {
        match self.load() {
            Ok(loaded) => loaded,
            Err(e) => panic!("expected the stack to load, got:\n{e}"),
        }
    }

    fn err(&self) -> String {
        match self.load() {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }
}

fn compose(yaml: &str) -> Project {
    Project::new().file("compose.yaml", yaml)
}

fn service<'a>(loaded: &'a Loaded, name: &str) -> &'a Service {
    loaded
        .stack
        .services
        .get(name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// Asserts that loading fails with a message at `compose.yaml:LINE:` containing `needle`.
fn assert_error(project: &Project, line: usize, needle: &str) {
    let message = project.err();
    let at = format!("compose.yaml:{line}:");
    assert!(
        message
            .lines()
            .any(|l| l.contains(&at) && l.contains(needle)),
        "expected `{at}` … `{needle}` in:\n{message}"
    );
}

fn warnings(loaded: &Loaded) -> String {
    loaded
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

mod files;
mod key_checks;
mod loading;
mod service_keys;
