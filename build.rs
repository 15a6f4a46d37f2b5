//! Records the commit rmmc is built from, for `rmmc --version` (a bug report then names the
//! exact source). Outside a git checkout (a crate tarball) the commit is "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RMMC_COMMIT={commit}");
    // Rebuild when HEAD moves (a commit, a checkout). In a worktree HEAD lives in its own git
    // folder and the branch ref in the common one.
    if let (Some(dir), Some(common)) = (
        git(&["rev-parse", "--git-dir"]),
        git(&["rev-parse", "--git-common-dir"]),
    ) {
        // Only files that exist: cargo takes a missing one as changed on every build, and a
        // repository whose refs were never packed has no packed-refs, which rebuilt rmmc on
        // every `cargo run` and `cargo test`.
        let head = git(&["symbolic-ref", "-q", "HEAD"]);
        let watched = [
            Some(format!("{dir}/HEAD")),
            Some(format!("{common}/packed-refs")),
            head.map(|h| format!("{common}/{h}")),
        ];
        for file in watched.into_iter().flatten() {
            if std::path::Path::new(&file).exists() {
                println!("cargo:rerun-if-changed={file}");
            }
        }
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
