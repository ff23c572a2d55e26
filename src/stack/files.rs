//! One stack file → the raw files to merge: read (capped), YAML tree, interpolation, conversion;
//! then its `extends:` resolved and its `include:`s loaded, as Compose v2 does.
//!
//! - `include:` loads each entry as a project of its own (relative paths from the included
//!   file's directory or its `project_directory`, variables from its own `.env` or `env_file`s
//!   under the process environment) and adds its resources before the including file's; a
//!   service defined by both is an error, at the including file's definition.
//! - `extends:` starts the service from a copy of the base service (same file, or `file:`
//!   resolved from the extending file's directory, with paths relative to that file) and merges
//!   the extending service over it with the `-f` merge rules.
//!
//! Every problem is reported at the place in the file that holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::stack::convert::{self, RawFile, RawService};
use crate::stack::envfile::parse_env_file;
use crate::stack::error::{Report, StackError};
use crate::stack::merge::merge_service;
use crate::stack::model::Pos;
use crate::stack::source::{ReadError, Sources};
use crate::stack::{interpolate, yaml};

/// Nesting of `include:` inside included files, and of `extends: {file}` chains.
const MAX_DEPTH: usize = 16;

/// Variables for interpolation: the process environment over a project's `.env`.
pub struct Vars<'a> {
    pub env: &'a BTreeMap<String, String>,
    pub dotenv: BTreeMap<String, String>,
}

impl Vars<'_> {
    pub fn get(&self, key: &str) -> Option<String> {
        self.env.get(key).or_else(|| self.dotenv.get(key)).cloned()
    }
}

/// What one `load` needs to read files.
pub struct Reader<'a> {
    pub sources: &'a dyn Sources,
    pub report: Report,
    /// Files read for `extends: {file}`, converted and resolved, by path.
    extended: HashMap<PathBuf, Option<RawFile>>,
}

/// Why a file gave nothing to merge.
pub enum Missing {
    /// Unreadable (not found, a directory, an I/O error).
    Unreadable(ReadError),
    /// Read, but not a usable stack file (the problem is in the report).
    Invalid,
}

