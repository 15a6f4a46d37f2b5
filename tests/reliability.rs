//! Reliability under faults, concurrency and hostile files (docs/guarantees.md): concurrent
//! builds into one folder, builds killed mid-write, leftover temp folders, build and import
//! folders that cannot replace each other, a mount point as `--out`, a full disk and a file
//! system out of inodes, and input folders holding symlinks, FIFOs and devices.

#![cfg(unix)]

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// A scratch folder on tmpfs (`/dev/shm`) where there is one: on this project's VM, whose
/// ext4 is mounted with `discard`, deleting a build's synced files costs ~2 ms each, which
/// would make these loops take minutes; the code paths are the same.
fn scratch() -> tempfile::TempDir {
    match Path::new("/dev/shm") {
        shm if shm.is_dir() => tempfile::tempdir_in(shm).unwrap(),
        _ => tempfile::tempdir().unwrap(),
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rmmc")
}

/// A hang guard, not a speed claim: a command that blocks (on a FIFO, a lock) fails its test
/// here instead of running into CI's limit. Generous, because a debug binary importing LOLRMM
/// on a loaded 2-core machine took over a minute; no test asserts how fast anything runs.
const HANG_GUARD: Duration = Duration::from_secs(300);

/// The guard for the small inputs of the FIFO and special-file tests (each run takes well
/// under a second when it does not block).
const SHORT_HANG_GUARD: Duration = Duration::from_secs(120);

fn rmmc() -> Command {
    let mut c = Command::new(bin());
    c.env("NO_COLOR", "1").timeout(HANG_GUARD);
    c
}

/// Every file under `root` (relative path → bytes), folders as `/`-terminated names.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Names in `dir` that are rmmc temp or old-output folders.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("rmmc-tmp") || n.contains("rmmc-old"))
        .collect()
}

/// Two spec sets whose builds share file names but differ in content: A is `rules` +
/// `rules/imported/sentinel` (57 specs, 796 files), B the same with every imported spec's
/// description changed (it is written into every Sentinel, Sigma and Kibana rule).
struct Sets {
    _dir: tempfile::TempDir,
    a: Vec<PathBuf>,
    b: Vec<PathBuf>,
    /// A with one hand-written spec changed: most of its files equal A's.
    a2: Vec<PathBuf>,
    ref_a: BTreeMap<String, Vec<u8>>,
    ref_b: BTreeMap<String, Vec<u8>>,
    ref_a2: BTreeMap<String, Vec<u8>>,
}

fn sets() -> Sets {
    let dir = scratch();
    let b_imported = dir.path().join("b-sentinel");
    std::fs::create_dir(&b_imported).unwrap();
    for e in std::fs::read_dir("rules/imported/sentinel").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let text = std::fs::read_to_string(&p).unwrap();
            let changed = text.replacen("description: |\n", "description: |\n  (B)\n", 1);
            std::fs::write(b_imported.join(p.file_name().unwrap()), changed).unwrap();
        }
    }
    let rules2 = dir.path().join("rules2");
    std::fs::create_dir(&rules2).unwrap();
    for name in ["action1.yaml", "netsupport.yaml", "supremo.yaml"] {
        let text = std::fs::read_to_string(Path::new("rules").join(name)).unwrap();
        let text = text.replacen("description: |\n", "description: |\n  (A2)\n", 1);
        std::fs::write(rules2.join(name), text).unwrap();
    }
    let a = vec![
        PathBuf::from("rules"),
        PathBuf::from("rules/imported/sentinel"),
    ];
    let a2 = vec![rules2, PathBuf::from("rules/imported/sentinel")];
    let b = vec![PathBuf::from("rules"), b_imported];
    let build_ref = |specs: &[PathBuf], name: &str| {
        let out = dir.path().join(name);
        rmmc()
            .arg("build")
            .args(specs)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(0);
        tree(&out)
    };
    let ref_a = build_ref(&a, "ref-a");
    let ref_b = build_ref(&b, "ref-b");
    let ref_a2 = build_ref(&a2, "ref-a2");
    assert_ne!(ref_a, ref_b);
    assert_ne!(ref_a, ref_a2);
    let differing = ref_a
        .iter()
        .filter(|(k, v)| ref_b.get(*k).is_some_and(|w| w != *v))
        .count();
    assert!(
        differing > 100,
        "the two builds differ in {differing} files"
    );
    Sets {
        _dir: dir,
        a,
        b,
        a2,
        ref_a,
        ref_b,
        ref_a2,
    }
}

