//! Diagnostics and the loader's error type.
//!
//! A `Diagnostic` is one problem found in a stack file, with the place it was found. The loader
//! collects every error it can find before giving up, so `StackError::Invalid` carries a list.

use std::fmt;
use std::path::PathBuf;

use crate::stack::budget::Budget;
use crate::stack::model::Pos;

/// One problem (error or warning) in a stack, with where it is. Serializable so that the daemon
/// can hand diagnostics to clients as they are.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub pos: Option<Pos>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(pos: Option<Pos>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos,
            message: message.into(),
        }
    }

    pub fn at(pos: &Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Some(pos.clone()), message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a stack could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The files were read but are not a valid stack; every problem found is listed.
    #[error("{}", display_all(.0))]
    Invalid(Vec<Diagnostic>),
    /// No `-f` given and no Compose file in the directory.
    #[error(
        "no stack file found in {}: expected compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml",
        dir.display()
    )]
    NoStackFile { dir: PathBuf },
    /// A stack file (or the project's `.env`) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StackError {
    /// The diagnostics of an `Invalid` error (empty for the other kinds).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            StackError::Invalid(diagnostics) => diagnostics,
            _ => &[],
        }
    }
}

fn display_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects errors and warnings while a stack is being loaded.
#[derive(Debug, Default)]
pub struct Report {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Variables already warned about as unset: Compose warns once per variable, not per use.
    pub unset_variables: std::collections::BTreeSet<String>,
    /// What alias expansion, interpolation and env files may still produce.
    pub budget: Budget,
}

impl Report {
    pub fn error(&mut self, pos: &Pos, message: impl Into<String>) {
        self.errors.push(Diagnostic::at(pos, message));
    }

    pub fn warn(&mut self, pos: &Pos, message: impl Into<String>) {
        self.warnings.push(Diagnostic::at(pos, message));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Spends `bytes` of the budget; when they do not fit, reports it at `pos` (once per load).
    pub fn spend(&mut self, bytes: usize, pos: &Pos) -> bool {
        let already = self.budget.is_exhausted();
        if self.budget.spend(bytes) {
            return true;
        }
        if !already {
            let message = self.budget.message();
            self.error(pos, message);
        }
        false
    }

    /// Reports an exhausted budget at `pos` unless it was reported already.
    pub fn over_budget(&mut self, pos: &Pos) {
        if !self.budget.is_exhausted() {
            self.budget.exhaust();
            let message = self.budget.message();
            self.error(pos, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn diagnostic_display_leads_with_file_line_column() {
        let pos = Pos {
            file: Arc::new(PathBuf::from("/p/compose.yaml")),
            line: 3,
            column: 7,
        };
        let d = Diagnostic::at(&pos, "boom");
        assert_eq!(d.to_string(), "/p/compose.yaml:3:7: boom");
        assert_eq!(Diagnostic::new(None, "plain").to_string(), "plain");
    }

    #[test]
    fn invalid_error_displays_every_diagnostic_on_its_own_line() {
        let e = StackError::Invalid(vec![
            Diagnostic::new(None, "one"),
            Diagnostic::new(None, "two"),
        ]);
        assert_eq!(e.to_string(), "one\ntwo");
    }
}
