//! Acknowledged fidelity losses: a detection's `accepted:` in its spec, and the project's
//! `rmmc.toml`, each entry keyed like the warnings (`diag::LossKey`: backend, effect, note)
//! with a reason. An acknowledged warning is marked (`Diag::acknowledged`) and no longer
//! counts for `--deny`; an entry that matches no warning is itself a warning (stale).
//!
//! `rmmc.toml` is found by walking up from each rules folder (or a spec file's folder) to the
//! repository root (a folder holding `.git`), or given with `--config`. Its format, with room
//! for later sections:
//!
//! ```toml
//! [accepted.kql.narrower]
//! "kind:term" = "why this loss is acceptable"
//!
//! [accepted."kql/sentinel-asim".narrower]     # only while that mapping is read
//! "column:endpoint.network.remote_domain" = "why"
//! ```
//!
//! An entry under `BACKEND/MAPPING` is a loss of that mapping's columns: it acknowledges only
//! in a run that reads the mapping (`--mapping`, `[mapping]`), and only such a run can call it
//! stale (a run on the default tables never makes its warning).

use crate::diag::{Ack, Diag, DiagKind, LossKey, Span};
use crate::spec::accepted::{Effect, NoteId};
use crate::spec::{BackendName, LoadedSpec};
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The file name of the project configuration.
pub const CONFIG_FILE: &str = "rmmc.toml";

/// One acknowledgement: a loss, why it is acceptable, and where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: LossKey,
    pub reason: String,
    pub file: PathBuf,
    pub span: Option<Span>,
    /// The spec and detection it is limited to (`accepted:` in a spec); `None` in `rmmc.toml`.
    pub scope: Option<(String, String)>,
    /// The mapping it is limited to (`[accepted."kql/sentinel-asim".narrower]`).
    pub mapping: Option<String>,
}

impl Entry {
    /// Does this run read the entry's mapping (always, for an entry of no mapping)?
    fn in_use(&self) -> bool {
        self.mapping
            .as_deref()
            .is_none_or(|m| crate::mappings::chosen_name(self.key.backend) == Some(m))
    }
}

/// The project configuration (`rmmc.toml`).
#[derive(Debug, Default)]
pub struct Project {
    pub file: PathBuf,
    pub accepted: Vec<Entry>,
    /// `[mapping]`: per backend, the mapping chosen (a shipped name or a file relative to the
    /// configuration) and where it is written.
    pub mapping: Vec<(BackendName, String, Span)>,
}

type Reasons = IndexMap<Spanned<NoteId>, Spanned<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    /// Per backend (or backend/mapping), per effect, per note: the reason.
    #[serde(default)]
    accepted: IndexMap<crate::mappings::MappingScope, IndexMap<Effect, Reasons>>,
    /// Per backend: its mapping.
    #[serde(default)]
    mapping: IndexMap<BackendName, Spanned<String>>,
}

/// The `rmmc.toml` nearest to the rules: for each folder (or a file's folder), the first
/// found walking up, stopping at the repository root. Several different ones are an error.
pub fn find(rules: &[PathBuf]) -> Result<Option<PathBuf>, Diag> {
    let mut found: Option<PathBuf> = None;
    for r in rules {
        let start = if r.is_dir() {
            r.clone()
        } else {
            r.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let start = std::fs::canonicalize(if start.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &start
        })
        .unwrap_or(start);
        let Some(file) = start
            .ancestors()
            .scan(false, |root, dir| {
                // stop after the repository root
                let past = *root;
                *root = dir.join(".git").exists();
                (!past).then_some(dir)
            })
            .map(|d| d.join(CONFIG_FILE))
            .find(|f| f.is_file())
        else {
            continue;
        };
        // shown relative to the working folder when below it
        let file = std::env::current_dir()
            .ok()
            .and_then(|cwd| file.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or(file);
        match &found {
            Some(f) if *f != file => {
                return Err(Diag::error(
                    DiagKind::Io,
                    format!(
                        "the rules belong to two projects ({} and {})",
                        f.display(),
                        file.display()
                    ),
                )
                .help("check them separately, or name one configuration with `--config`"))
            }
            _ => found = Some(file),
        }
    }
    Ok(found)
}

/// Does the run cover the whole project of `config`: was every spec (`*.yaml`, `*.yml`) in
/// its folder and below loaded? Only then can a project entry that matched nothing be
/// called stale (checking `rules` alone leaves the entries for `rules/imported` unused).
pub fn covers(config: &Path, specs: &[LoadedSpec]) -> bool {
    let loaded: std::collections::HashSet<PathBuf> = specs
        .iter()
        .filter_map(|s| std::fs::canonicalize(&s.file).ok())
        .collect();
    let Some(dir) = config.parent() else {
        return false;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            return false;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                && !std::fs::canonicalize(&p).is_ok_and(|p| loaded.contains(&p))
            {
                return false;
            }
        }
    }
    true
}

