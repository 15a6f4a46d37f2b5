//! `rmmc build`: specs → IR → artifacts (in memory), then an atomic write of the output folder.
//!
//! Output layout (relative to `--out`):
//! - `kql/<spec>-<detection>[-<source>].kql`            plain KQL hunting query
//! - `sentinel/hunting/<spec>-<detection>[-<source>].yaml`   Sentinel hunting query
//! - `sentinel/analytic/<spec>-<detection>[-<source>].yaml`  Sentinel scheduled analytic rule
//! - `.rmmc-output`   marker: rmmc only ever replaces folders that carry it

use crate::backend::common::Rendering;
use crate::backend::kql::{self, KqlQuery};
use crate::diag::{Diag, DiagKind};
use crate::ir::{self, IrSpec};
use crate::render;
use crate::spec::LoadedSpec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `rmmc build` can emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Target {
    /// Plain KQL queries (`kql/`).
    Kql,
    /// Microsoft Sentinel hunting and analytic-rule YAML (`sentinel/`).
    Sentinel,
    /// Sigma rules (`sigma/`).
    Sigma,
    /// Splunk SPL searches and savedsearches.conf (`splunk/`).
    Splunk,
    /// Elastic EQL queries and a Kibana detection-rule export (`elastic/`).
    Elastic,
}

impl Target {
    pub const ALL: &'static [Target] = &[
        Target::Kql,
        Target::Sentinel,
        Target::Sigma,
        Target::Splunk,
        Target::Elastic,
    ];
}

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub targets: Vec<Target>,
    pub exclusions: bool,
}

impl BuildOptions {
    /// These targets only, with exclusions.
    pub fn only(targets: &[Target]) -> BuildOptions {
        BuildOptions {
            targets: targets.to_vec(),
            exclusions: true,
        }
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            targets: Target::ALL.to_vec(),
            exclusions: true,
        }
    }
}

/// Artifacts by relative path (sorted, so iteration and output are deterministic).
pub type Files = BTreeMap<String, String>;

#[derive(Debug, Default)]
pub struct BuildResult {
    pub files: Files,
    pub diags: Vec<Diag>,
    /// How every match was rendered by every backend built (`rmmc explain`).
    pub renderings: Vec<Rendering>,
}

/// Sentinel's published limits for analytic rules.
pub mod limits {
    pub const NAME: usize = 256;
    pub const DESCRIPTION: usize = 5000;
    pub const QUERY: usize = 10_000;
    pub const ENTITY_MAPPINGS: usize = 5;
    pub const FIELD_MAPPINGS: usize = 3;
}

/// Compile loaded specs into artifacts, in memory.
pub fn compile(specs: &[LoadedSpec], opts: &BuildOptions) -> BuildResult {
    let mut res = BuildResult::default();
    let irs: Vec<IrSpec> = specs.iter().map(ir::lower).collect();
    // Backends that produce whole files from all specs at once (they may aggregate, e.g.
    // one savedsearches.conf): (target, compile). They run on their own threads while KQL and
    // Sentinel compile here; results are joined in this fixed order, so the output and the
    // diagnostics are the same as a sequential build's.
    let file_backends: &[(Target, FileBackend)] = &[
        (Target::Sigma, crate::backend::sigma::compile),
        (Target::Splunk, crate::backend::spl::compile),
        (Target::Elastic, crate::backend::eql::compile),
    ];
    let files_compiled = std::thread::scope(|scope| {
        let handles: Vec<_> = file_backends
            .iter()
            .filter(|(target, _)| opts.targets.contains(target))
            .map(|(_, compile)| {
                let irs = &irs;
                scope.spawn(move || compile(irs, opts.exclusions))
            })
            .collect();
        let res = &mut res;
        let irs = &irs;
        if opts
            .targets
            .iter()
            .any(|t| matches!(t, Target::Kql | Target::Sentinel))
        {
            for ir in irs.iter() {
                let compiled = kql::compile(ir, opts.exclusions);
                res.diags.extend(compiled.diags);
                res.renderings.extend(compiled.renderings);
                for q in &compiled.items {
                    if opts.targets.contains(&Target::Kql) {
                        res.files
                            .insert(format!("kql/{}.kql", q.id.stem), q.text.clone());
                    }
                    if opts.targets.contains(&Target::Sentinel) {
                        match sentinel(ir, q, opts) {
                            Ok((hunting, analytic)) => {
                                res.files.insert(
                                    format!("sentinel/hunting/{}.yaml", q.id.stem),
                                    hunting,
                                );
                                res.files.insert(
                                    format!("sentinel/analytic/{}.yaml", q.id.stem),
                                    analytic,
                                );
                            }
                            Err(d) => res.diags.push(d),
                        }
                    }
                }
            }
        }
        handles
            .into_iter()
            .map(|h| h.join().expect("a backend thread panicked"))
            .collect::<Vec<_>>()
    });
    for compiled in files_compiled {
        res.diags.extend(compiled.diags);
        res.renderings.extend(compiled.renderings);
        res.files.extend(compiled.items);
    }
    res
}

