//! Loading specs: YAML text → `Spec`, with every problem reported at file:line:col.

use super::spans::{SpanIndex, YamlPath};
use super::{validate, Spec};
use crate::diag::{Diag, DiagKind, Span};
use crate::input::ReadError;
use std::collections::{HashMap, HashSet};
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
    /// The spec's own warnings from validation (e.g. a deprecated key), reported by
    /// `load_dirs_warning` with the folders' skipped entries.
    pub warnings: Vec<Diag>,
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
        d.help = e.help.map(String::into_boxed_str);
        vec![d]
    })?;
    let de = serde_yaml::Deserializer::from_str(text);
    let spec: Spec = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = YamlPath::from_serde(e.path());
        let first = serde_diag(file, text, &index, &path, e.inner());
        super::recover::every_structural_error(text, first, |path, e| {
            serde_diag(file, text, &index, path, e)
        })
    })?;
    let diags = validate::validate(&spec, &index, file);
    if diags.iter().any(Diag::is_error) {
        return Err(diags);
    }
    Ok(LoadedSpec {
        spec,
        file: file.to_path_buf(),
        index,
        warnings: diags,
    })
}

pub(crate) fn serde_diag(
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
    let (message, hint) = plain_words(&message);
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
    match (hint, help.is_empty()) {
        (Some(hint), _) => d.help(hint),
        (None, true) => d,
        (None, false) => d.help(help),
    }
}

