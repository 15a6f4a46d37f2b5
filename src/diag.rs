//! Diagnostics as data. The library returns `Diag`s; only `cli.rs` renders them.
//!
//! A diagnostic's `message` is for people. Code that must act on what a diagnostic says (the
//! importers decide gaps and unsupported backends from what the backends report) reads its
//! typed `cause`, never the text: a test below fails on code that searches a message.

use crate::spec::{BackendName, Category, Field, Source};
use serde::{Serialize, Serializer};
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
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
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
    /// (A boxed `str`: the diagnostic stays small enough to be returned by value.)
    pub help: Option<Box<str>>,
    /// What the diagnostic is about, as data. JSON shows only its grouping key (`key`), for
    /// a fidelity warning: `{"backend": "kql", "effect": "narrower", "note": "kind:term"}`.
    #[serde(
        rename = "key",
        serialize_with = "serialize_key",
        skip_serializing_if = "no_key"
    )]
    pub cause: Option<Box<Cause>>,
    /// Set when a spec's `accepted:` (or `gaps:`) or the project's `rmmc.toml` acknowledges
    /// this warning: it no longer counts for `--deny`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Box<Ack>>,
}

/// Who acknowledged a warning, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ack {
    /// The file holding the acknowledgement (a spec or `rmmc.toml`).
    pub by: PathBuf,
    pub reason: String,
}

/// The key fidelity warnings are grouped and acknowledged by: the same backend, effect and
/// note are "the same loss", wherever it occurs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LossKey {
    pub backend: BackendName,
    /// `wider` or `narrower`: the effect on the rule.
    pub effect: Fidelity,
    /// The stable id of the reason (see `Note`).
    pub note: String,
}

impl fmt::Display for LossKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.backend,
            fidelity_word(self.effect),
            self.note
        )
    }
}

/// The word for a fidelity, as the spec and `rmmc.toml` spell it.
pub fn fidelity_word(f: Fidelity) -> &'static str {
    match f {
        Fidelity::Exact => "exact",
        Fidelity::Wider => "wider",
        Fidelity::Narrower => "narrower",
        Fidelity::Inexpressible => "inexpressible",
    }
}

fn no_key(c: &Option<Box<Cause>>) -> bool {
    c.as_deref().and_then(Cause::key).is_none()
}

fn serialize_key<S: Serializer>(c: &Option<Box<Cause>>, s: S) -> Result<S::Ok, S::Error> {
    c.as_deref().and_then(Cause::key).serialize(s)
}

/// What a backend reports about a detection, as data. The message says the same in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Fields the backend's table lacks: each match or output column on one of them.
    Gaps(Vec<Gap>),
    /// The backend builds nothing for this detection on this source.
    Unbuildable(Unbuildable),
    /// A match rendered wider or narrower than the spec means.
    Loss(Loss),
    /// The rule's output has another shape than the spec's (`what`: a fixed phrase saying
    /// how, the same for every detection it concerns).
    Reshaped {
        backend: BackendName,
        what: &'static str,
    },
}

/// How the default text output groups warnings: one line per group with a count.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GroupKey {
    /// Fidelity losses, by backend, effect and note (what an acknowledgement names).
    Loss(LossKey),
    /// Other warnings of one backend reporting the same thing; `what` is that thing, as the
    /// group's headline.
    Other {
        backend: BackendName,
        what: &'static str,
    },
}

impl Cause {
    /// The grouping key of a fidelity warning (a `Loss`). A match dropped under `gaps:` has
    /// none: its warning is acknowledged by that entry where it is made.
    pub fn key(&self) -> Option<LossKey> {
        match self {
            Cause::Loss(l) => Some(LossKey {
                backend: l.backend,
                effect: l.effect,
                note: l.note.to_string(),
            }),
            _ => None,
        }
    }
}

