//! What a service's image is built from, as one hash, and the record of the inputs each image
//! was last built from (`build-inputs.json` in the project's state dir). `up` rebuilds exactly
//! the services whose inputs changed since — edits made while no daemon ran included — and
//! builds nothing when none did.
//!
//! The inputs: for a Dockerfile build, the context without what `.dockerignore` excludes, and
//! the build's definition; for a `cargo build … -p PACKAGE` host build, the workspace's root
//! files (`Cargo.toml`, `Cargo.lock`, `.cargo/config.toml`, the toolchain file) and the
//! directories of the package and of the path dependencies it builds on, so that an edit in one
//! service does not rebuild the others; for any other host build, its whole workdir but the
//! folder its artifact is written to. Files git ignores and `target/` folders never count. A
//! file counts by path, size and modification time (what cargo goes by too), not by content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::stack::model::{Build, HostBuild, Service};

/// Root files of a Cargo workspace that change what any of its packages builds to.
const WORKSPACE_FILES: [&str; 5] = [
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/config.toml",
    ".cargo/config",
    "rust-toolchain.toml",
];

/// The hash of what the service's image is built from, `on_host` with its host build, else
/// from its `build:`; `None` when it has neither or its inputs cannot be read.
pub fn fingerprint(svc: &Service, on_host: bool) -> Option<String> {
    match (&svc.novadev.host_build, &svc.build) {
        (Some(hb), _) if on_host => digest(&serde_json::to_vec(hb).ok()?, &host_build_files(hb)),
        (_, Some(build)) => digest(&serde_json::to_vec(build).ok()?, &context_files(build)?),
        _ => None,
    }
}

/// The hash of a build's definition and its files (path in the build, path on disk).
fn digest(definition: &[u8], files: &[(PathBuf, PathBuf)]) -> Option<String> {
    let mut hasher = Sha256::new();
    hasher.update((definition.len() as u64).to_le_bytes());
    hasher.update(definition);
    for (rel, path) in files {
        hash_file(&mut hasher, rel, path)?;
    }
    Some(hex::encode(hasher.finalize()))
}

/// A file counts by its path, size and modification time, as cargo's own fingerprints do: an
/// `up` reads no file's content, however large the context.
fn hash_file(hasher: &mut Sha256, rel: &Path, path: &Path) -> Option<()> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let name = rel.to_string_lossy();
    // Length-prefixed, so that no two trees hash alike by shifting bytes between fields.
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    hasher.update(meta.len().to_le_bytes());
    hasher.update(modified.as_secs().to_le_bytes());
    hasher.update(modified.subsec_nanos().to_le_bytes());
    Some(())
}

/// The files of a Dockerfile build's context, as the engine gets them, sorted.
fn context_files(build: &Build) -> Option<Vec<(PathBuf, PathBuf)>> {
    let entries = super::context_entries("", build).ok()?;
    Some(
        entries
            .into_iter()
            .filter(|e| !e.is_dir)
            .map(|e| (e.rel, e.path))
            .collect(),
    )
}

/// The files a host build reads, relative to its workdir, sorted.
fn host_build_files(hb: &HostBuild) -> Vec<(PathBuf, PathBuf)> {
    let root = &hb.workdir;
    let dirs = super::cargo::cargo_package(hb)
        .and_then(|(_, package)| package_dirs(root, &package))
        .map(|dirs| {
            let mut files: Vec<(PathBuf, PathBuf)> = WORKSPACE_FILES
                .iter()
                .map(|f| (PathBuf::from(f), root.join(f)))
                .filter(|(_, p)| p.is_file())
                .collect();
            for dir in dirs {
                files.extend(tree_files(root, &dir, None));
            }
            files
        });
    let mut files = dirs.unwrap_or_else(|| {
        // Not a cargo package this can follow: the whole workdir but where the artifact goes.
        let output = hb
            .artifact
            .strip_prefix(root)
            .ok()
            .and_then(|rel| rel.components().next())
            .map(|c| root.join(c.as_os_str()));
        tree_files(root, root, output.as_deref())
    });
    files.sort();
    files.dedup();
    files
}

/// Files under `dir` (relative to `root`) that git does not ignore, without `target/` folders,
/// hidden entries and `skip`.
fn tree_files(root: &Path, dir: &Path, skip: Option<&Path>) -> Vec<(PathBuf, PathBuf)> {
    let skip = skip.map(Path::to_path_buf);
    let walker = ignore::WalkBuilder::new(dir)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            e.file_name() != "target" && skip.as_deref().is_none_or(|s| e.path() != s)
        })
        .build();
    walker
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .filter_map(|e| {
            let rel = e.path().strip_prefix(root).ok()?.to_path_buf();
            Some((rel, e.path().to_path_buf()))
        })
        .collect()
}

