//! Replays the fuzzers' committed corpus (seeds and everything they kept) and every crash
//! reproducer in `tests/fuzz/regressions/<target>/` through the same target bodies
//! (`rmmc::fuzzing`), so a fixed crash stays fixed without cargo-fuzz or a nightly toolchain.

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("spec", rmmc::fuzzing::spec),
    ("kql", rmmc::fuzzing::kql),
    ("spl", rmmc::fuzzing::spl),
    ("eql", rmmc::fuzzing::eql),
    ("round_trip", rmmc::fuzzing::round_trip),
];

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn committed_corpus_and_regressions_run_clean() {
    let root = Path::new("tests/fuzz");
    let mut total = 0;
    for (name, target) in TARGETS {
        let mut files = inputs(&root.join("corpus").join(name));
        assert!(!files.is_empty(), "no corpus for fuzz target {name}");
        files.extend(inputs(&root.join("regressions").join(name)));
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let run = std::panic::catch_unwind(|| target(&data));
            assert!(run.is_ok(), "fuzz target {name} panics on {}", f.display());
            total += 1;
        }
    }
    assert!(total >= 20, "{total} inputs");
}
