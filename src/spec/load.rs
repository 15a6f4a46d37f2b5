//! Loading specs: YAML text → `Spec`, with every problem reported at file:line:col.

use super::spans::{SpanIndex, YamlPath};
use super::{validate, Spec};
use crate::diag::{Diag, DiagKind, Span};
use crate::input::ReadError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest spec file read, in bytes. A hand-written spec is a few KB; an imported one with
/// thousands of indicators stays well under this.
pub const MAX_SPEC_BYTES: u64 = crate::input::MAX_INPUT_BYTES;

/// A spec together with where it came from, so later stages can point back into the YAML.
#[derive(Debug)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub file: PathBuf,
    pub(crate) index: SpanIndex,
}

impl LoadedSpec {
    /// Location of a node, by path, e.g. `["detections", "netconn", "where"]`.
    pub fn span_of(&self, path: &[&str]) -> Option<Span> {
        self.index.nearest(&super::spans_path(path))
    }
}

/// Parse and validate one spec from text. `file` is used in diagnostics only.
pub fn load_str(file: &Path, text: &str) -> Result<LoadedSpec, Vec<Diag>> {
    let index = SpanIndex::build(text).map_err(|e| {
        let mut d = Diag::error(e.kind, e.message).at(file, Some(e.span));
        d.help = e.help;
        vec![d]
    })?;
    let de = serde_yaml::Deserializer::from_str(text);
    let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = YamlPath::from_serde(e.path());
        vec![serde_diag(file, text, &index, &path, e.inner())]
    })?;
    let diags = validate::validate(&spec, &index, file);
    if diags.iter().any(Diag::is_error) {
        return Err(diags);
    }
    Ok(LoadedSpec {
        spec,
        file: file.to_path_buf(),
        index,
    })
}

fn serde_diag(
    file: &Path,
    text: &str,
    index: &SpanIndex,
    path: &YamlPath,
    e: &serde_yaml::Error,
) -> Diag {
    let raw = e.to_string();
    // serde_yaml appends " at line L column C"; we print the location ourselves.
    let message = match raw.find(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw.clone(),
    };
    // serde_yaml prefixes custom errors with its own path, which names the enclosing list
    // rather than the item; drop it, ours is exact.
    let ours = path.to_string();
    let message = match message.split_once(": ") {
        Some((prefix, rest)) if !prefix.is_empty() && ours.starts_with(prefix) => rest.to_string(),
        _ => message,
    };
    // Errors about a key (not its value) point at the key.
    let unknown_field = [
        "unknown field",
        "unknown canonical field",
        "unknown match kind",
        "a predicate has exactly one key",
        "a field match has one kind",
    ]
    .iter()
    .any(|p| message.starts_with(p));
    // Prefer our index: it knows the exact node (serde_yaml may name the enclosing list).
    let span = if unknown_field {
        index.key(path).or_else(|| index.nearest(path))
    } else {
        index.value(path).or_else(|| index.key(path))
    }
    .or_else(|| {
        e.location()
            .map(|l| Span::from_line_col(text, l.line(), l.column()))
    })
    .or_else(|| index.nearest(path));
    let misspelt = message.starts_with("unknown ");
    let (kind, help) = if unknown_field && !misspelt {
        (DiagKind::Schema, "")
    } else if unknown_field {
        (
            DiagKind::Schema,
            "remove it or fix its spelling; `rmmc schema` prints every allowed field",
        )
    } else if message.starts_with("missing field") {
        (
            DiagKind::Schema,
            "add the field; `rmmc schema` describes each one",
        )
    } else if message.starts_with("invalid type") || message.starts_with("unknown variant") {
        (DiagKind::Schema, "change the value to the expected type")
    } else if message.contains("recursion limit") {
        (DiagKind::Limit, "the spec nests too deeply; flatten it")
    } else {
        // Our own value checks say what to write instead in the message itself.
        (DiagKind::Value, "")
    };
    let where_ = if path.0.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    };
    let d = Diag::error(kind, format!("{where_}{message}")).at(file, span);
    if help.is_empty() {
        d
    } else {
        d.help(help)
    }
}

/// Read and load one file.
pub fn load_file(file: &Path) -> Result<LoadedSpec, Vec<Diag>> {
    let text = read_spec(file)?;
    load_str(file, &text)
}