/// Read and validate `rmmc.toml`. Errors name file:line:col.
pub fn load(file: &Path) -> Result<Project, Diag> {
    let bytes = crate::input::read_bounded(file, crate::input::MAX_INPUT_BYTES).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read {}: {e}", file.display())).at(file, None)
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Diag::error(DiagKind::Io, "the configuration is not UTF-8").at(file, None))?;
    let parsed: ProjectFile = toml::from_str(&text).map_err(|e| {
        let span = e.span().map(|r| span_at(&text, r.start));
        Diag::error(DiagKind::Schema, e.message().trim_end().to_string())
            .at(file, span)
            .help(format!(
                "{CONFIG_FILE} holds `[accepted.<backend>.<wider|narrower>]` (or `[accepted.\"<backend>/<mapping>\".<…>]`) tables of `\"<note>\" = \"<reason>\"` and a `[mapping]` table of `<backend> = \"<mapping name or file>\"`"
            ))
    })?;
    let mut accepted = Vec::new();
    for (scope, effects) in parsed.accepted {
        let backend = scope.backend;
        for (effect, notes) in effects {
            for (note, reason) in notes {
                let span = Some(span_at(&text, note.span().start));
                if reason.get_ref().trim().is_empty() {
                    let at = Some(span_at(&text, reason.span().start));
                    return Err(Diag::error(
                        DiagKind::Value,
                        format!("`{}` has an empty reason", note.get_ref()),
                    )
                    .at(file, at)
                    .help("say why the loss is acceptable: reviewers read it"));
                }
                accepted.push(Entry {
                    key: LossKey {
                        backend,
                        effect: effect.fidelity(),
                        note: note.into_inner().0,
                    },
                    reason: reason.into_inner().trim().to_string(),
                    file: file.to_path_buf(),
                    span,
                    scope: None,
                    mapping: scope.mapping.map(str::to_string),
                });
            }
        }
    }
    let mapping = parsed
        .mapping
        .into_iter()
        .map(|(b, m)| {
            let at = span_at(&text, m.span().start);
            (b, m.into_inner(), at)
        })
        .collect();
    Ok(Project {
        file: file.to_path_buf(),
        accepted,
        mapping,
    })
}

/// The 1-based line and column of a byte offset.
fn span_at(text: &str, offset: usize) -> Span {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    Span { line, col, offset }
}

/// The `accepted:` entries of the specs' detections.
pub fn spec_entries(specs: &[LoadedSpec]) -> Vec<Entry> {
    let mut out = Vec::new();
    for s in specs {
        for (det_id, det) in &s.spec.detections {
            for (backend, effects) in &det.accepted {
                for (effect, notes) in effects {
                    let effect_word = crate::diag::fidelity_word(effect.fidelity());
                    for (note, reason) in notes {
                        let path = [
                            "detections",
                            det_id.as_str(),
                            "accepted",
                            backend.name(),
                            effect_word,
                            note.0.as_str(),
                        ];
                        out.push(Entry {
                            key: LossKey {
                                backend: *backend,
                                effect: effect.fidelity(),
                                note: note.0.clone(),
                            },
                            reason: reason.0.clone(),
                            file: s.file.clone(),
                            span: s.span_of(&path),
                            scope: Some((s.spec.id.to_string(), det_id.to_string())),
                            mapping: None,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Mark each warning an entry acknowledges (a detection's own entry first, then the
/// project's), and return the entries that acknowledged nothing, as warnings. `stale` is
/// false when not every warning was made (a build of some targets only): then no entry is
/// called stale.
pub fn apply(diags: &mut [Diag], entries: &[Entry], stale: bool) -> Vec<Diag> {
    let mut used = vec![false; entries.len()];
    for d in diags.iter_mut() {
        if d.acknowledged.is_some() || d.is_error() {
            continue;
        }
        let Some(loss) = d.loss() else { continue };
        let key = d.key().expect("a loss has a key");
        let scope_of = |e: &Entry| match &e.scope {
            Some((spec, det)) => (*spec == loss.spec && *det == loss.detection).then_some(0),
            None => Some(1),
        };
        let best = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.key == key && e.in_use())
            .filter_map(|(i, e)| scope_of(e).map(|rank| (rank, i)))
            .min();
        if let Some((_, i)) = best {
            used[i] = true;
            d.acknowledged = Some(Box::new(Ack {
                by: entries[i].file.clone(),
                reason: entries[i].reason.clone(),
            }));
        }
    }
    if !stale {
        return Vec::new();
    }
    let seen: Vec<LossKey> = diags.iter().filter_map(Diag::key).collect();
    entries
        .iter()
        .zip(used)
        .filter(|(e, u)| !u && e.in_use())
        .map(|(e, _)| {
            let same_backend = seen
                .iter()
                .filter(|k| k.backend == e.key.backend && k.effect == e.key.effect)
                .map(|k| k.note.as_str());
            let hint = crate::spec::hints::closest(&e.key.note, same_backend)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            let whose = match &e.scope {
                Some((spec, det)) => format!("{spec}/{det}'s rules"),
                None => "the rules".to_string(),
            };
            Diag::warning(
                DiagKind::Semantics,
                format!(
                    "stale acknowledgement: no warning of {whose} is `{}`{hint}",
                    e.key
                ),
            )
            .at(&e.file, e.span)
            .help("remove the entry (the loss is gone), or correct its backend, effect or note")
        })
        .collect()
}
