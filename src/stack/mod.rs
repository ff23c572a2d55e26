//! The stack loader: Compose files → the resolved, validated `Stack` model.
//!
//! Pipeline: discover the files → read `.env` → per file: YAML tree (`yaml`), interpolation
//! (`interpolate`), conversion with key checks (`convert`) → merge (`merge`) → profiles, defaults
//! and whole-stack checks (`validate`) → dependency cycles (`crate::graph`). Every problem found is
//! reported with file:line:column, all at once. Pure apart from reading the stack files, env files
//! and checking build contexts; it never talks to Docker.

mod convert;
mod discover;
mod duration;
mod envfile;
mod error;
mod interpolate;
mod keys;
mod merge;
pub mod model;
mod render;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use discover::{STACK_FILE_NAMES, discover};
pub use duration::{format_duration, parse_duration};
pub use envfile::{EnvFileError, parse_env_file};
pub use error::{Diagnostic, StackError};
pub use interpolate::{InterpolationError, interpolate};
pub use model::*;
pub use render::render_yaml;

use crate::graph::Graph;
use error::Report;

/// What to load and with which environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Stack files, absolute or relative to `working_dir`; empty = discover (plus the Compose
    /// override file beside it, if any).
    pub files: Vec<PathBuf>,
    pub working_dir: PathBuf,
    /// `-p`; beats `COMPOSE_PROJECT_NAME` and `name:`.
    pub project_name: Option<String>,
    /// Active profiles (`--profile`); when empty, `COMPOSE_PROFILES` from the environment or
    /// `.env` is used.
    pub profiles: Vec<String>,
    /// The process environment snapshot (beats `.env`).
    pub env: BTreeMap<String, String>,
}

/// A loaded stack and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub stack: Stack,
    pub warnings: Vec<Diagnostic>,
}

/// Loads, interpolates, merges and validates a stack. Every error found is returned together.
pub fn load(opts: &LoadOptions) -> Result<Loaded, StackError> {
    let files = stack_files(opts)?;
    let first = files.first().cloned().unwrap_or_default();
    let project_dir = first
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.working_dir.clone());

    let mut report = Report::default();
    let dotenv = read_dotenv(&project_dir, &opts.env, &mut report)?;
    let lookup =
        |key: &str| -> Option<String> { opts.env.get(key).or_else(|| dotenv.get(key)).cloned() };

    let mut merged = merge::Merged::default();
    for file in &files {
        let source = std::fs::read(file).map_err(|source| StackError::Io {
            path: file.clone(),
            source,
        })?;
        let arc = Arc::new(file.clone());
        let Ok(source) = String::from_utf8(source) else {
            report.error(
                &Pos {
                    file: arc,
                    line: 1,
                    column: 1,
                },
                "stack file is not valid UTF-8",
            );
            continue;
        };
        let mut root = match yaml::parse(&source, &arc) {
            Ok(root) => root,
            Err(diagnostics) => {
                report.errors.extend(diagnostics);
                continue;
            }
        };
        if let Some(root) = root.as_mut() {
            interpolate::interpolate_tree(root, &lookup, &mut report);
        }
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut cx = convert::Context {
            dir,
            lookup: &lookup,
            report: &mut report,
        };
        merged.add(convert::convert_file(root.as_ref(), &mut cx));
    }

    let name = project_name(opts, &merged, &project_dir, &lookup, &mut report);
    let profiles: Vec<String> = if opts.profiles.is_empty() {
        lookup("COMPOSE_PROFILES")
            .map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        opts.profiles.clone()
    };
    let finalize = validate::Finalize {
        name,
        project_dir,
        files,
        profiles: &profiles,
        lookup: &lookup,
    };
    let stack = validate::finalize(merged, &finalize, &mut report);
    if let Err(diagnostics) = Graph::build(&stack) {
        report.errors.extend(diagnostics);
    }
    if report.has_errors() {
        let mut errors = report.errors;
        sort_diagnostics(&mut errors, &stack.files);
        errors.dedup();
        return Err(StackError::Invalid(errors));
    }
    let mut warnings = report.warnings;
    sort_diagnostics(&mut warnings, &stack.files);
    warnings.dedup();
    Ok(Loaded { stack, warnings })
}

/// Orders diagnostics by file (in load order), line and column; unpositioned ones last.
fn sort_diagnostics(diagnostics: &mut [Diagnostic], files: &[PathBuf]) {
    let key = |d: &Diagnostic| match &d.pos {
        Some(pos) => (
            files
                .iter()
                .position(|f| f == pos.file.as_ref())
                .unwrap_or(files.len()),
            pos.line,
            pos.column,
        ),
        None => (usize::MAX, 0, 0),
    };
    diagnostics.sort_by_key(key);
}

fn stack_files(opts: &LoadOptions) -> Result<Vec<PathBuf>, StackError> {
    if opts.files.is_empty() {
        let Some(found) = discover(&opts.working_dir) else {
            return Err(StackError::NoStackFile {
                dir: opts.working_dir.clone(),
            });
        };
        let mut files = vec![convert::normalize(&found)];
        files.extend(discover::override_for(&found).map(|o| convert::normalize(&o)));
        return Ok(files);
    }
    Ok(opts
        .files
        .iter()
        .map(|f| convert::normalize(&opts.working_dir.join(f)))
        .collect())
}

fn read_dotenv(
    project_dir: &Path,
    env: &BTreeMap<String, String>,
    report: &mut Report,
) -> Result<BTreeMap<String, String>, StackError> {
    let path = project_dir.join(".env");
    let content = match std::fs::read_to_string(&path) {
        Ok(content) => content,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) if path.is_dir() => {
            // A directory named `.env` (a virtualenv, say) is not a dotenv file.
            let _ = e;
            return Ok(BTreeMap::new());
        }
        Err(source) => return Err(StackError::Io { path, source }),
    };
    match parse_env_file(&content, &|k| env.get(k).cloned()) {
        Ok(pairs) => Ok(pairs.into_iter().collect()),
        Err(e) => {
            report.error(
                &Pos {
                    file: Arc::new(path),
                    line: e.line,
                    column: 1,
                },
                e.message,
            );
            Ok(BTreeMap::new())
        }
    }
}

/// Compose's project name rule: lowercase, only `[a-z0-9_-]`, starting with a letter or digit.
pub fn normalize_project_name(name: &str) -> String {
    let lowered: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        .collect();
    lowered.trim_start_matches(['_', '-']).to_string()
}

fn project_name(
    opts: &LoadOptions,
    merged: &merge::Merged,
    project_dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
    report: &mut Report,
) -> String {
    let (raw, pos) = if let Some(p) = &opts.project_name {
        (p.clone(), None)
    } else if let Some(p) = lookup("COMPOSE_PROJECT_NAME").filter(|p| !p.is_empty()) {
        (p, None)
    } else if let Some((n, pos)) = &merged.name {
        (n.clone(), Some(pos.clone()))
    } else {
        let dir = project_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (dir, None)
    };
    let name = normalize_project_name(&raw);
    if name.is_empty() {
        let message = format!(
            "project name `{raw}` is empty after normalizing (use letters, digits, `_` or `-`; set one with -p or `name:`)"
        );
        match pos {
            Some(pos) => report.error(&pos, message),
            None => report.errors.push(Diagnostic::new(None, message)),
        }
    }
    name
}

#[cfg(test)]
mod tests;