fn read_spec(file: &Path) -> Result<String, Vec<Diag>> {
    let at_start = Some(Span {
        line: 1,
        col: 1,
        offset: 0,
    });
    let bytes = crate::input::read_bounded(file, MAX_SPEC_BYTES).map_err(|e| {
        vec![match e {
            ReadError::TooBig { .. } => Diag::error(DiagKind::Limit, format!("spec file: {e}"))
                .at(file, at_start)
                .help("split the tool into several specs"),
            ReadError::NotRegular(_) => Diag::error(DiagKind::Io, format!("spec: {e}"))
                .at(file, None)
                .help("specs are regular *.yaml files"),
            ReadError::Io(e) => {
                Diag::error(DiagKind::Io, format!("cannot read spec: {e}")).at(file, None)
            }
        }]
    })?;
    String::from_utf8(bytes).map_err(|e| {
        vec![
            Diag::error(DiagKind::Syntax, format!("spec is not UTF-8 text ({e})"))
                .at(file, at_start)
                .help("save the file as UTF-8"),
        ]
    })
}

/// Load every `*.yaml` / `*.yml` file directly in `dir` (sorted by name), collecting every
/// error rather than stopping at the first, and check that spec ids are unique.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedSpec>, Vec<Diag>> {
    load_dirs(&[dir.to_path_buf()])
}

/// `load_dir` over several folders (e.g. `rules rules/imported/sentinel`), in the order
/// given; spec ids must be unique across all of them, since they name output files.
pub fn load_dirs(dirs: &[PathBuf]) -> Result<Vec<LoadedSpec>, Vec<Diag>> {
    load_dirs_warning(dirs).map(|(specs, _)| specs)
}

/// `load_dirs`, with the warnings too: entries named like specs that were not read (a FIFO,
/// a folder, a symlink out of the folder).
pub fn load_dirs_warning(dirs: &[PathBuf]) -> Result<(Vec<LoadedSpec>, Vec<Diag>), Vec<Diag>> {
    let mut specs = Vec::new();
    let mut diags = Vec::new();
    for dir in dirs {
        match spec_files_skipped(dir) {
            Ok((files, skipped)) => {
                diags.extend(skipped);
                for f in &files {
                    match load_file(f) {
                        Ok(s) => specs.push(s),
                        Err(d) => diags.extend(d),
                    }
                }
            }
            Err(d) => diags.push(d),
        }
    }
    let mut seen: HashMap<String, &LoadedSpec> = HashMap::new();
    for s in &specs {
        let id = s.spec.id.as_str().to_string();
        if let Some(first) = seen.get(&id) {
            diags.push(
                Diag::error(
                    DiagKind::Duplicate,
                    format!(
                        "duplicate spec id `{id}`: also used by {}",
                        first.file.display()
                    ),
                )
                .at(&s.file, s.span_of(&["id"]))
                .help(
                    "spec ids name output files and rule ids, so each must be unique: rename one",
                ),
            );
        } else {
            seen.insert(id, s);
        }
    }
    if diags.iter().any(Diag::is_error) {
        return Err(diags);
    }
    Ok((specs, diags))
}

/// The spec files directly in `dir`, sorted by name; an error when there are none.
pub fn spec_files(dir: &Path) -> Result<Vec<PathBuf>, Diag> {
    spec_files_skipped(dir).map(|(files, _)| files)
}

/// `spec_files`, with a warning for each entry named like a spec that is not read: only
/// regular files (or symlinks to them inside `dir`) are specs (`crate::input::files_in`).
fn spec_files_skipped(dir: &Path) -> Result<(Vec<PathBuf>, Vec<Diag>), Diag> {
    let (files, skipped) = crate::input::files_in(dir, |name| {
        matches!(
            Path::new(name).extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        )
    })
    .map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read rules directory: {e}"))
            .at(dir, None)
            .help("pass the folder holding the *.yaml specs (default ./rules)")
    })?;
    if files.is_empty() {
        return Err(Diag::error(DiagKind::Io, "no *.yaml specs found")
            .at(dir, None)
            .help("pass the folder holding the specs (default ./rules)"));
    }
    let warnings = skipped
        .into_iter()
        .map(|s| Diag::warning(DiagKind::Io, s.why).at(&s.path, None))
        .collect();
    Ok((files, warnings))
}