/// serde's wording in a detection engineer's words, and what to write instead when it can be
/// told: "invalid type: string "x", expected a sequence" says "expected a list, found text
/// "x""; an unknown key or value names the closest known one (or the rmmc form of a Sigma
/// habit). serde_yaml gives its errors as text only, so its fixed phrases are matched here.
fn plain_words(message: &str) -> (String, Option<String>) {
    // serde's lists of allowed names: "expected one of `a`, `b`" / "expected `a` or `b`"
    let allowed = |rest: &str| -> Vec<String> {
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((name, expected)) = rest.split_once('`') {
            let known = allowed(expected);
            let hint = super::hints::closest(name, known.iter().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"));
            return (message.to_string(), hint);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((value, expected)) = rest.split_once('`') {
            let known = allowed(expected);
            let categories: Vec<&'static str> = super::fields::Category::ALL
                .iter()
                .map(|c| c.name())
                .collect();
            // the unknown value is a detection's category when serde lists exactly those
            let hint = if known.len() == categories.len()
                && categories.iter().all(|c| known.iter().any(|k| k == c))
            {
                super::hints::category(value, &categories)
            } else {
                super::hints::closest(value, known.iter().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
            };
            return (
                format!(
                    "unknown value `{value}`, expected one of {}",
                    &expected[expected.find('`').unwrap_or(0)..]
                ),
                hint,
            );
        }
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return (
                format!(
                    "expected {}, found {}",
                    plain_type(expected),
                    plain_type(found)
                ),
                None,
            );
        }
    }
    (message.to_string(), None)
}

/// serde's names of YAML shapes, as a spec writer says them.
fn plain_type(t: &str) -> String {
    let t = t.trim();
    if let Some(v) = t.strip_prefix("string ") {
        return format!("the text {v}");
    }
    for (serde, plain) in [
        ("integer ", "the number "),
        ("floating point ", "the number "),
        ("boolean ", "the boolean "),
    ] {
        if let Some(v) = t.strip_prefix(serde) {
            return format!("{plain}{}", v.trim_matches('`'));
        }
    }
    if t.starts_with("struct ") || t.starts_with("map") || t == "a map" {
        return "a map of `key: value` lines".into();
    }
    match t {
        "sequence" | "a sequence" => "a list".into(),
        "a string" | "string" => "text".into(),
        "unit value" => "an empty value".into(),
        // serde_yaml's word for an enum given something other than one scalar
        "a YAML tag starting with '!'" => "one value (not a list or a map)".into(),
        "a value or a list of values" | "a value or a non-empty list of values" => {
            "a value or a list of values".into()
        }
        other => other.to_string(),
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

/// `load_dir` over several folders or spec files (e.g. `rules rules/imported/sentinel`, or
/// `rules/netsupport.yaml`), in the order given; spec ids must be unique across all of them,
/// since they name output files.
pub fn load_dirs(dirs: &[PathBuf]) -> Result<Vec<LoadedSpec>, Vec<Diag>> {
    load_dirs_warning(dirs).map(|(specs, _)| specs)
}

/// `load_dirs`, with the warnings too: entries named like specs that were not read (a FIFO,
/// a folder, a symlink out of the folder).
pub fn load_dirs_warning(dirs: &[PathBuf]) -> Result<(Vec<LoadedSpec>, Vec<Diag>), Vec<Diag>> {
    use rayon::prelude::*;
    // What each argument names, in order: a folder's skipped entries and a folder that cannot
    // be listed are reported where its files would have been.
    enum Item {
        /// A spec file; `named` when the command line names it (not found in a folder).
        File {
            path: PathBuf,
            named: bool,
        },
        Report(Diag),
    }
    let mut listed: Vec<Item> = Vec::new();
    // A file named twice (`rules rules/x.yaml`) is one spec, not a duplicate id.
    let mut seen_files = HashSet::new();
    for path in dirs {
        let named = !path.is_dir();
        let found = if named {
            spec_file(path).map(|f| (vec![f], Vec::new()))
        } else {
            spec_files_skipped(path)
        };
        match found {
            Ok((files, skipped)) => {
                listed.extend(skipped.into_iter().map(Item::Report));
                listed.extend(
                    files
                        .into_iter()
                        // the same path, however spelt (`./rules/x.yaml`); a symlink is another
                        // file, and its spec a duplicate id if it is loaded too
                        .filter(|f| seen_files.insert(absolute(f)))
                        .map(|path| Item::File { path, named }),
                );
            }
            Err(d) => listed.push(Item::Report(d)),
        }
    }
    // Files are independent: parse them on every core. `collect` keeps the order, so specs and
    // diagnostics come out exactly as a sequential load gives them.
    let loaded: Vec<Result<Option<LoadedSpec>, Vec<Diag>>> = listed
        .into_par_iter()
        .map(|item| match item {
            Item::File { path, named } => load_spec_or_mapping(&path, named),
            Item::Report(d) => Err(vec![d]),
        })
        .collect();
    let mut specs = Vec::new();
    let mut diags = Vec::new();
    for result in loaded {
        match result {
            Ok(Some(s)) => {
                diags.extend(s.warnings.iter().cloned());
                specs.push(s)
            }
            Ok(None) => {}
            Err(d) => diags.extend(d),
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

/// Load one spec file, unless it is a mapping file (`crate::mappings`: top-level `extends:` or
/// `tables:` and no `id:`), which may lie among the rules when the project's `[mapping]` names
/// it: one chosen for this run is passed over, one found in a folder but not chosen is passed
/// over with a warning, and one named on the command line is an error (it is no spec).
fn load_spec_or_mapping(file: &Path, named: bool) -> Result<Option<LoadedSpec>, Vec<Diag>> {
    let text = read_spec(file)?;
    if !is_mapping_text(&text) {
        return load_str(file, &text).map(Some);
    }
    if crate::mappings::is_chosen_file(file) {
        return Ok(None);
    }
    let help = "choose it with `--mapping FILE` or under `[mapping]` in rmmc.toml; a mapping file chosen there may lie among the rules";
    if named {
        return Err(vec![Diag::error(
            DiagKind::Value,
            "a mapping file (top-level `extends:` or `tables:`), not a spec",
        )
        .at(file, None)
        .help(help)]);
    }
    Err(vec![Diag::warning(
        DiagKind::Value,
        "a mapping file (top-level `extends:` or `tables:`) not chosen for this run: not read as a spec",
    )
    .at(file, None)
    .help(help)])
}

/// Does `text` read as a mapping file rather than a spec? Block-style top-level keys are at
/// column 0: a mapping file has `extends:` or `tables:` there, a spec always has `id:`.
fn is_mapping_text(text: &str) -> bool {
    let key = |k: &str| {
        text.lines()
            .any(|l| l.strip_prefix(k).is_some_and(|rest| rest.starts_with(':')))
    };
    (key("extends") || key("tables")) && !key("id")
}

/// A spec file named on the command line: it must exist and be a `*.yaml` / `*.yml` file.
fn spec_file(path: &Path) -> Result<PathBuf, Diag> {
    if !path.exists() {
        return Err(Diag::error(DiagKind::Io, "no such spec file or folder")
            .at(path, None)
            .help("pass folders of *.yaml specs or spec files (default ./rules)"));
    }
    if !matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) {
        return Err(
            Diag::error(DiagKind::Io, "not a spec file (*.yaml or *.yml)")
                .at(path, None)
                .help("pass folders of *.yaml specs or spec files (default ./rules)"),
        );
    }
    Ok(path.to_path_buf())
}

/// The spec files directly in `dir`, sorted by name; an error when there are none.
pub fn spec_files(dir: &Path) -> Result<Vec<PathBuf>, Diag> {
    spec_files_skipped(dir).map(|(files, _)| files)
}

/// How deep below a spec folder specs are looked for: far deeper than any real layout, and a
/// bound on a hostile tree.
const MAX_FOLDER_DEPTH: usize = 16;

fn is_spec_name(name: &str) -> bool {
    matches!(
        Path::new(name).extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// `spec_files`, with a warning for each entry that is not read. Only regular files (or
/// symlinks to them inside their folder) are specs (`crate::input::files_in`). Folders below
/// `dir` are read too (`rules/vendors/x.yaml`), in name order after the folder's own files,
/// except hidden ones (`.git`), symlinked ones (not followed: a link can lead out of the tree or
/// round in a loop), a build's output (`.rmmc-output`: its YAML files are artifacts) and an
/// import's drafts (`.rmmc-import`: read only when named on the command line).
fn spec_files_skipped(dir: &Path) -> Result<(Vec<PathBuf>, Vec<Diag>), Diag> {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    walk(dir, 0, &mut files, &mut warnings).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read rules directory: {e}"))
            .at(dir, None)
            .help("pass the folder holding the *.yaml specs (default ./rules)")
    })?;
    if files.is_empty() {
        return Err(Diag::error(DiagKind::Io, "no *.yaml specs found")
            .at(dir, None)
            .help("pass the folder holding the specs (default ./rules)"));
    }
    Ok((files, warnings))
}

/// One folder of `spec_files_skipped`: an error only for `dir` itself; a folder below that
/// cannot be read is a warning, so one bad folder does not hide the others.
fn walk(
    dir: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    warnings: &mut Vec<Diag>,
) -> std::io::Result<()> {
    let (found, skipped) = crate::input::files_in(dir, is_spec_name)?;
    files.extend(found);
    warnings.extend(
        skipped
            .into_iter()
            .map(|s| Diag::warning(DiagKind::Io, s.why).at(&s.path, None)),
    );
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        // hidden entries are tools' own (`.git`); a folder named like a spec was reported above
        if name.starts_with('.') || is_spec_name(name) {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() {
            folders.push(entry.path());
        } else if ty.is_symlink() && entry.path().is_dir() {
            warnings.push(
                Diag::warning(DiagKind::Io, "a symlink to a folder: not followed")
                    .at(&entry.path(), None)
                    .help("name the folder it leads to on the command line to read its specs"),
            );
        }
    }
    folders.sort();
    for folder in folders {
        let why = if folder.join(crate::build::MARKER).exists() {
            Some((
                "a build's output folder (it has .rmmc-output): its YAML files are artifacts, not specs: not read",
                "build into a folder outside the specs' folder",
            ))
        } else if folder.join(crate::build::IMPORT_MARKER).exists() {
            // an import's drafts are read only when named (`rules rules/imported/sentinel`):
            // they sit beside the hand-written specs by design, so passing them over is the
            // documented layout, not a warning on every run
            continue;
        } else if depth + 1 > MAX_FOLDER_DEPTH {
            Some((
                "folders nest too deeply: not read",
                "name the folder on the command line to read its specs",
            ))
        } else {
            None
        };
        if let Some((why, help)) = why {
            warnings.push(
                Diag::warning(DiagKind::Io, why)
                    .at(&folder, None)
                    .help(help),
            );
            continue;
        }
        if let Err(e) = walk(&folder, depth + 1, files, warnings) {
            warnings.push(
                Diag::warning(DiagKind::Io, format!("cannot read folder: {e}")).at(&folder, None),
            );
        }
    }
    Ok(())
}

/// A path as one spelling (`./rules/x` and `rules/x` are the same); symlinks are not resolved.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
