//! Diagnostics as data. The library returns `Diag`s; only `cli.rs` renders them.

use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a source file. Lines and columns are 1-based; `offset` is a byte offset
/// into the file text (used to draw the caret), 0 when unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub offset: usize,
}

impl Span {
    /// Build a span from a 1-based line and column, computing the byte offset in `text`.
    /// Columns count characters (what an editor shows), not bytes.
    pub fn from_line_col(text: &str, line: usize, col: usize) -> Span {
        let mut offset = 0;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            if i + 1 == line {
                let within: usize = l
                    .chars()
                    .take(col.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                return Span {
                    line,
                    col,
                    offset: offset + within,
                };
            }
            offset += l.len();
        }
        Span {
            line,
            col,
            offset: text.len(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// How faithfully a backend renders a predicate. `Exact` never produces a diagnostic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fidelity {
    Exact,
    /// Matches everything the spec means, and more (false positives possible).
    Wider,
    /// Matches only part of what the spec means (detections can be missed).
    Narrower,
    /// Cannot be expressed at all.
    Inexpressible,
}

/// What a diagnostic is about; lets a policy (e.g. `--deny wider`) act on classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagKind {
    Syntax,
    Schema,
    Value,
    Duplicate,
    Semantics,
    Limit,
    Fidelity(Fidelity),
    Io,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diag {
    pub severity: Severity,
    pub kind: DiagKind,
    pub file: Option<PathBuf>,
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

impl Diag {
    pub fn error(kind: DiagKind, message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Error,
            kind,
            file: None,
            span: None,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(kind: DiagKind, message: impl Into<String>) -> Diag {
        Diag {
            severity: Severity::Warning,
            ..Diag::error(kind, message)
        }
    }

    pub fn at(mut self, file: &Path, span: Option<Span>) -> Diag {
        self.file = Some(file.to_path_buf());
        self.span = span;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diag {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One-line form `file:line:col: error: message` (used in logs and tests).
impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(s) = self.span {
                write!(f, ":{}:{}", s.line, s.col)?;
            }
            write!(f, ": ")?;
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}", self.message)?;
        if let Some(h) = &self.help {
            write!(f, " (help: {h})")?;
        }
        Ok(())
    }
}