fn spawn_build(specs: &[PathBuf], out: &Path) -> std::process::Child {
    std::process::Command::new(bin())
        .arg("build")
        .args(specs)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Concurrent builds of different specs into one folder: each waits for the lock, so the
/// folder ends up exactly as one of them built it. Before the lock, a build hard-linked the
/// files it found unchanged from the folder, which another build could have replaced in
/// between: here A2 finds most files of A unchanged while B swaps in its own, so A2's
/// output took B's versions of them and matched neither build. Each round starts from A,
/// starts B, then, a little later each round, A2, so the swap lands at different moments.
#[test]
fn concurrent_builds_leave_exactly_one_build() {
    let s = sets();
    let work = scratch();
    let out = work.path().join("out");
    for round in 0..6u64 {
        rmmc()
            .arg("build")
            .args(&s.a)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(0);
        let mut b = spawn_build(&s.b, &out);
        std::thread::sleep(Duration::from_millis(round * 20));
        let mut a2 = spawn_build(&s.a2, &out);
        for k in [&mut b, &mut a2] {
            assert!(k.wait().unwrap().success(), "round {round}: a build failed");
        }
        let got = tree(&out);
        assert!(
            got == s.ref_a2 || got == s.ref_b,
            "round {round}: the output matches neither build"
        );
        assert_eq!(leftovers(work.path()), Vec::<String>::new());
    }
}

/// `kill -9` at different moments of a build: the output is always the old or the new build
/// in full, and the next build removes the temp folders the killed ones left (before, 66 of
/// 100 kills left one behind, and no later build removed it).
#[test]
fn killed_builds_leave_old_or_new_and_no_temp_folder_survives() {
    let s = sets();
    let work = scratch();
    let out = work.path().join("out");
    rmmc()
        .arg("build")
        .args(&s.a)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let mut killed_with_leftover = 0;
    for i in 0..10u64 {
        let specs = if i % 2 == 0 { &s.b } else { &s.a };
        let mut kid = spawn_build(specs, &out);
        // wait until the build is writing (its temp folder exists), then a little longer
        // each time, so the kills land in writing, flushing and swapping
        while leftovers(work.path()).is_empty() && kid.try_wait().unwrap().is_none() {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_micros(i * i * 400));
        let _ = kid.kill();
        let _ = kid.wait();
        let got = tree(&out);
        assert!(
            got == s.ref_a || got == s.ref_b,
            "kill {i}: the output is neither the old nor the new build"
        );
        if !leftovers(work.path()).is_empty() {
            killed_with_leftover += 1;
        }
    }
    // the kills did land during writing, or this test proves nothing
    assert!(killed_with_leftover > 0, "no kill left a temp folder");
    rmmc()
        .arg("build")
        .args(&s.a)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(tree(&out), s.ref_a);
    assert_eq!(leftovers(work.path()), Vec::<String>::new());
}

/// Temp folders of processes that no longer run are removed; one of a running process is not.
#[test]
fn stale_temp_folders_of_dead_processes_are_removed() {
    let work = scratch();
    let out = work.path().join("out");
    // a pid above the largest Linux allows (2^22) never runs
    for name in [".out.rmmc-tmp-4999999", ".out.rmmc-old-4999998"] {
        let d = work.path().join(name).join("kql");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("x.kql"), "old\n").unwrap();
    }
    let live = work
        .path()
        .join(format!(".out.rmmc-tmp-{}", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    // a user's folder that only looks similar is not touched
    std::fs::create_dir(work.path().join(".out.rmmc-tmp-notes")).unwrap();
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let mut left = leftovers(work.path());
    left.sort();
    assert_eq!(
        left,
        vec![
            format!(".out.rmmc-tmp-{}", std::process::id()),
            ".out.rmmc-tmp-notes".to_string()
        ]
    );
}

/// A build never replaces imported specs, an import never a build's output; a folder of an
/// import made before the two had their own markers is still an import's.
#[test]
fn build_and_import_folders_cannot_replace_each_other() {
    let work = scratch();
    let imported = work.path().join("lolrmm");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg("rules/imported/lolrmm")
        .arg(&imported)
        .status()
        .unwrap();
    assert!(status.success());
    // the committed folder may carry either marker; make it the old, shared one
    let _ = std::fs::remove_file(imported.join(".rmmc-import"));
    std::fs::write(
        imported.join(".rmmc-output"),
        "This folder is generated by `rmmc import` and replaced on every import: copy a spec into your hand-written rules folder to change it (the hand-written spec then wins).\n",
    )
    .unwrap();
    let before = tree(&imported);
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&imported)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("written by `rmmc import`"));
    assert_eq!(tree(&imported), before, "a build replaced imported specs");

    let out = work.path().join("out");
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let built = tree(&out);
    rmmc()
        .args(["import", "lolrmm", "../shared/corpus/lolrmm/yaml", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("written by `rmmc build`"));
    assert_eq!(tree(&out), built, "an import replaced a build's output");

    // the old import folder is re-imported, and then carries the import marker
    rmmc()
        .args(["import", "lolrmm", "../shared/corpus/lolrmm/yaml", "--out"])
        .arg(&imported)
        .assert()
        .code(0);
    assert!(imported.join(".rmmc-import").is_file());
    assert!(!imported.join(".rmmc-output").exists());
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&imported)
        .assert()
        .code(2);
}