/// The directories of `package` and of the workspace's path dependencies it builds on.
fn package_dirs(root: &Path, package: &str) -> Option<BTreeSet<PathBuf>> {
    let manifest = read_manifest(&root.join("Cargo.toml"))?;
    let workspace = manifest.get("workspace")?.as_table()?;
    let mut members: BTreeMap<String, PathBuf> = BTreeMap::new();
    for member in workspace.get("members")?.as_array()? {
        for dir in expand_member(root, member.as_str()?) {
            if let Some(name) = read_manifest(&dir.join("Cargo.toml"))
                .and_then(|m| Some(m.get("package")?.get("name")?.as_str()?.to_string()))
            {
                members.insert(name, dir);
            }
        }
    }
    // `[workspace.dependencies]` entries with a path, for members' `x.workspace = true`.
    let shared: BTreeMap<String, PathBuf> = workspace
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|table| {
            table
                .iter()
                .filter_map(|(name, spec)| {
                    Some((name.clone(), root.join(spec.get("path")?.as_str()?)))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut dirs = BTreeSet::new();
    let mut todo = vec![members.get(package)?.clone()];
    while let Some(dir) = todo.pop() {
        if !dirs.insert(dir.clone()) {
            continue;
        }
        let Some(manifest) = read_manifest(&dir.join("Cargo.toml")) else {
            continue;
        };
        for section in ["dependencies", "build-dependencies"] {
            let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for (name, spec) in deps {
                if let Some(path) = spec.get("path").and_then(|p| p.as_str()) {
                    todo.push(dir.join(path));
                } else if spec.get("workspace").and_then(|w| w.as_bool()) == Some(true)
                    && let Some(path) = shared.get(name)
                {
                    todo.push(path.clone());
                }
            }
        }
    }
    Some(dirs)
}

fn read_manifest(path: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

/// A `members` entry: a folder, or a folder's subfolders for `dir/*`.
fn expand_member(root: &Path, member: &str) -> Vec<PathBuf> {
    match member.strip_suffix("/*") {
        Some(parent) => std::fs::read_dir(root.join(parent))
            .map(|entries| {
                let mut dirs: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.join("Cargo.toml").is_file())
                    .collect();
                dirs.sort();
                dirs
            })
            .unwrap_or_default(),
        None => vec![root.join(member)],
    }
}

/// What each service's image was last built from.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub services: BTreeMap<String, Built>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Built {
    pub inputs: String,
    pub image_id: String,
}

/// Serialises the record's read-modify-write within the daemon.
static RECORD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn record_path(project: &str) -> PathBuf {
    crate::paths::ProjectPaths::for_project(project)
        .dir
        .join("build-inputs.json")
}

impl Record {
    pub fn load(path: &Path) -> Record {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Whether the image `image_id` of `service` was built from `inputs`.
    pub fn is_current(&self, service: &str, inputs: &str, image_id: &str) -> bool {
        self.services
            .get(service)
            .is_some_and(|b| b.inputs == inputs && b.image_id == image_id)
    }
}

/// Whether the image `image_id` of the service (of `project`) was built by novadev from the
/// inputs it has now. `None` when its inputs cannot be told (then the image is taken as it is).
pub fn is_current(project: &str, svc: &Service, on_host: bool, image_id: &str) -> Option<bool> {
    let inputs = fingerprint(svc, on_host)?;
    Some(Record::load(&record_path(project)).is_current(&svc.name, &inputs, image_id))
}

/// Note that `service`'s image `image_id` was built from `inputs`. A failure to write is only
/// logged: the next `up` then builds once more.
pub fn remember(project: &str, service: &str, inputs: String, image_id: String) {
    let path = record_path(project);
    let Ok(_guard) = RECORD_LOCK.lock() else {
        return;
    };
    let mut record = Record::load(&path);
    record
        .services
        .insert(service.to_string(), Built { inputs, image_id });
    let written = serde_json::to_vec_pretty(&record)
        .map_err(std::io::Error::other)
        .and_then(|bytes| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            crate::paths::write_atomic(&path, &bytes, 0o600)
        });
    if let Err(e) = written {
        tracing::warn!(service, error = %e, path = %path.display(), "cannot record the build's inputs");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nmembers = [\"rt\", \"svcs/*\"]\n[workspace.dependencies]\nrt = { path = \"rt\" }\n",
        );
        write("Cargo.lock", "# lock\n");
        write("rt/Cargo.toml", "[package]\nname = \"rt\"\n");
        write("rt/src/lib.rs", "pub fn f() {}\n");
        write(
            "svcs/a/Cargo.toml",
            "[package]\nname = \"a\"\n[dependencies]\nrt.workspace = true\n",
        );
        write("svcs/a/src/main.rs", "fn main() {}\n");
        write("svcs/b/Cargo.toml", "[package]\nname = \"b\"\n");
        write("svcs/b/src/main.rs", "fn main() {}\n");
        write("target/release/a", "ELF");
        write(".gitignore", "*.tmp\n");
        write("svcs/a/src/scratch.tmp", "x");
        dir
    }

    fn hb(root: &Path, package: &str) -> HostBuild {
        HostBuild {
            command: ["cargo", "build", "--release", "-p", package]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            workdir: root.to_path_buf(),
            artifact: root.join("target/release").join(package),
            base_image: "debian:bookworm-slim".into(),
            install_path: format!("/usr/local/bin/{package}"),
            live: false,
        }
    }

    fn names(files: &[(PathBuf, PathBuf)]) -> Vec<String> {
        files.iter().map(|(r, _)| r.display().to_string()).collect()
    }

    #[test]
    fn a_cargo_package_depends_on_its_own_tree_its_path_dependencies_and_the_root_files() {
        let ws = workspace();
        let files = names(&host_build_files(&hb(ws.path(), "a")));
        assert_eq!(
            files,
            [
                "Cargo.lock",
                "Cargo.toml",
                "rt/Cargo.toml",
                "rt/src/lib.rs",
                "svcs/a/Cargo.toml",
                "svcs/a/src/main.rs"
            ]
        );
        let files = names(&host_build_files(&hb(ws.path(), "b")));
        assert!(
            !files
                .iter()
                .any(|f| f.starts_with("svcs/a") || f.starts_with("rt/")),
            "{files:?}"
        );
    }

    #[test]
    fn another_command_depends_on_its_workdir_but_its_output() {
        let ws = workspace();
        let mut build = hb(ws.path(), "a");
        build.command = vec!["make".into()];
        let files = names(&host_build_files(&build));
        assert!(files.contains(&"svcs/b/src/main.rs".to_string()));
        assert!(!files.iter().any(|f| f.starts_with("target")), "{files:?}");
        assert!(
            !files.iter().any(|f| f.ends_with(".tmp")),
            "git-ignored files do not count"
        );
    }

    #[test]
    fn the_digest_changes_with_a_file_or_the_definition_and_only_then() {
        let ws = workspace();
        let files = host_build_files(&hb(ws.path(), "a"));
        let first = digest(b"cargo build -p a", &files).unwrap();
        assert_eq!(
            digest(b"cargo build -p a", &files).unwrap(),
            first,
            "stable"
        );
        assert_ne!(
            digest(b"cargo build -p b", &files).unwrap(),
            first,
            "definition"
        );
        // An edit (a new size and modification time) to a path dependency of `a`.
        let lib = ws.path().join("rt/src/lib.rs");
        fs::write(&lib, "pub fn f() { let _ = 1; }\n").unwrap();
        let edited = digest(b"cargo build -p a", &files).unwrap();
        assert_ne!(edited, first);
        fs::remove_file(&lib).unwrap();
        assert_eq!(
            digest(b"cargo build -p a", &files),
            None,
            "a file gone: unknown"
        );
    }

    #[test]
    fn the_record_says_current_only_for_the_same_inputs_and_image() {
        let mut record = Record::default();
        record.services.insert(
            "a".into(),
            Built {
                inputs: "h1".into(),
                image_id: "sha256:1".into(),
            },
        );
        assert!(record.is_current("a", "h1", "sha256:1"));
        assert!(!record.is_current("a", "h2", "sha256:1"), "inputs changed");
        assert!(
            !record.is_current("a", "h1", "sha256:2"),
            "the image was replaced by hand"
        );
        assert!(!record.is_current("b", "h1", "sha256:1"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("build-inputs.json");
        assert_eq!(
            Record::load(&path),
            Record::default(),
            "no file: nothing recorded"
        );
        fs::write(&path, "{not json").unwrap();
        assert_eq!(
            Record::load(&path),
            Record::default(),
            "a torn file: nothing recorded"
        );
    }
}
