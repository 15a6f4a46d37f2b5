//! `unsupported: { <backend>: reason }`: a backend that cannot build a detection at all (no
//! such events) builds nothing for it, says so in a warning, and `rmmc verify` lists the pair
//! instead of running it. Without the declaration the build fails; contradictory
//! declarations are errors at their place in the spec.

use assert_cmd::Command;
use std::path::Path;

const SPEC: &str = "id: signed
vendor: Signed
description: File signatures exist as events only in Defender.
date: 2026-12-01
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 5d
detections:
  filesig:
    title: File Signature
    category: certificate
    where:
      signer: { term: [acme software] }
    output:
      summarize: [device_id, device_name]
UNSUPPORTED";

const ALL_BUT_KQL: &str = "    unsupported:
      sigma: no certificate events in Sysmon
      splunk: no certificate events in Sysmon
      elastic: no certificate events in Elastic Defend
";

fn project(unsupported: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/signed.yaml"),
        SPEC.replace("UNSUPPORTED", unsupported),
    )
    .unwrap();
    dir
}

fn rmmc(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rmmc"))
        .env("NO_COLOR", "1")
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn declared_unsupported_backends_build_nothing_and_say_so() {
    let p = project(ALL_BUT_KQL);
    let (code, _, err) = rmmc(p.path(), &["build", "rules", "--out", "out"]);
    assert_eq!(code, 0, "{err}");
    for b in ["sigma", "splunk", "elastic"] {
        assert!(
            err.contains(&format!(
                "signed/filesig: no {b} rule is built (declared unsupported: no certificate events"
            )),
            "{b}: {err}"
        );
    }
    let out = p.path().join("out");
    let kql = std::fs::read_to_string(out.join("kql/signed-filesig.kql")).unwrap();
    assert!(kql.contains("DeviceFileCertificateInfo"), "{kql}");
    assert!(kql.contains("Report=make_set(ReportId)"), "{kql}");
    assert!(!out.join("sigma/signed-filesig.yml").exists());
    assert!(!out.join("splunk/signed-filesig.spl").exists());
    assert!(!out.join("elastic/signed-filesig.eql").exists());

    let (code, stdout, err) = rmmc(p.path(), &["verify", "rules", "--artifacts", "out"]);
    assert_eq!(code, 0, "{stdout}{err}");
    assert!(
        stdout.contains("not built (declared `unsupported` in the spec): 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("- signed/filesig (endpoint) [sigma]: no certificate events in Sysmon"),
        "{stdout}"
    );
    assert!(stdout.contains("1 rule, "), "{stdout}");
}

#[test]
fn without_the_declaration_the_build_fails() {
    let p = project("");
    let (code, _, err) = rmmc(p.path(), &["build", "rules", "--out", "out"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Sigma has no log source for certificate events from source `endpoint`"),
        "{err}"
    );
    assert!(!p.path().join("out").exists());
}

#[test]
fn contradictory_declarations_are_errors_at_their_place() {
    let both = format!("{ALL_BUT_KQL}    gaps:\n      sigma: wider is fine\n");
    let p = project(&both);
    let (code, _, err) = rmmc(p.path(), &["check", "rules"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`sigma` is both a gap (build a wider rule) and unsupported (build none)"),
        "{err}"
    );
    assert!(err.contains("rules/signed.yaml:17:14"), "{err}");

    let all = format!("{ALL_BUT_KQL}      kql: nothing\n");
    let p = project(&all);
    let (code, _, err) = rmmc(p.path(), &["check", "rules"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("every backend is unsupported, so this detection builds nothing"),
        "{err}"
    );
}