/// A backend that compiles all specs into files (relative path, content).
pub type FileBackend = fn(&[IrSpec], bool) -> crate::backend::Compiled<(String, String)>;

#[derive(Serialize)]
struct SentinelCtx<'a> {
    id: String,
    name: String,
    description: String,
    severity: &'static str,
    connectors: &'a [serde_json::Value],
    frequency: String,
    period: String,
    tactics: Vec<String>,
    techniques: &'a [String],
    query: &'a str,
    entities: Vec<serde_json::Value>,
}

/// Render the hunting and analytic YAML of one query, enforcing Sentinel's limits: a rule
/// over a limit is a build error, never a silently truncated rule.
fn sentinel(spec: &IrSpec, q: &KqlQuery, opts: &BuildOptions) -> Result<(String, String), Diag> {
    let det = spec
        .detections
        .iter()
        .find(|d| d.id == q.id.detection)
        .expect("query comes from this spec");
    let limit = |what: &str, len: usize, max: usize| -> Result<(), Diag> {
        if len > max {
            Err(Diag::error(
                DiagKind::Limit,
                format!(
                    "{}: the Sentinel rule's {what} is {len} long; Sentinel allows at most {max}",
                    q.id.stem
                ),
            )
            .at(&spec.file, det.span)
            .help(format!("shorten the {what}")))
        } else {
            Ok(())
        }
    };
    let data = kql::data();
    let mut name = render::render_str(
        &data.rule_name,
        minijinja::context! { vendor => spec.vendor, title => det.title },
    )
    .map_err(|e| Diag::error(DiagKind::Io, format!("rule name template: {e}")))?;
    if det.sources.len() > 1 {
        name.push_str(&format!(" ({})", q.table.name));
    }
    limit("name", name.chars().count(), limits::NAME)?;

    let mut description = spec.description.clone();
    for r in &spec.references {
        description.push('\n');
        description.push_str(r);
    }
    let applied: Vec<_> = det
        .exclusions
        .iter()
        .filter(|x| opts.exclusions && x.sources.contains(&q.id.source))
        .collect();
    if !applied.is_empty() {
        description.push_str("\n\nExcluded as benign:");
        for x in applied {
            description.push_str(&format!("\n- {}: {}", x.id, x.reason));
        }
    }
    for g in &q.gaps {
        description.push_str(&format!(
            "\n\nKnown gap (KQL matches more than the spec): {g}"
        ));
    }
    description.push('\n');
    limit(
        "description",
        description.chars().count(),
        limits::DESCRIPTION,
    )?;
    limit("query", q.text.chars().count(), limits::QUERY)?;

    let mut entities: Vec<serde_json::Value> = Vec::new();
    for (column, field) in &q.columns {
        let Some(e) = field.and_then(|f| data.entities.get(f.name())) else {
            continue;
        };
        let v = serde_json::json!({
            "entityType": e.entity_type,
            "fieldMappings": [{ "identifier": e.identifier, "columnName": column }],
        });
        if !entities.contains(&v) {
            entities.push(v);
        }
    }
    limit(
        "entity mapping list",
        entities.len(),
        limits::ENTITY_MAPPINGS,
    )?;

    let tactics: Vec<String> = spec.tactics.iter().map(|t| format!("{t:?}")).collect();
    let mut ctx = SentinelCtx {
        id: q.id.uuid("sentinel-hunting").to_string(),
        name,
        description,
        severity: spec.severity.title(),
        connectors: q
            .table
            .meta
            .get("connectors")
            .and_then(|c| c.as_array())
            .map_or(&[], Vec::as_slice),
        frequency: spec.frequency.kql(),
        period: spec.window.kql(),
        tactics,
        techniques: &spec.techniques,
        query: &q.text,
        entities,
    };
    let render_err =
        |e: minijinja::Error| Diag::error(DiagKind::Io, format!("template error: {e:#}"));
    let hunting = render::render("sentinel/hunting.yaml.j2", &ctx).map_err(render_err)?;
    ctx.id = q.id.uuid("sentinel-analytic").to_string();
    let analytic = render::render("sentinel/analytic.yaml.j2", &ctx).map_err(render_err)?;
    Ok((hunting, analytic))
}

/// Name of the marker file that identifies an rmmc output folder.
pub const MARKER: &str = ".rmmc-output";
pub const MARKER_TEXT: &str =
    "This folder is generated by `rmmc build` and replaced on every build.\n";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// Replace `out` with exactly `files`, atomically: everything is written to a sibling temp
