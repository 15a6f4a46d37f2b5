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

/// Name of the marker file that identifies an `rmmc build` output folder.
pub const MARKER: &str = ".rmmc-output";
pub const MARKER_TEXT: &str =
    "This folder is generated by `rmmc build` and replaced on every build.\n";
/// Name of the marker file of a folder of specs written by `rmmc import`: not `MARKER`, so
/// that a build can never replace imported specs, nor an import a build's output.
pub const IMPORT_MARKER: &str = ".rmmc-import";
pub const IMPORT_MARKER_TEXT: &str = "This folder is generated by `rmmc import` and replaced on every import: copy a spec into your hand-written rules folder to change it (the hand-written spec then wins).\n";

/// Prefix of the temp folder an output is built in (beside the output; inside it when the
/// output is a mount point), followed by the process id.
const TMP_TAG: &str = "rmmc-tmp-";
/// Prefix of the folder an old output is moved to where it cannot be exchanged in one step.
const OLD_TAG: &str = "rmmc-old-";

/// Which command writes a folder: each replaces only folders of its own kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// `rmmc build`: artifacts.
    Build,
    /// `rmmc import`: specs.
    Import,
}

impl OutputKind {
    /// The marker file's name.
    pub fn marker(self) -> &'static str {
        match self {
            OutputKind::Build => MARKER,
            OutputKind::Import => IMPORT_MARKER,
        }
    }
    fn marker_text(self) -> &'static str {
        match self {
            OutputKind::Build => MARKER_TEXT,
            OutputKind::Import => IMPORT_MARKER_TEXT,
        }
    }
    fn command(self) -> &'static str {
        match self {
            OutputKind::Build => "rmmc build",
            OutputKind::Import => "rmmc import",
        }
    }
    fn option(self) -> &'static str {
        match self {
            OutputKind::Build => "--out folder for the artifacts",
            OutputKind::Import => "--out folder for the imported specs",
        }
    }
}

