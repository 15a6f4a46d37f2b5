//! `rmmc build --out DIR` writes only inside DIR: a symlink planted inside the output (or the
//! output itself being a symlink) never makes it write, or delete, anywhere else; `diff` and
//! `verify --artifacts` only read.

#![cfg(unix)]

use assert_cmd::Command;
use std::os::unix::fs::symlink;
use std::path::Path;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(root) {
        out.push((
            e.strip_prefix(root).unwrap().display().to_string(),
            std::fs::read(&e).unwrap_or_default(),
        ));
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

#[test]
fn symlinks_inside_the_output_are_neither_followed_nor_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("precious.kql"), "keep me\n").unwrap();
    let out = tmp.path().join("out");
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);

    // an attacker replaces out/kql with a link to a folder outside, and plants a file link
    std::fs::remove_dir_all(out.join("kql")).unwrap();
    symlink(&outside, out.join("kql")).unwrap();
    symlink(
        outside.join("precious.kql"),
        out.join("sigma/netsupport-netconn.yml.lnk"),
    )
    .unwrap();
    let before = tree(&outside);
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(tree(&outside), before, "nothing outside the output changed");
    // the output is a real folder tree again, with real files
    assert!(std::fs::symlink_metadata(out.join("kql")).unwrap().is_dir());
    assert!(
        std::fs::symlink_metadata(out.join("kql/supremo-netconn.kql"))
            .unwrap()
            .is_file()
    );
    assert!(!out.join("sigma/netsupport-netconn.yml.lnk").exists());

    // read-only commands leave both trees as they are
    let out_before = tree(&out);
    rmmc()
        .args(["diff", "rules", "--against"])
        .arg(&out)
        .assert()
        .code(0);
    rmmc()
        .args(["verify", "rules", "--artifacts"])
        .arg(&out)
        .assert()
        .code(0);
    rmmc()
        .args(["check", "rules", "--artifacts"])
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(tree(&out), out_before);
    assert_eq!(tree(&outside), before);
}

#[test]
fn an_output_that_is_a_symlink_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::write(real.join("mine.txt"), "user data\n").unwrap();
    let link = tmp.path().join("out");
    symlink(&real, &link).unwrap();
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&link)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("symlink"));
    assert_eq!(
        std::fs::read_to_string(real.join("mine.txt")).unwrap(),
        "user data\n"
    );
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 1);
}