impl<'a> Reader<'a> {
    pub fn new(sources: &'a dyn Sources) -> Reader<'a> {
        Reader {
            sources,
            report: Report::default(),
            extended: HashMap::new(),
        }
    }

    /// A stack file named on the command line: its includes first, then itself, in merge order.
    /// An unreadable file is a hard error, as it is for Compose.
    pub fn top_level(
        &mut self,
        path: &Path,
        vars: &Vars<'_>,
    ) -> Result<Option<Vec<RawFile>>, StackError> {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut chain = BTreeSet::new();
        match self.with_includes(path, &dir, vars, 0, &mut chain) {
            Ok(files) => Ok(Some(files)),
            Err(Missing::Invalid) => Ok(None),
            Err(Missing::Unreadable(e)) => Err(StackError::Io {
                path: path.to_path_buf(),
                source: match e {
                    ReadError::Io(source) => source,
                    ReadError::IsADirectory => std::io::ErrorKind::IsADirectory.into(),
                    ReadError::TooLarge => std::io::ErrorKind::FileTooLarge.into(),
                    ReadError::NotFound => std::io::ErrorKind::NotFound.into(),
                },
            }),
        }
    }

    /// `path` converted with `dir` as the base of its relative paths, its extends resolved, and
    /// preceded by what it includes.
    fn with_includes(
        &mut self,
        path: &Path,
        dir: &Path,
        vars: &Vars<'_>,
        depth: usize,
        chain: &mut BTreeSet<PathBuf>,
    ) -> Result<Vec<RawFile>, Missing> {
        let mut file = self.convert(path, dir, vars)?;
        self.resolve_extends(&mut file, vars, depth);
        let includes = std::mem::take(&mut file.includes);
        let mut out = Vec::new();
        chain.insert(path.to_path_buf());
        for include in includes {
            let included = self.include(&include, vars.env, depth + 1, chain);
            for service in &file.services {
                if let Some(other) = included
                    .iter()
                    .flat_map(|f| f.services.iter())
                    .find(|s| s.name == service.name)
                {
                    self.report.error(
                        &service.pos,
                        format!(
                            "service `{}` is also defined by the included file {}; a service \
                             comes from one place",
                            service.name,
                            other.pos.file.display()
                        ),
                    );
                }
            }
            out.extend(included);
        }
        chain.remove(path);
        out.push(file);
        Ok(out)
    }

    /// One `include:` entry: its files merged in order, as a project of their own.
    fn include(
        &mut self,
        include: &convert::RawInclude,
        env: &BTreeMap<String, String>,
        depth: usize,
        chain: &mut BTreeSet<PathBuf>,
    ) -> Vec<RawFile> {
        if depth > MAX_DEPTH {
            self.report.error(
                &include.pos,
                "`include` nested too deeply (more than 16 levels)",
            );
            return Vec::new();
        }
        let Some(first) = include.paths.first() else {
            return Vec::new();
        };
        let dir = include
            .project_directory
            .clone()
            .unwrap_or_else(|| first.parent().map(Path::to_path_buf).unwrap_or_default());
        let env_files = include
            .env_files
            .clone()
            .unwrap_or_else(|| vec![dir.join(".env")]);
        let explicit = include.env_files.is_some();
        let mut dotenv = BTreeMap::new();
        for env_file in env_files {
            dotenv.extend(self.env_file(&env_file, env, explicit, &include.pos));
        }
        let vars = Vars { env, dotenv };
        let mut out = Vec::new();
        for path in &include.paths {
            if chain.contains(path) {
                self.report.error(
                    &include.pos,
                    format!(
                        "`include` of {} loops back to a file that includes it",
                        path.display()
                    ),
                );
                continue;
            }
            match self.with_includes(path, &dir, &vars, depth, chain) {
                Ok(files) => out.extend(files),
                Err(Missing::Unreadable(e)) => self.report.error(
                    &include.pos,
                    format!("cannot read included file {}: {e}", path.display()),
                ),
                Err(Missing::Invalid) => {}
            }
        }
        out
    }

    /// The variables of an env file for an include (`.env` may be missing; a named one may not).
    fn env_file(
        &mut self,
        path: &Path,
        env: &BTreeMap<String, String>,
        required: bool,
        at: &Pos,
    ) -> Vec<(String, String)> {
        let content = match self.sources.read(path) {
            Ok(content) => content,
            Err(ReadError::NotFound | ReadError::IsADirectory) if !required => return Vec::new(),
            Err(e) => {
                self.report
                    .error(at, format!("cannot read env file {}: {e}", path.display()));
                return Vec::new();
            }
        };
        let file_pos = |line| Pos {
            file: Arc::new(path.to_path_buf()),
            line,
            column: 1,
        };
        let Ok(content) = String::from_utf8(content) else {
            self.report
                .error(&file_pos(1), "env file is not valid UTF-8");
            return Vec::new();
        };
        match parse_env_file(&content, &|k| env.get(k).cloned(), &mut self.report.budget) {
            Ok(pairs) => pairs,
            Err(e) => {
                self.report.error(&file_pos(e.line), e.message);
                Vec::new()
            }
        }
    }

    /// Read, parse, interpolate and convert one file.
    fn convert(&mut self, path: &Path, dir: &Path, vars: &Vars<'_>) -> Result<RawFile, Missing> {
        let arc = Arc::new(path.to_path_buf());
        let start = Pos {
            file: arc.clone(),
            line: 1,
            column: 1,
        };
        let source = match self.sources.read(path) {
            Ok(source) => source,
            Err(ReadError::TooLarge) => {
                self.report
                    .error(&start, format!("stack file is {}", ReadError::TooLarge));
                return Err(Missing::Invalid);
            }
            Err(e) => return Err(Missing::Unreadable(e)),
        };
        let Ok(source) = String::from_utf8(source) else {
            self.report.error(&start, "stack file is not valid UTF-8");
            return Err(Missing::Invalid);
        };
        let mut root = match yaml::parse(&source, &arc, &mut self.report.budget) {
            Ok(root) => root,
            Err(diagnostics) => {
                self.report.errors.extend(diagnostics);
                return Err(Missing::Invalid);
            }
        };
        let lookup = |key: &str| vars.get(key);
        match root.as_mut() {
            Some(root) if !root.is_null() => {
                interpolate::interpolate_tree(root, &lookup, &mut self.report);
            }
            // Compose refuses an empty file too ("empty compose file").
            _ => {
                self.report.error(
                    &start,
                    "the file is empty; a stack file needs at least `services:`",
                );
                return Err(Missing::Invalid);
            }
        }
        if self.report.budget.is_exhausted() {
            return Err(Missing::Invalid);
        }
        let mut cx = convert::Context {
            dir: dir.to_path_buf(),
            lookup: &lookup,
            report: &mut self.report,
        };
        Ok(convert::convert_file(root.as_ref(), &mut cx))
    }

    /// Replaces every service that `extends` another by the merge of the two.
    fn resolve_extends(&mut self, file: &mut RawFile, vars: &Vars<'_>, depth: usize) {
        if file.services.iter().all(|s| s.extends.is_none()) {
            return;
        }
        let originals: BTreeMap<String, RawService> = file
            .services
            .iter()
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        let mut resolved = BTreeMap::new();
        for service in &mut file.services {
            let mut visiting = BTreeSet::new();
            let mut ext = Extends {
                originals: &originals,
                resolved: &mut resolved,
                vars,
                depth,
            };
            if let Some(done) = self.resolve_one(&mut ext, &service.name, &mut visiting) {
                *service = done;
            }
        }
    }

    fn resolve_one(
        &mut self,
        ext: &mut Extends<'_, '_>,
        name: &str,
        visiting: &mut BTreeSet<String>,
    ) -> Option<RawService> {
        if let Some(done) = ext.resolved.get(name) {
            return Some(done.clone());
        }
        let mut service = ext.originals.get(name)?.clone();
        let Some(extends) = service.extends.take() else {
            ext.resolved.insert(name.to_string(), service.clone());
            return Some(service);
        };
        if !visiting.insert(name.to_string()) {
            self.report.error(
                &extends.pos,
                format!("`extends` of service `{name}` loops back to itself"),
            );
            return Some(service);
        }
        let base = match &extends.file {
            None => match ext.originals.contains_key(&extends.service) {
                true => self.resolve_one(ext, &extends.service, visiting),
                false => {
                    self.report.error(
                        &extends.pos,
                        format!(
                            "service `{name}` extends `{}`, which is not a service of this file",
                            extends.service
                        ),
                    );
                    None
                }
            },
            Some(file) => self.extended_service(file, &extends, ext.vars, ext.depth + 1),
        };
        visiting.remove(name);
        let merged = match base {
            Some(mut base) => {
                base.name = service.name.clone();
                merge_service(&mut base, service);
                base
            }
            None => service,
        };
        ext.resolved.insert(name.to_string(), merged.clone());
        Some(merged)
    }

    /// The service `extends.service` of another file, with that file's own extends resolved and
    /// its relative paths from its own directory.
    fn extended_service(
        &mut self,
        file: &Path,
        extends: &convert::RawExtends,
        vars: &Vars<'_>,
        depth: usize,
    ) -> Option<RawService> {
        if depth > MAX_DEPTH {
            self.report.error(
                &extends.pos,
                "`extends` nested too deeply (more than 16 files)",
            );
            return None;
        }
        if !self.extended.contains_key(file) {
            // Marked first, so that a file extending back into itself stops here.
            self.extended.insert(file.to_path_buf(), None);
            let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let converted = match self.convert(file, &dir, vars) {
                Ok(mut raw) => {
                    self.resolve_extends(&mut raw, vars, depth);
                    Some(raw)
                }
                Err(Missing::Unreadable(e)) => {
                    self.report.error(
                        &extends.pos,
                        format!("cannot read extended file {}: {e}", file.display()),
                    );
                    None
                }
                Err(Missing::Invalid) => None,
            };
            self.extended.insert(file.to_path_buf(), converted);
        }
        let found = self
            .extended
            .get(file)
            .and_then(Option::as_ref)
            .and_then(|raw| raw.services.iter().find(|s| s.name == extends.service))
            .cloned();
        if found.is_none() && self.extended.get(file).is_some_and(Option::is_some) {
            self.report.error(
                &extends.pos,
                format!(
                    "`extends`: {} has no service `{}`",
                    file.display(),
                    extends.service
                ),
            );
        }
        found
    }
}

/// What resolving the extends of one file shares.
struct Extends<'o, 'v> {
    originals: &'o BTreeMap<String, RawService>,
    resolved: &'o mut BTreeMap<String, RawService>,
    vars: &'o Vars<'v>,
    depth: usize,
}