/// Run `script` as root of a new user and mount namespace (`unshare -rm`), where it may mount
/// a tmpfs; `None` where this system does not allow that (the caller then says so).
fn in_mount_namespace(script: &str, env: &[(&str, &Path)]) -> Option<String> {
    let mut c = std::process::Command::new("unshare");
    c.args(["-rm", "sh", "-c", script]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("unshare failed") || stderr.contains("Operation not permitted") {
        eprintln!("skipped: no mount namespace here ({stderr})");
        return None;
    }
    assert!(out.status.success(), "script failed: {stderr}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `--out` a mount point (a container volume, a tmpfs): it cannot be renamed, so its entries
/// are exchanged one by one; builds into it succeed, nothing beside it is touched (before, a
/// build deleted a sibling `.out.old` and then failed), and the `lost+found` of a volume's
/// root is neither a reason to refuse the folder nor replaced.
#[test]
fn a_mount_point_as_output_is_built_and_nothing_beside_it_is_touched() {
    let s = sets();
    let work = scratch();
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let sibling = work.path().join(".out.old");
    std::fs::create_dir(&sibling).unwrap();
    std::fs::write(sibling.join("precious"), "keep\n").unwrap();
    let refs = work.path().join("refs");
    for (name, specs) in [("a", &s.a), ("b", &s.b)] {
        rmmc()
            .arg("build")
            .args(specs)
            .arg("--out")
            .arg(refs.join(name))
            .assert()
            .code(0);
    }
    let script = r#"
        mount -t tmpfs none "$OUT" || exit 3
        mkdir "$OUT/lost+found"
        "$RMMC" build rules rules/imported/sentinel --out "$OUT" >/dev/null 2>&1; echo "a=$?"
        rmdir "$OUT/lost+found" || echo "lost+found was not kept"
        diff -r "$REFS/a" "$OUT" >/dev/null && echo same-a
        "$RMMC" build rules "$B" --out "$OUT" >/dev/null 2>&1; echo "b=$?"
        diff -r "$REFS/b" "$OUT" >/dev/null && echo same-b
        mkdir "$OUT/lost+found"
        "$RMMC" build rules "$B" --out "$OUT" 2>/dev/null | tail -n 1
        rmdir "$OUT/lost+found" || echo "lost+found was not kept"
        ls -a "$OUT" | grep rmmc-tmp
        true
    "#;
    let Some(got) = in_mount_namespace(
        script,
        &[
            ("OUT", &out),
            ("RMMC", Path::new(bin())),
            ("REFS", &refs),
            ("B", &s.b[1]),
        ],
    ) else {
        return;
    };
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines[..4],
        ["a=0", "same-a", "b=0", "same-b"],
        "output:\n{got}"
    );
    // every file of build b (its marker aside) is unchanged by the rebuild
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { count(&p) } else { 1 })
            .sum()
    }
    let built = count(&refs.join("b")) - 1;
    assert!(
        lines[4].ends_with(&format!("0 written, {built} unchanged, 0 removed")),
        "{got}"
    );
    assert_eq!(lines.len(), 5, "a temp folder was left: {got}");
    assert_eq!(
        std::fs::read_to_string(sibling.join("precious")).unwrap(),
        "keep\n"
    );
}