/// The kind of folder `out` is, by its marker. An import made before imports had their own
/// marker wrote `MARKER` with the import's text: that folder is an import's.
fn folder_kind(out: &Path) -> Option<OutputKind> {
    let is_file = |name: &str| {
        std::fs::symlink_metadata(out.join(name)).is_ok_and(|m| m.file_type().is_file())
    };
    if is_file(IMPORT_MARKER) {
        return Some(OutputKind::Import);
    }
    if !is_file(MARKER) {
        return None;
    }
    let text = crate::input::read_bounded(&out.join(MARKER), 4096).unwrap_or_default();
    if text.starts_with(b"This folder is generated by `rmmc import`") {
        Some(OutputKind::Import)
    } else {
        Some(OutputKind::Build)
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// Problems after the new output was in place (an old copy that could not be deleted):
    /// warnings, since the output is the new one.
    pub warnings: Vec<String>,
}

/// Replace `out` with exactly `files`, atomically: everything is written to a sibling temp
/// folder first and swapped in with a rename, so a failed build never leaves half an output.
/// Files whose bytes did not change keep their inode and mtime (they are hard-linked, not
/// rewritten); when nothing changed, nothing is touched at all.
pub fn write_output(out: &Path, files: &Files) -> Result<WriteStats, Diag> {
    write_tree(out, files, OutputKind::Build, &|| {})
}

/// `write_output` for a folder of `kind` (`rmmc import` writes spec folders the same way).
///
/// While it runs, the folder holding `out` is locked (`flock`), so concurrent runs into the
/// same output take turns and each sees the other's finished output. Leftover temp folders
/// of runs that were killed are removed first. The new tree is flushed to disk (`syncfs`)
/// before the swap and the swap itself after it, so a power cut leaves the old or the new
/// output, not empty files. An error means the old output is still in place; anything that
/// goes wrong once the new output is in place is a warning in the stats.
///
/// `tick` is called once per file placed (for a progress bar).
pub fn write_tree(
    out: &Path,
    files: &Files,
    kind: OutputKind,
    tick: &dyn Fn(),
) -> Result<WriteStats, Diag> {
    let io = |what: String, e: std::io::Error| {
        Diag::error(DiagKind::Io, format!("{what}: {e}")).at(out, None)
    };
    let Some(base) = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|_| !out.ends_with(".."))
    else {
        return Err(
            Diag::error(DiagKind::Io, "the output path does not name a folder")
                .at(out, None)
                .help(format!(
                    "pass a folder path such as out/ as the {}",
                    kind.option()
                )),
        );
    };
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .map_err(|e| io(format!("cannot create {}", parent.display()), e))?;
    // the lock is on the parent folder: `out` itself is replaced, so a lock on it (or on a
    // file in it) would be a lock on a folder that is gone after the swap
    let lock =
        lock_folder(&parent).map_err(|e| io(format!("cannot lock {}", parent.display()), e))?;

    let mut stats = WriteStats::default();
    let mount =
        std::fs::symlink_metadata(out).is_ok_and(|m| m.is_dir()) && is_mount_root(out, &parent);
    let existing = read_existing(out, kind, mount)?;
    let (tmp_dir, tmp_prefix) = if mount {
        (out.to_path_buf(), format!(".{TMP_TAG}"))
    } else {
        (parent.clone(), format!(".{base}.{TMP_TAG}"))
    };
    stats
        .warnings
        .extend(remove_stale(&parent, &base, out, mount));
    let existing = existing.unwrap_or_default();

    let mut unchanged: BTreeMap<&str, &std::fs::Metadata> = BTreeMap::new();
    for (path, content) in files {
        let same = existing.files.get(path).filter(|m| {
            m.len() == content.len() as u64
                && crate::input::read_bounded(&out.join(path), m.len())
                    .is_ok_and(|b| b == content.as_bytes())
        });
        match same {
            Some(m) => {
                stats.unchanged += 1;
                unchanged.insert(path, m);
            }
            None => stats.written += 1,
        }
    }
    stats.removed = existing
        .files
        .keys()
        .filter(|p| !files.contains_key(*p))
        .count()
        + existing.others;
    let marked = std::fs::symlink_metadata(out.join(kind.marker())).is_ok_and(|m| m.is_file());
    if stats.written == 0 && stats.removed == 0 && marked {
        return Ok(stats);
    }

    let tmp = tmp_dir.join(format!("{tmp_prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let fill = || -> Result<(), Diag> {
        std::fs::create_dir(&tmp).map_err(|e| io(format!("cannot create {}", tmp.display()), e))?;
        write_file(&tmp.join(kind.marker()), kind.marker_text())
            .map_err(|e| io("cannot write marker".into(), e))?;
        for (path, content) in files {
            tick();
            let dest = tmp.join(path);
            if let Some(dir) = dest.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| io(format!("cannot create {}", dir.display()), e))?;
            }
            // a hard link keeps an unchanged file's inode and mtime; it is kept only if it
            // is the very file compared above (same inode, size and mtime)
            if let Some(old) = unchanged.get(path.as_str()) {
                if std::fs::hard_link(out.join(path), &dest).is_ok() {
                    if std::fs::symlink_metadata(&dest).is_ok_and(|m| same_file(old, &m)) {
                        continue;
                    }
                    let _ = std::fs::remove_file(&dest);
                }
            }
            write_file(&dest, content)
                .map_err(|e| io(format!("cannot write {}", dest.display()), e))?;
        }
        flush(&tmp).map_err(|e| io(format!("cannot flush {} to disk", tmp.display()), e))
    };
    if let Err(d) = fill() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(d);
    }
    let swapped = if mount {
        swap_entries(&tmp, out, kind.marker())
    } else {
        swap_in(
            &tmp,
            out,
            &parent.join(format!(".{base}.{OLD_TAG}{}", std::process::id())),
        )
    };
    match swapped {
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(io(
                format!(
                    "cannot move the new output into {} (the old output is unchanged)",
                    out.display()
                ),
                e,
            ))
        }
        Ok(old) => {
            // the new output is in place: what follows cannot make the run fail
            if let Err(e) = sync_dir(if mount { out } else { &parent }) {
                stats.warnings.push(format!(
                    "the new output is in place, but the folder could not be flushed to disk: {e}"
                ));
            }
            if let Some(old) = old {
                if let Err(e) = std::fs::remove_dir_all(&old) {
                    stats.warnings.push(format!(
                        "the new output is in place, but the previous one could not be deleted from {} ({e}); the next run removes it",
                        old.display()
                    ));
                }
            }
            drop(lock);
            Ok(stats)
        }
    }
}