/// A match a backend renders wider or narrower than the spec means, and why, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loss {
    pub backend: BackendName,
    /// The effect on the rule (`Wider` or `Narrower`), after the match's polarity: a wider
    /// match in an exclusion makes the rule narrower.
    pub effect: Fidelity,
    pub note: Note,
    /// The note's words (from the backend's data), for a grouped line.
    pub why: String,
    /// The match sits under an odd number of `not`s (an exclusion): its own fidelity is
    /// the opposite of `effect`.
    pub negated: bool,
    /// The spec and detection the match belongs to (a spec's `accepted:` is per detection).
    pub spec: String,
    pub detection: String,
}

/// The notes written in the backends' code rather than their data (`Note::Code`).
pub const CODE_NOTES: &[&str] = &["ipv6-text", "basename-backslash", "user-domain-split"];

/// Why a backend's rendering differs, as a stable id (what `accepted:` and `rmmc.toml` name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A match kind the backend renders lossily (`kinds:` in `backends/<backend>.yaml`):
    /// `kind:term`.
    Kind(String),
    /// A column whose matching differs (a column's `fidelity:` in `backends/<backend>.yaml`):
    /// `column:endpoint.network.remote_ip` (source, category, field).
    Column {
        source: Source,
        category: Category,
        field: Field,
    },
    /// A difference written in the backend's code (`ipv6-text`, `basename-backslash`,
    /// `user-domain-split`).
    Code(&'static str),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Kind(k) => write!(f, "kind:{k}"),
            Note::Column {
                source,
                category,
                field,
            } => write!(f, "column:{source}.{category}.{field}"),
            Note::Code(c) => write!(f, "{c}"),
        }
    }
}

/// A field a backend's table lacks, and what the rule needed it for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub backend: BackendName,
    pub field: Field,
    /// The table's name in the backend's mapping (`backends/<backend>.yaml`).
    pub table: String,
    pub role: Role,
}

/// What a rule needs a field for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A match of the detection or of an exclusion.
    Match,
    /// A column of the query (the time filter, the grouping, the projection, the order).
    Output,
}

/// A detection a backend builds no rule for at all, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unbuildable {
    pub backend: BackendName,
    /// The source it has no rule for (for `Declared`, which covers every source of the
    /// detection, the first).
    pub source: Source,
    pub why: Whole,
}

/// Why a backend builds nothing for a detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Whole {
    /// The backend has no table for these events. `title` and `noun` name the backend and
    /// what it calls a table (`Sigma`, `log source`).
    NoTable {
        title: &'static str,
        noun: &'static str,
        category: Category,
    },
    /// Every match was dropped: the rule would match every event (or none). `target` names
    /// the table (`Sigma log source Sysmon network connection (EID 3)`).
    NothingExpressible { target: String, matches_all: bool },
    /// The spec declares the backend `unsupported` for this detection, for this reason.
    Declared { reason: String },
}