/// A full disk or a file system out of inodes at any point of a build: exit 0 means the new
/// output is in place, exit 2 means the old one is, whole; no temp folder is left (before, 2
/// of 11 such cases exited 2 with the output replaced).
#[test]
fn full_disk_and_no_inodes_exit_codes_tell_the_truth() {
    let s = sets();
    let work = scratch();
    let refs = work.path().join("refs");
    for (name, specs) in [("a", &s.a[..1]), ("b", &s.b[..])] {
        rmmc()
            .arg("build")
            .args(specs)
            .arg("--out")
            .arg(refs.join(name))
            .assert()
            .code(0);
    }
    let fs = work.path().join("fs");
    std::fs::create_dir(&fs).unwrap();
    // each case: mount options; first a small build (A: 3 specs) then a large one (B)
    let script = r#"
        for opts in size=120k size=300k size=600k size=1m size=2m size=4m size=8m \
                    nr_inodes=20 nr_inodes=40 nr_inodes=80 nr_inodes=400 nr_inodes=2000; do
            mount -t tmpfs -o "$opts" none "$FS" || exit 3
            "$RMMC" build rules --out "$FS/out" >/dev/null 2>&1; a=$?
            if diff -r "$REFS/a" "$FS/out" >/dev/null 2>&1; then sa=1; else sa=0; fi
            "$RMMC" build rules "$B" --out "$FS/out" >/dev/null 2>&1; b=$?
            if diff -r "$REFS/b" "$FS/out" >/dev/null 2>&1; then sb=1;
            elif diff -r "$REFS/a" "$FS/out" >/dev/null 2>&1; then sb=a;
            elif [ -e "$FS/out" ]; then sb=0; else sb=none; fi
            left=$(ls -a "$FS" | grep -c rmmc-)
            echo "$opts $a $sa $b $sb $left"
            umount "$FS"
        done
    "#;
    let Some(got) = in_mount_namespace(
        script,
        &[
            ("FS", &fs),
            ("RMMC", Path::new(bin())),
            ("REFS", &refs),
            ("B", &s.b[1]),
        ],
    ) else {
        return;
    };
    let mut failed_b = 0;
    for line in got.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (a, same_a, b, after_b, left) = (f[1], f[2], f[3], f[4], f[5]);
        match a {
            "0" => assert_eq!(same_a, "1", "{line}: exit 0 but not the new output"),
            "2" => assert_eq!(after_b, "none", "{line}"),
            _ => panic!("{line}: exit {a}"),
        }
        match (a, b) {
            (_, "0") => assert_eq!(after_b, "1", "{line}: exit 0 but not the new output"),
            ("0", "2") => {
                failed_b += 1;
                assert_eq!(after_b, "a", "{line}: exit 2 but the old output is gone")
            }
            ("2", "2") => assert_eq!(after_b, "none", "{line}: exit 2 but a folder appeared"),
            _ => panic!("{line}: exit {b}"),
        }
        assert_eq!(left, "0", "{line}: temp folders left");
    }
    assert!(failed_b >= 3, "too few cases ran out of space:\n{got}");
    assert!(got.lines().any(|l| l.ends_with(" 0 1 0 1 0")), "{got}");
}

