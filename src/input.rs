//! Reading input files without trusting them: only regular files, never a FIFO, device or
//! socket (opening one could block forever or never end), never through a symlink that leads
//! out of the folder being read, and never more bytes than a limit, checked against the size
//! the file reports *and* while reading (files under `/proc` report size 0).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest spec, imported source file or artifact fixture read, in bytes. A hand-written spec
/// is a few KB; an imported one with thousands of indicators, or a LOLRMM entry with 20,000
/// domains (0.8 MB), stays well under this.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// Largest emitted artifact read back (`diff --against`, `verify --artifacts`, `check
/// --artifacts`, `eval`): the whole corpus's largest, `elastic/rules.ndjson`, is about 2 MB.
pub const MAX_ARTIFACT_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// Not a regular file: what it is ("a FIFO", "a folder", …).
    NotRegular(&'static str),
    /// More than the limit: the size seen (at least `limit + 1`) and the limit.
    TooBig {
        size: u64,
        limit: u64,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(kind) => write!(f, "{kind}, not a regular file: not read"),
            ReadError::TooBig { size, limit } => {
                write!(
                    f,
                    "the file holds {size} bytes or more; the limit is {limit}"
                )
            }
        }
    }
}

/// What kind of file system object `ty` is, in words.
pub fn kind_of(ty: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO";
        }
        if ty.is_socket() {
            return "a socket";
        }
        if ty.is_block_device() || ty.is_char_device() {
            return "a device";
        }
    }
    if ty.is_dir() {
        "a folder"
    } else if ty.is_symlink() {
        "a symlink"
    } else if ty.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Read at most `limit` bytes of the regular file `path` (a symlink is followed: callers list
/// files with [`files_in`], which keeps only links that stay inside their folder). The file
/// is opened without blocking, so a FIFO is refused instead of waiting for a writer, and
/// checked with `fstat` on the open file, so it cannot be swapped for another after the check.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = opts.open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(kind_of(&meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooBig {
            size: meta.len(),
            limit,
        });
    }
    // the size reported may be wrong (0 under /proc, or the file grows): read one byte past
    // the limit at most
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooBig {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// An entry of a folder that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub why: String,
}

/// The files directly in `dir` whose names pass `want`, sorted by name. Regular files are
/// listed; a symlink is listed only when it leads to a regular file inside `dir`. Every other
/// entry whose name passes `want` (a FIFO, a device, a folder, a broken symlink, a symlink
/// out of `dir`) is returned as skipped, so the caller can say so.
pub fn files_in(
    dir: &Path,
    want: impl Fn(&str) -> bool,
) -> std::io::Result<(Vec<PathBuf>, Vec<Skipped>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut real_dir: Option<PathBuf> = None;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !want(name) {
            continue;
        }
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_file() {
            files.push(path);
            continue;
        }
        let why = if ty.is_symlink() {
            match std::fs::canonicalize(&path) {
                Err(_) => "a broken symlink".to_string(),
                Ok(target) => {
                    if real_dir.is_none() {
                        real_dir = Some(std::fs::canonicalize(dir)?);
                    }
                    let inside = real_dir.as_ref().is_some_and(|d| target.starts_with(d));
                    match std::fs::metadata(&target) {
                        Ok(m) if inside && m.is_file() => {
                            files.push(path);
                            continue;
                        }
                        Ok(m) if inside => {
                            format!("a symlink to {}", kind_of(&m.file_type()))
                        }
                        _ => "a symlink that leads out of the folder".to_string(),
                    }
                }
            }
        } else {
            kind_of(&ty).to_string()
        };
        skipped.push(Skipped {
            path,
            why: format!("{why}, not a regular file in the folder: not read"),
        });
    }
    files.sort();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, skipped))
}

/// `text` with every control character (C0, DEL, C1) and every Unicode bidirectional
/// override written as a visible escape (`\u{1b}`, `\n`), so text from a file or a file name
/// can neither drive the terminal nor forge a line of output.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    fn hostile(c: char) -> bool {
        c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(hostile) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hostile(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain é"), "plain é");
        assert_eq!(escape_control("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape_control("x\ny\r\t"), "x\\ny\\r\\t");
        assert_eq!(escape_control("\u{202E}txt"), "\\u{202e}txt");
        assert_eq!(escape_control("\u{9b}"), "\\u{9b}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_or_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "0123456789").unwrap();
        assert_eq!(read_bounded(&f, 10).unwrap().len(), 10);
        assert!(matches!(
            read_bounded(&f, 9),
            Err(ReadError::TooBig { size: 10, limit: 9 })
        ));
    }

    /// /proc files report size 0 (proc(5): "most of the files in /proc have a size of 0"),
    /// so the limit must hold while reading, not only against the reported size.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_reporting_size_zero_is_still_bounded() {
        let p = Path::new("/proc/self/maps");
        assert_eq!(std::fs::metadata(p).unwrap().len(), 0);
        assert!(matches!(
            read_bounded(p, 16),
            Err(ReadError::TooBig { size: 17, .. })
        ));
    }
}