/// folder first and swapped in with a rename, so a failed build never leaves half an output.
/// Files whose bytes did not change keep their inode and mtime (they are hard-linked, not
/// rewritten); when nothing changed, nothing is touched at all.
pub fn write_output(out: &Path, files: &Files) -> Result<WriteStats, Diag> {
    write_tree(out, files, MARKER_TEXT, &|| {})
}

/// `write_output` with the marker file saying what generated the folder (`rmmc import`
/// writes spec folders the same way).
///
/// `tick` is called once per file placed (for a progress bar).
pub fn write_tree(
    out: &Path,
    files: &Files,
    marker_text: &str,
    tick: &dyn Fn(),
) -> Result<WriteStats, Diag> {
    let io = |what: String, e: std::io::Error| {
        Diag::error(DiagKind::Io, format!("{what}: {e}")).at(out, None)
    };
    let existing = read_existing(out)?;
    let mut stats = WriteStats::default();
    for (path, content) in files {
        match existing.get(path) {
            Some(old) if old.as_bytes() == content.as_bytes() => stats.unchanged += 1,
            _ => stats.written += 1,
        }
    }
    stats.removed = existing.keys().filter(|p| !files.contains_key(*p)).count();
    if stats.written == 0 && stats.removed == 0 && out.join(MARKER).is_file() {
        return Ok(stats);
    }

    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| io(format!("cannot create {}", parent.display()), e))?;
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{base}.rmmc-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let fill = || -> Result<(), Diag> {
        std::fs::create_dir(&tmp).map_err(|e| io(format!("cannot create {}", tmp.display()), e))?;
        std::fs::write(tmp.join(MARKER), marker_text)
            .map_err(|e| io("cannot write marker".into(), e))?;
        for (path, content) in files {
            tick();
            let dest = tmp.join(path);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| io(format!("cannot create {}", dir.display()), e))?;
            }
            let unchanged = existing
                .get(path)
                .is_some_and(|old| old.as_bytes() == content.as_bytes());
            if unchanged && std::fs::hard_link(out.join(path), &dest).is_ok() {
                continue;
            }
            std::fs::write(&dest, content)
                .map_err(|e| io(format!("cannot write {}", dest.display()), e))?;
        }
        Ok(())
    };
    if let Err(d) = fill() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(d);
    }
    if let Err(e) = swap_in(&tmp, out) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(io(
            format!("cannot move the new output into {}", out.display()),
            e,
        ));
    }
    Ok(stats)
}

/// Move `tmp` to `out`. On Linux an existing `out` is exchanged with `tmp` in one
/// `renameat2(RENAME_EXCHANGE)`, so readers see the old or the new folder, never neither;
/// elsewhere (or where the file system refuses) the old folder is renamed aside first.
fn swap_in(tmp: &Path, out: &Path) -> std::io::Result<()> {
    if !out.exists() {
        return std::fs::rename(tmp, out);
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        if renameat_with(CWD, tmp, CWD, out, RenameFlags::EXCHANGE).is_ok() {
            // `tmp` now holds the previous output.
            return std::fs::remove_dir_all(tmp);
        }
    }
    let old = tmp.with_extension("old");
    let _ = std::fs::remove_dir_all(&old);
    std::fs::rename(out, &old)?;
    if let Err(e) = std::fs::rename(tmp, out) {
        let _ = std::fs::rename(&old, out);
        return Err(e);
    }
    std::fs::remove_dir_all(&old)
}

/// The files under an existing output folder (relative path → content). Refuses folders
/// that rmmc did not create, and symlinks, so `--out` can never clobber user data.
fn read_existing(out: &Path) -> Result<Files, Diag> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Files::new()),
        Err(e) => {
            return Err(
                Diag::error(DiagKind::Io, format!("cannot read output folder: {e}")).at(out, None),
            )
        }
    };
    if !meta.is_dir() {
        return Err(Diag::error(
            DiagKind::Io,
            "the output path exists and is not a folder (or is a symlink)",
        )
        .at(out, None)
        .help("pass a folder path to --out"));
    }
    let is_empty = std::fs::read_dir(out)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !is_empty && !out.join(MARKER).is_file() {
        return Err(Diag::error(
            DiagKind::Io,
            format!("refusing to replace {}: it is not empty and was not created by rmmc (no {MARKER} file)", out.display()),
        )
        .at(out, None)
        .help("pick another --out folder, or empty this one"));
    }
    read_tree(out).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read output folder: {e}")).at(out, None)
    })
}

/// Every regular file under `root` (relative path with `/` → content), the marker excepted.
/// Symlinks are not followed. Non-UTF-8 files read as empty (they differ from any artifact).
pub fn read_tree(root: &Path) -> std::io::Result<Files> {
    fn walk(root: &Path, dir: &Path, files: &mut Files) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            if ty.is_dir() {
                walk(root, &path, files)?;
            } else if ty.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/");
                if rel != MARKER {
                    files.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        Ok(())
    }
    let mut files = Files::new();
    walk(root, root, &mut files)?;
    Ok(files)
}