/// Take an exclusive `flock` on the folder `dir`, waiting for whoever holds it; released when
/// the returned handle is dropped or the process ends (killed included). Linux only: the
/// crate's MSRV (1.85) predates `File::lock` (1.89), and `rustix` is a Linux dependency.
fn lock_folder(dir: &Path) -> std::io::Result<Option<std::fs::File>> {
    #[cfg(target_os = "linux")]
    {
        let f = std::fs::File::open(dir)?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(Some(f))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// Write `content` to a new file.
fn write_file(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(content.as_bytes())?;
    #[cfg(not(target_os = "linux"))]
    f.sync_all()?;
    Ok(())
}

/// Flush the files and folders under `dir` to disk. On Linux one `syncfs` of its file system:
/// on this project's ext4 VM, `fsync` of each of a build's 4,150 files took 15.7 s, `syncfs`
/// 0.33 s (writing included). Elsewhere each file was synced as it was written; the folders
/// are synced here.
fn flush(dir: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let f = std::fs::File::open(dir)?;
        rustix::fs::syncfs(&f)?;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        fn walk(dir: &Path) -> std::io::Result<()> {
            for e in std::fs::read_dir(dir)? {
                let e = e?;
                if e.file_type()?.is_dir() {
                    walk(&e.path())?;
                }
            }
            sync_dir(dir)
        }
        walk(dir)
    }
}

/// `fsync` a folder, which makes the renames and creations in it durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Whether two metadata describe the same, unmodified file.
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
            return false;
        }
    }
    b.file_type().is_file() && a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Whether `out` is the root of a mounted file system (a container volume, a tmpfs): it
/// cannot be renamed, so it is updated entry by entry (`swap_entries`).
fn is_mount_root(out: &Path, parent: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
        if let Ok(st) = statx(
            CWD,
            out,
            AtFlags::NO_AUTOMOUNT | AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::empty(),
        ) {
            if st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) {
                return st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT);
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::symlink_metadata(out), std::fs::metadata(parent)) {
            return a.dev() != b.dev();
        }
    }
    let _ = (out, parent);
    false
}

/// Remove temp folders left by runs that were killed (called under the lock, so no live run
/// of this output is using one; a folder whose process still runs is kept all the same, for
/// runs of older versions, which did not lock; on other systems than Linux, which have
/// neither the lock nor /proc, none is removed). Returns what could not be removed.
fn remove_stale(parent: &Path, base: &str, out: &Path, mount: bool) -> Vec<String> {
    let mut stale = Vec::new();
    let mut scan = |dir: &Path, prefixes: &[String]| {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = prefixes.iter().find_map(|p| name.strip_prefix(p.as_str()));
            let Some(pid) = pid.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            // without /proc (and without the lock: not Linux) a process cannot be told
            // dead, so its folder is kept
            let alive = pid != std::process::id().to_string()
                && (!cfg!(target_os = "linux") || Path::new("/proc").join(pid).exists());
            if e.file_type().is_ok_and(|t| t.is_dir()) && !alive {
                stale.push(e.path());
            }
        }
    };
    scan(
        parent,
        &[format!(".{base}.{TMP_TAG}"), format!(".{base}.{OLD_TAG}")],
    );
    if mount {
        scan(out, &[format!(".{TMP_TAG}")]);
    }
    stale
        .into_iter()
        .filter_map(|p| {
            std::fs::remove_dir_all(&p).err().map(|e| {
                format!(
                    "cannot remove {}, left by a run that was stopped: {e}",
                    p.display()
                )
            })
        })
        .collect()
}

