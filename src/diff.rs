//! `rmmc diff`: compare freshly compiled artifacts (in memory) with the ones committed in a
//! folder, byte for byte. Any difference is drift: a spec edited without regenerating, or an
//! artifact edited by hand (whitespace included: deployed rules are exactly what rmmc emits).

use crate::build::Files;
use serde::Serialize;
use similar::TextDiff;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Committed, but rmmc now emits different bytes.
    Changed,
    /// rmmc emits it, but it is not committed.
    Added,
    /// Committed, but rmmc no longer emits it.
    Removed,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileDiff {
    pub path: String,
    pub status: Status,
    /// Unified-diff hunks (`@@ … @@` header and lines), committed → fresh.
    pub hunks: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DiffReport {
    pub files: Vec<FileDiff>,
    pub unchanged: usize,
}

impl DiffReport {
    pub fn is_clean(&self) -> bool {
        self.files.is_empty()
    }

    /// `3 changed, 1 added, 0 removed, 15 unchanged`
    pub fn summary(&self) -> String {
        let n = |s: Status| self.files.iter().filter(|f| f.status == s).count();
        format!(
            "{} changed, {} added, {} removed, {} unchanged",
            n(Status::Changed),
            n(Status::Added),
            n(Status::Removed),
            self.unchanged
        )
    }
}

/// Compare `committed` (what the folder holds) with `fresh` (what rmmc emits now). Paths are
/// sorted, so the report is deterministic.
pub fn diff(committed: &Files, fresh: &Files) -> DiffReport {
    let mut report = DiffReport::default();
    let mut paths: Vec<&String> = committed.keys().chain(fresh.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        let (old, new) = (committed.get(path), fresh.get(path));
        let (status, old, new) = match (old, new) {
            (Some(o), Some(n)) if o == n => {
                report.unchanged += 1;
                continue;
            }
            (Some(o), Some(n)) => (Status::Changed, o.as_str(), n.as_str()),
            (None, Some(n)) => (Status::Added, "", n.as_str()),
            (Some(o), None) => (Status::Removed, o.as_str(), ""),
            (None, None) => unreachable!("path comes from one of the maps"),
        };
        let td = TextDiff::from_lines(old, new);
        let hunks = td
            .unified_diff()
            .context_radius(3)
            .missing_newline_hint(true)
            .iter_hunks()
            .map(|h| h.to_string())
            .collect();
        report.files.push(FileDiff {
            path: path.clone(),
            status,
            hunks,
        });
    }
    report
}

/// The report as a unified diff (`--- committed/PATH`, `+++ fresh/PATH`), coloured when asked.
pub fn render(report: &DiffReport, color: bool) -> String {
    let paint = |line: &str| -> String {
        if !color {
            return line.to_string();
        }
        let code = match line.as_bytes().first() {
            Some(b'+') => "32",
            Some(b'-') => "31",
            Some(b'@') => "36",
            _ => return line.to_string(),
        };
        format!("\x1b[{code}m{line}\x1b[0m")
    };
    let mut out = String::new();
    for f in &report.files {
        let (a, b) = match f.status {
            Status::Added => ("/dev/null".to_string(), format!("fresh/{}", f.path)),
            Status::Removed => (format!("committed/{}", f.path), "/dev/null".to_string()),
            Status::Changed => (format!("committed/{}", f.path), format!("fresh/{}", f.path)),
        };
        out.push_str(&paint(&format!("--- {a}")));
        out.push('\n');
        out.push_str(&paint(&format!("+++ {b}")));
        out.push('\n');
        for h in &f.hunks {
            for line in h.lines() {
                out.push_str(&paint(line));
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn statuses() {
        let committed = files(&[("a", "1\n"), ("b", "x\n"), ("c", "same\n")]);
        let fresh = files(&[("a", "2\n"), ("c", "same\n"), ("d", "new\n")]);
        let r = diff(&committed, &fresh);
        let got: Vec<(&str, Status)> = r
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", Status::Changed),
                ("b", Status::Removed),
                ("d", Status::Added)
            ]
        );
        assert_eq!(r.summary(), "1 changed, 1 added, 1 removed, 1 unchanged");
        assert!(!r.is_clean());
        assert!(diff(&committed, &committed).is_clean());
    }

    #[test]
    fn whitespace_is_drift() {
        let r = diff(&files(&[("a", "x\n")]), &files(&[("a", "x \n")]));
        assert_eq!(r.files.len(), 1);
        let r = diff(&files(&[("a", "x\n")]), &files(&[("a", "x")]));
        assert!(
            render(&r, false).contains("No newline at end of file"),
            "{}",
            render(&r, false)
        );
    }
}