/// Spec folders: a symlink out of the folder (say to an environment file) is not read and its
/// content never printed; a FIFO, a folder or a broken link named `*.yaml` is skipped with a
/// warning naming it, instead of hanging or being ignored without a word.
#[test]
fn spec_folders_read_only_their_own_regular_files() {
    let work = scratch();
    let secret = work.path().join("env");
    std::fs::write(&secret, "API_TOKEN=hunter2\n").unwrap();
    let rules = work.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy("rules/supremo.yaml", rules.join("supremo.yaml")).unwrap();
    symlink(&secret, rules.join("leak.yaml")).unwrap();
    symlink("/proc/self/environ", rules.join("proc.yaml")).unwrap();
    symlink(rules.join("gone"), rules.join("broken.yaml")).unwrap();
    symlink(rules.join("supremo.yaml"), rules.join("inside.yml")).unwrap();
    std::fs::create_dir(rules.join("dir.yaml")).unwrap();
    let fifo = rules.join("pipe.yaml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = rmmc()
        .arg("check")
        .arg(&rules)
        .timeout(SHORT_HANG_GUARD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    for (name, why) in [
        ("leak.yaml", "leads out of the folder"),
        ("proc.yaml", "leads out of the folder"),
        ("broken.yaml", "a broken symlink"),
        ("dir.yaml", "a folder"),
        ("pipe.yaml", "a FIFO"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(name) && l.contains(why) && l.contains("warning")),
            "{name}: {stderr}"
        );
    }
    // the link inside the folder is read: the same spec twice is a duplicate id
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("duplicate spec id `supremo`"), "{stderr}");
}