/// Move `tmp` to `out`. On Linux an existing `out` is exchanged with `tmp` in one
/// `renameat2(RENAME_EXCHANGE)`, so readers see the old or the new folder, never neither;
/// elsewhere (or where the file system refuses) the old folder is renamed to `old` first.
/// Returns the folder now holding the previous output, to delete.
fn swap_in(tmp: &Path, out: &Path, old: &Path) -> std::io::Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(out).is_err() {
        std::fs::rename(tmp, out)?;
        return Ok(None);
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        if renameat_with(CWD, tmp, CWD, out, RenameFlags::EXCHANGE).is_ok() {
            // `tmp` now holds the previous output.
            return Ok(Some(tmp.to_path_buf()));
        }
    }
    std::fs::rename(out, old)?;
    if let Err(e) = std::fs::rename(tmp, out) {
        let _ = std::fs::rename(old, out);
        return Err(e);
    }
    Ok(Some(old.to_path_buf()))
}

/// Replace the entries of the mount point `out` with those of `tmp` (a folder inside it), one
/// top-level entry at a time (`kql/`, `sigma/`, …, the marker last): each is exchanged in one
/// `renameat2(RENAME_EXCHANGE)`, so a reader sees each folder old or new, never half. If a
/// step fails, the steps done are undone, so the old output is back. Returns `tmp`, which
/// then holds the previous entries.
fn swap_entries(tmp: &Path, out: &Path, marker: &str) -> std::io::Result<Option<PathBuf>> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use std::collections::BTreeSet;
        use std::ffi::OsString;
        let names = |dir: &Path| -> std::io::Result<BTreeSet<OsString>> {
            std::fs::read_dir(dir)?
                .map(|e| e.map(|e| e.file_name()))
                .collect()
        };
        let new = names(tmp)?;
        let tmp_name = tmp.file_name().map(OsString::from).unwrap_or_default();
        let old: BTreeSet<OsString> = names(out)?
            .into_iter()
            .filter(|n| *n != tmp_name && n.to_str().is_none_or(|n| !MOUNT_ROOT_KEEPS.contains(&n)))
            .collect();
        let mut order: Vec<&OsString> = new.union(&old).filter(|n| *n != marker).collect();
        let marker_name = OsString::from(marker);
        if new.contains(&marker_name) || old.contains(&marker_name) {
            order.push(&marker_name);
        }
        // (from, to, flags): undoing a step is the same call with from and to swapped
        let mut done: Vec<(PathBuf, PathBuf, RenameFlags)> = Vec::new();
        for name in order {
            let (a, b) = (tmp.join(name), out.join(name));
            let step = match (new.contains(name), old.contains(name)) {
                (true, true) => (a, b, RenameFlags::EXCHANGE),
                (true, false) => (a, b, RenameFlags::NOREPLACE),
                _ => (b, a, RenameFlags::NOREPLACE),
            };
            if let Err(e) = renameat_with(CWD, &step.0, CWD, &step.1, step.2) {
                for (from, to, flags) in done.iter().rev() {
                    let _ = renameat_with(CWD, to, CWD, from, *flags);
                }
                return Err(e.into());
            }
            done.push(step);
        }
        Ok(Some(tmp.to_path_buf()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tmp, marker);
        Err(std::io::Error::other(format!(
            "{} is a mount point; rmmc replaces a mount point's contents on Linux only",
            out.display()
        )))
    }
}

/// An existing output folder: its regular files (relative path → metadata), and how many
/// other entries it holds (symlinks, FIFOs…), which the new output drops.
#[derive(Default)]
struct Existing {
    files: BTreeMap<String, std::fs::Metadata>,
    others: usize,
}

/// The existing output folder of `kind` at `out` (`None` when there is none). Refuses a
/// folder rmmc did not create, one of the other kind, and a symlink, so `--out` can never
/// clobber user data, nor a build imported specs (or the reverse).
/// Entries of a file system's root folder that belong to the file system, not the output:
/// `mkfs.ext4` creates `lost+found` in every new volume (mke2fs(8)). A mount point used as
/// `--out` keeps them as they are.
const MOUNT_ROOT_KEEPS: &[&str] = &["lost+found"];