/// The reason in words, without the `spec/detection: ` the message starts with.
impl fmt::Display for Unbuildable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Whole::NoTable {
                title,
                noun,
                category,
            } => write!(
                f,
                "{title} has no {noun} for {category} events from source `{}`",
                self.source
            ),
            Whole::NothingExpressible {
                target,
                matches_all,
            } => write!(
                f,
                "nothing of the predicate can be expressed on {target} ({})",
                if *matches_all {
                    "it would match every event"
                } else {
                    "it would match nothing"
                }
            ),
            Whole::Declared { reason } => write!(
                f,
                "no {} rule is built (declared unsupported: {reason})",
                self.backend
            ),
        }
    }
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
            cause: None,
            acknowledged: None,
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
        self.help = Some(help.into().into_boxed_str());
        self
    }

    /// Mark the warning acknowledged by `file` (a declared gap, `accepted:`, `rmmc.toml`).
    pub fn acknowledged(mut self, file: &Path, reason: &str) -> Diag {
        self.acknowledged = Some(Box::new(Ack {
            by: file.to_path_buf(),
            reason: reason.to_string(),
        }));
        self
    }

    /// Attach what the diagnostic is about, as data.
    pub fn cause(mut self, cause: Cause) -> Diag {
        self.cause = Some(Box::new(cause));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The fields this diagnostic reports missing from a backend's table.
    pub fn gaps(&self) -> &[Gap] {
        match self.cause.as_deref() {
            Some(Cause::Gaps(g)) => g,
            _ => &[],
        }
    }

    /// The backend and reason, when this diagnostic reports that a backend builds nothing for
    /// a detection.
    pub fn unbuildable(&self) -> Option<&Unbuildable> {
        match self.cause.as_deref() {
            Some(Cause::Unbuildable(u)) => Some(u),
            _ => None,
        }
    }

    /// The key fidelity warnings are grouped and acknowledged by (see `Cause::key`).
    pub fn key(&self) -> Option<LossKey> {
        self.cause.as_deref().and_then(Cause::key)
    }

    /// The group this warning is printed in by default (`None`: printed alone): fidelity
    /// losses by their key; a backend declared unsupported, a summarize field left out under a
    /// declared gap, and a reshaped output, by backend. Read from the cause, never the text.
    pub fn group_key(&self) -> Option<GroupKey> {
        if self.is_error() {
            return None;
        }
        if let Some(k) = self.key() {
            return Some(GroupKey::Loss(k));
        }
        match self.cause.as_deref()? {
            Cause::Unbuildable(Unbuildable {
                backend,
                why: Whole::Declared { .. },
                ..
            }) => Some(GroupKey::Other {
                backend: *backend,
                what: "detections declared unsupported (`unsupported:` in the spec, each with its reason): no rule is built for them",
            }),
            Cause::Gaps(g) if self.kind == DiagKind::Semantics => {
                g.iter()
                    .all(|g| g.role == Role::Output)
                    .then_some(GroupKey::Other {
                        backend: g.first()?.backend,
                        what: "rules whose summarize fields the table lacks (declared gaps): results are grouped by the fields it has",
                    })
            }
            Cause::Reshaped { backend, what } => Some(GroupKey::Other {
                backend: *backend,
                what,
            }),
            _ => None,
        }
    }

    /// The loss this diagnostic reports, when it reports one.
    pub fn loss(&self) -> Option<&Loss> {
        match self.cause.as_deref() {
            Some(Cause::Loss(l)) => Some(l),
            _ => None,
        }
    }

    /// The message without the subject it starts with (`netsupport/netconn: `), for text that
    /// already names the subject.
    pub fn detail(&self) -> &str {
        self.message
            .split_once(": ")
            .map_or(self.message.as_str(), |(_, rest)| rest)
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
        if let Some(a) = &self.acknowledged {
            write!(f, " (acknowledged in {}: {})", a.by.display(), a.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Files that may read a message's text, and why: this one renders it (`detail`).
    const MAY_READ_TEXT: &[&str] = &["diag.rs"];

    /// No module decides anything from a diagnostic's text: code that must act on what a
    /// diagnostic reports reads its typed `cause` (a message can be reworded at any time).
    /// Every source file outside tests is searched for a `.message` that is searched,
    /// compared or matched on.
    #[test]
    fn no_code_reads_a_message() {
        let search = regex::Regex::new(
            r"(?x)
            \.message \s* (?: \. \s* as_str \s* \( \s* \) \s* )?
            (?: \. \s* (?:contains|starts_with|ends_with|find|rfind|split_once|rsplit_once
                          |split|rsplit|strip_prefix|strip_suffix|matches|match_indices) \s* \(
              | [=!]= )
            | \bmatch \s+ [\w.&*()]* \.message\b",
        )
        .expect("regex");
        let mut found = Vec::new();
        let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("src is readable") {
                let path = e.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                // unit-test files assert on what is printed
                if !name.ends_with(".rs") || name == "tests.rs" || MAY_READ_TEXT.contains(&name) {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source is UTF-8");
                // the code before the file's unit tests (which assert on what is printed)
                let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
                for m in search.find_iter(code) {
                    let line = code[..m.start()].lines().count();
                    found.push(format!("{}:{line}: {}", path.display(), m.as_str()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "code reads a message's text; read the typed cause (diag::Cause) instead:\n{}",
            found.join("\n")
        );
    }
}