/// Importers: a FIFO named `*.yaml` or `*.md`, a link to `/dev/zero`, a folder named
/// `*.yaml` and a file over the size limit are each reported, not read (before, `import
/// sentinel` blocked forever on the FIFO and read `/dev/zero` until memory ran out).
#[test]
fn importers_report_special_and_oversized_files_instead_of_reading_them() {
    let work = scratch();
    let sentinel = work.path().join("sentinel");
    let tool = sentinel.join("Tool");
    std::fs::create_dir_all(&tool).unwrap();
    for name in ["a.yaml", "b.md"] {
        assert!(std::process::Command::new("mkfifo")
            .arg(tool.join(name))
            .status()
            .unwrap()
            .success());
    }
    symlink("/dev/zero", tool.join("zero.yaml")).unwrap();
    std::fs::create_dir(tool.join("dir.yaml")).unwrap();
    symlink("/", sentinel.join("Root")).unwrap();
    let out = rmmc()
        .args(["import", "sentinel"])
        .arg(&sentinel)
        .arg("--out")
        .arg(work.path().join("s-out"))
        .timeout(SHORT_HANG_GUARD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for (name, why) in [
        ("Tool/a.yaml", "a FIFO"),
        ("Tool/b.md", "a FIFO"),
        ("Tool/zero.yaml", "leads out of the folder"),
        ("Tool/dir.yaml", "a folder"),
        ("Root", "a symlink to a folder"),
    ] {
        assert!(
            stdout.contains(&format!("rejected             {name}")) && stdout.contains(why),
            "{name}: {stdout}"
        );
    }

    let lolrmm = work.path().join("lolrmm");
    std::fs::create_dir(&lolrmm).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(lolrmm.join("fifo.yaml"))
        .status()
        .unwrap()
        .success());
    let big = format!(
        "Name: Big\nDescription: |\n  {}\n",
        "x".repeat(5 * 1024 * 1024)
    );
    std::fs::write(lolrmm.join("big.yaml"), big).unwrap();
    std::fs::copy(
        "../shared/corpus/lolrmm/yaml/anydesk.yaml",
        lolrmm.join("anydesk.yaml"),
    )
    .unwrap();
    let out = rmmc()
        .args(["import", "lolrmm"])
        .arg(&lolrmm)
        .arg("--out")
        .arg(work.path().join("l-out"))
        .timeout(SHORT_HANG_GUARD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("rejected             fifo.yaml") && stdout.contains("a FIFO"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rejected             big.yaml") && stdout.contains("the limit is 4194304"),
        "{stdout}"
    );
    assert!(stdout.contains("1 spec into"), "{stdout}");
}

/// Terminal escapes in a spec line, a file name or a source never reach the terminal or
/// IMPORT-REPORT.md raw, and Markdown from a source cannot add a link or HTML to the report.
#[test]
fn control_characters_and_markdown_from_files_are_neutralized() {
    let work = scratch();
    let rules = work.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let spec = std::fs::read_to_string("rules/supremo.yaml")
        .unwrap()
        .replace(
            "severity: ",
            "severity: bogus # \u{1b}]0;pwned\u{7}\u{1b}[2J\n_x: ",
        );
    std::fs::write(rules.join("evil\u{1b}[31m.yaml"), spec).unwrap();
    let out = rmmc().arg("check").arg(&rules).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert!(stderr.contains("evil\\u{1b}[31m.yaml"), "{stderr}");
    // an artifact's line shown under an error: escaped, the caret still under the spot
    let kql = work.path().join("evil.kql");
    std::fs::write(
        &kql,
        "DeviceProcessEvents\n| where FileName == \"a\u{1b}[2J\" and \u{1b}]0;pwned\u{7}\n",
    )
    .unwrap();
    let events = work.path().join("ev.jsonl");
    std::fs::write(&events, "{\"FileName\":\"a\"}\n").unwrap();
    let out = rmmc()
        .arg("eval")
        .arg(&kql)
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("2 | ")).unwrap();
    let shown = &lines[at]["2 | ".len()..];
    assert_eq!(
        shown,
        "| where FileName == \"a\\u{1b}[2J\" and \\u{1b}]0;pwned\\u{7}"
    );
    let caret = lines[at + 1]["  | ".len()..].find('^').unwrap();
    assert_eq!(caret, shown.find("\\u{1b}]0").unwrap(), "{stderr}");

    let lolrmm = work.path().join("lolrmm");
    std::fs::create_dir(&lolrmm).unwrap();
    let anydesk = std::fs::read_to_string("../shared/corpus/lolrmm/yaml/anydesk.yaml").unwrap();
    std::fs::write(
        lolrmm.join("x.yaml"),
        anydesk.replacen("Name: AnyDesk", "Name: \"Any\\e[2JDesk\"", 1),
    )
    .unwrap();
    std::fs::write(
        lolrmm.join("[click](javascript:alert(1)) <img src=x onerror=alert(1)>\u{1b}[5m.yaml"),
        "Name: [unclosed\n",
    )
    .unwrap();
    let report_dir = work.path().join("l-out");
    let out = rmmc()
        .args(["import", "lolrmm"])
        .arg(&lolrmm)
        .arg("--out")
        .arg(&report_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    let report = std::fs::read_to_string(report_dir.join("IMPORT-REPORT.md")).unwrap();
    assert!(!report.contains('\u{1b}'), "{report}");
    assert!(!report.contains("<img"), "{report}");
    assert!(!report.contains("[click]("), "{report}");
    assert!(
        report.contains(
            "\\[click\\](javascript:alert(1)) &lt;img src=x onerror=alert(1)&gt;\\u{1b}\\[5m.yaml"
        ),
        "{report}"
    );
}

/// Once the new output is in place, nothing can make the run fail: an old copy that cannot be
/// deleted (here a file made immutable with `chattr +i`) is a warning with exit 0, since the
/// output is the new one (before, exit 2 said "nothing written" over a replaced output).
#[test]
fn an_old_output_that_cannot_be_deleted_is_a_warning_not_a_failure() {
    // chattr needs a disk file system (ext4 here), not tmpfs
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let stuck = out.join("kql/stuck.kql");
    std::fs::write(&stuck, "an old file\n").unwrap();
    let chattr = |flag: &str, path: &Path| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+i", &stuck) {
        eprintln!("skipped: chattr +i is not available here");
        return;
    }
    let res = rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    // the stuck copy is now in the temp folder beside the output
    let leftover: Vec<PathBuf> = leftovers(work.path())
        .iter()
        .map(|n| work.path().join(n).join("kql/stuck.kql"))
        .collect();
    for p in leftover.iter().chain([&stuck]) {
        chattr("-i", p);
    }
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(0), "{stderr}");
    assert!(
        !out.join("kql/stuck.kql").exists(),
        "the new output is in place"
    );
    assert!(
        stderr.contains("the new output is in place, but the previous one could not be deleted"),
        "{stderr}"
    );
    // the next run removes the leftover
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    assert_eq!(leftovers(work.path()), Vec::<String>::new());
}