fn read_existing(out: &Path, kind: OutputKind, mount: bool) -> Result<Option<Existing>, Diag> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
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
        .help(format!("pass a folder path as the {}", kind.option())));
    }
    let kept = |name: &std::ffi::OsStr| {
        mount && name.to_str().is_some_and(|n| MOUNT_ROOT_KEEPS.contains(&n))
    };
    let is_empty = std::fs::read_dir(out)
        .map(|d| d.flatten().all(|e| kept(&e.file_name())))
        .unwrap_or(false);
    match folder_kind(out) {
        Some(k) if k != kind => {
            return Err(Diag::error(
                DiagKind::Io,
                format!(
                    "refusing to replace {}: it was written by `{}` ({} file), not by `{}`",
                    out.display(),
                    k.command(),
                    k.marker(),
                    kind.command()
                ),
            )
            .at(out, None)
            .help(format!("pick another {}", kind.option())))
        }
        None if !is_empty => {
            return Err(Diag::error(
                DiagKind::Io,
                format!(
                    "refusing to replace {}: it is not empty and was not created by rmmc (no {} file, which `{}` writes)",
                    out.display(),
                    kind.marker(),
                    kind.command()
                ),
            )
            .at(out, None)
            .help(format!("pick another {}, or empty this one", kind.option())))
        }
        _ => {}
    }
    fn walk(
        root: &Path,
        dir: &Path,
        found: &mut Existing,
        skip: &dyn Fn(&str) -> bool,
    ) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            if is_rmmc_entry(&rel) || skip(&rel) {
                continue;
            }
            if ty.is_dir() {
                walk(root, &path, found, skip)?;
            } else if ty.is_file() {
                found.files.insert(rel, entry.metadata()?);
            } else {
                found.others += 1;
            }
        }
        Ok(())
    }
    let mut found = Existing::default();
    walk(out, out, &mut found, &|rel| kept(std::ffi::OsStr::new(rel))).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read output folder: {e}")).at(out, None)
    })?;
    Ok(Some(found))
}

/// A path (relative to an output folder) that rmmc keeps there and that is no artifact: the
/// markers and, in a mount point, the temp folder.
fn is_rmmc_entry(rel: &str) -> bool {
    rel == MARKER || rel == IMPORT_MARKER || rel.starts_with(&format!(".{TMP_TAG}"))
}

/// Every regular file under `root` (relative path with `/` → content), the markers excepted.
/// Symlinks are not followed and other special files are not read. Non-UTF-8 files read as
/// empty (they differ from any artifact); a file over `input::MAX_ARTIFACT_BYTES` is an error.
pub fn read_tree(root: &Path) -> std::io::Result<Files> {
    read_tree_as(root, false)
}

/// `read_tree` for a folder of artifacts a command judges (`verify --artifacts`, `diff
/// --against`, `check --artifacts`): an entry that is not a regular file or a folder (a
/// symlink, a FIFO, a device) is an error naming it, not a file silently left out of the
/// verdict.
pub fn read_artifacts(root: &Path) -> std::io::Result<Files> {
    read_tree_as(root, true)
}

fn read_tree_as(root: &Path, strict: bool) -> std::io::Result<Files> {
    fn walk(root: &Path, dir: &Path, files: &mut Files, strict: bool) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            if is_rmmc_entry(&rel) {
                continue;
            }
            if ty.is_dir() {
                walk(root, &path, files, strict)?;
            } else if ty.is_file() {
                let text = match crate::input::read_bounded(&path, crate::input::MAX_ARTIFACT_BYTES)
                {
                    Ok(b) => String::from_utf8(b).unwrap_or_default(),
                    Err(crate::input::ReadError::Io(e)) => return Err(e),
                    Err(e) => {
                        return Err(std::io::Error::other(format!("{}: {e}", path.display())))
                    }
                };
                files.insert(rel, text);
            } else if strict {
                return Err(std::io::Error::other(format!(
                    "{} is {}, not a regular file: rmmc reads only the regular files of an artifacts folder; put the file itself there, or remove the entry",
                    crate::input::escape_control(&path.display().to_string()),
                    crate::input::kind_of(&ty)
                )));
            }
        }
        Ok(())
    }
    let mut files = Files::new();
    walk(root, root, &mut files, strict)?;
    Ok(files)
}
