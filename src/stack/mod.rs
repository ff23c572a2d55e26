//! The stack loader: Compose files → the resolved, validated `Stack` model.
//!
//! Pipeline: discover the files → read `.env` → per file (`files`): YAML tree (`yaml`),
//! interpolation (`interpolate`), conversion with key checks (`convert`), `extends` resolved and
//! `include`s loaded before it → merge (`merge`) → profiles, defaults and whole-stack checks
//! (`validate`) → dependency cycles (`graph`). Every problem found is
//! reported with file:line:column, all at once. Every file is read through `source::Sources`
//! (`load` uses the disk, `load_from_sources` whatever it is given), so the loader is a pure
//! function of the files' contents; it never talks to Docker. What a stack may expand to is capped
//! by one byte budget per load (`budget`).

mod budget;
mod convert;
mod discover;
mod duration;
mod envfile;
mod error;
mod files;
pub mod graph;
mod interpolate;
mod keys;
mod merge;
pub mod model;
mod render;
pub mod source;
mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use budget::MAX_BYTES;
pub use discover::{STACK_FILE_NAMES, discover};
pub use duration::{format_duration, parse_duration};
pub use error::{Diagnostic, StackError};
pub use model::*;
pub use render::render_yaml;
pub use source::{Disk, MAX_FILE_BYTES, Memory, ReadError, Sources};

use envfile::parse_env_file;
use error::Report;
use graph::Graph;

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

/// Loads, interpolates, merges and validates a stack from the disk. Every error found is
/// returned together. With no files given, the stack file is discovered in `working_dir`.
pub fn load(opts: &LoadOptions) -> Result<Loaded, StackError> {
    let files = stack_files(opts)?;
    let opts = LoadOptions {
        files,
        ..opts.clone()
    };
    load_from_sources(&Disk, &opts)
}

/// `load`, and every file the stack depends on (read or looked for: stack files, `.env`,
/// `env_file`s, included and extended files), whether it loads or not, so that a change to any
/// of them can be noticed.
pub fn load_with_inputs(opts: &LoadOptions) -> (Result<Loaded, StackError>, Vec<PathBuf>) {
    let files = match stack_files(opts) {
        Ok(files) => files,
        Err(e) => return (Err(e), opts.files.clone()),
    };
    let opts = LoadOptions {
        files,
        ..opts.clone()
    };
    let recording = source::Recording::new(&Disk);
    let loaded = load_from_sources(&recording, &opts);
    let mut inputs = recording.paths();
    for f in &opts.files {
        let f = convert::normalize(&opts.working_dir.join(f));
        if !inputs.contains(&f) {
            inputs.push(f);
        }
    }
    (loaded, inputs)
}

/// `load` over any `Sources` (files in memory for tests and fuzzing). `opts.files` must name the
/// stack files (relative ones against `working_dir`); nothing is discovered.
pub fn load_from_sources(sources: &dyn Sources, opts: &LoadOptions) -> Result<Loaded, StackError> {
    let files: Vec<PathBuf> = opts
        .files
        .iter()
        .map(|f| convert::normalize(&opts.working_dir.join(f)))
        .collect();
    let Some(first) = files.first().cloned() else {
        return Err(StackError::NoStackFile {
            dir: opts.working_dir.clone(),
        });
    };
    let project_dir = first
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.working_dir.clone());

    let mut reader = files::Reader::new(sources);
    let dotenv = read_dotenv(sources, &project_dir, &opts.env, &mut reader.report)?;
    let vars = files::Vars {
        env: &opts.env,
        dotenv,
    };

    let mut merged = merge::Merged::default();
    // A file that could not be read or parsed leaves the stack incomplete: whole-stack checks
    // such as "no services" would only add noise.
    let mut all_files_read = true;
    for file in &files {
        match reader.top_level(file, &vars)? {
            Some(raw_files) => raw_files.into_iter().for_each(|raw| merged.add(raw)),
            None => all_files_read = false,
        }
        if reader.report.budget.is_exhausted() {
            // Nothing useful can be said about a stack that does not fit; say that alone.
            return Err(StackError::Invalid(reader.report.errors));
        }
    }
    let mut report = reader.report;
    let lookup = |key: &str| vars.get(key);

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
        sources,
        all_files_read,
    };
    let stack = validate::finalize(merged, &finalize, &mut report);
    if report.budget.is_exhausted() {
        return Err(StackError::Invalid(report.errors));
    }
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
    sources: &dyn Sources,
    project_dir: &Path,
    env: &BTreeMap<String, String>,
    report: &mut Report,
) -> Result<BTreeMap<String, String>, StackError> {
    let path = project_dir.join(".env");
    let start = Pos {
        file: Arc::new(path.clone()),
        line: 1,
        column: 1,
    };
    let content = match sources.read(&path) {
        Ok(content) => content,
        // A directory named `.env` (a virtualenv, say) is not a dotenv file.
        Err(ReadError::NotFound | ReadError::IsADirectory) => return Ok(BTreeMap::new()),
        Err(ReadError::TooLarge) => {
            report.error(&start, format!("`.env` is {}", ReadError::TooLarge));
            return Ok(BTreeMap::new());
        }
        Err(ReadError::Io(source)) => return Err(StackError::Io { path, source }),
    };
    let Ok(content) = String::from_utf8(content) else {
        report.error(&start, "`.env` is not valid UTF-8");
        return Ok(BTreeMap::new());
    };
    match parse_env_file(&content, &|k| env.get(k).cloned(), &mut report.budget) {
        Ok(pairs) => Ok(pairs.into_iter().collect()),
        Err(e) => {
            report.error(
                &Pos {
                    line: e.line,
                    ..start
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