/// A fixtures folder holding a FIFO or a link out of it named `*.jsonl`: `verify` names the
/// entry and exits 2 instead of waiting forever on the FIFO or reading elsewhere.
#[test]
fn fixture_folders_read_only_their_own_regular_files() {
    let work = scratch();
    let fixtures = work.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(fixtures.join("pipe.jsonl"))
        .status()
        .unwrap()
        .success());
    symlink("/proc/self/environ", fixtures.join("env.jsonl")).unwrap();
    let out = rmmc()
        .args(["verify", "rules", "--fixtures"])
        .arg(&fixtures)
        .timeout(SHORT_HANG_GUARD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pipe.jsonl") && stderr.contains("a FIFO"),
        "{stderr}"
    );
    assert!(
        stderr.contains("env.jsonl") && stderr.contains("leads out of the folder"),
        "{stderr}"
    );
}

/// stdout on a full disk after the build has replaced its output (`> /dev/full`): the output
/// is the new one, so the run says so and exits 0; exit 2 would claim nothing was written
/// (it did, before). Without a build (`rmmc schema`) it stays exit 2 (`tests/stdout.rs`).
#[test]
fn a_summary_lost_to_a_full_disk_does_not_deny_a_written_output() {
    let work = scratch();
    let out = work.path().join("out");
    let res = std::process::Command::new(bin())
        .args(["build", "rules", "--out"])
        .arg(&out)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot write the summary to stdout")
            && stderr.contains("the new output is in place"),
        "{stderr}"
    );
    assert!(out.join("kql/supremo-netconn.kql").is_file());
}

/// With `--format json`, the warning about a skipped entry is one more item of the command's
/// one JSON array on stdout, not a second array before it.
#[test]
fn skipped_entries_are_warnings_in_the_one_json_array() {
    let work = scratch();
    let rules = work.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy("rules/supremo.yaml", rules.join("supremo.yaml")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(rules.join("pipe.yaml"))
        .status()
        .unwrap()
        .success());
    for command in ["check", "build"] {
        let mut c = rmmc();
        c.args(["--format", "json", command]).arg(&rules);
        if command == "build" {
            c.arg("--out").arg(work.path().join("out"));
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{command}");
        let diags: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command}: stdout is not one JSON document: {e}"));
        let fifo = diags
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["message"].as_str().unwrap_or("").contains("a FIFO"))
            .count();
        assert_eq!(fifo, 1, "{command}: {diags}");
    }
}

/// A folder of artifacts that a command judges (`verify --artifacts`, `diff --against`,
/// `check --artifacts`) holds only regular files: a symlink or a FIFO named like an artifact is
/// an error naming it (exit 2), where it was silently left out of the verdict before.
#[test]
fn artifact_folders_name_entries_they_do_not_read() {
    let work = tempfile::TempDir::new().unwrap();
    let out = work.path().join("out");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    rmmc()
        .arg("build")
        .arg(&rules)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let outside = work.path().join("elsewhere.kql");
    std::fs::write(&outside, "DeviceNetworkEvents | take 1\n").unwrap();
    for (rel, fifo) in [("kql/extra.kql", false), ("sigma/extra.yml", true)] {
        let entry = out.join(rel);
        if fifo {
            let ok = std::process::Command::new("mkfifo")
                .arg(&entry)
                .status()
                .unwrap()
                .success();
            assert!(ok, "mkfifo");
        } else {
            symlink(&outside, &entry).unwrap();
        }
        for args in [
            vec![
                "verify".into(),
                rules.display().to_string(),
                "--artifacts".into(),
                out.display().to_string(),
            ],
            vec![
                "diff".into(),
                rules.display().to_string(),
                "--against".into(),
                out.display().to_string(),
            ],
            vec![
                "check".into(),
                rules.display().to_string(),
                "--artifacts".into(),
                out.display().to_string(),
            ],
        ] {
            let o = rmmc().args(&args).timeout(HANG_GUARD).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?} with {rel}: {err}");
            assert!(
                err.contains(rel) && err.contains("not a regular file"),
                "{args:?} names {rel}: {err}"
            );
        }
        std::fs::remove_file(&entry).unwrap();
    }
}
