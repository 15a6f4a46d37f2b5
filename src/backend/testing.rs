//! A test target with odd tokens (pySigma's test backend): what adding a target takes, and a
//! check of the driver on its own. It is this file, its line in `registry()` (test builds
//! only), `backends/odd.yaml` and `templates/odd/rule.txt.j2`: its `gaps:` key `odd` and its
//! target `odd` come from the registry like every shipped backend's.

use super::common::domain_as_exact_or_suffix;
use super::driver::{self, Backend, Description, Grouped, Need, Options, Rule, RuleCtx, Words};
use super::text::{Brackets, Text, Tokens};
use super::Target;
use crate::diag::{Diag, DiagKind, Fidelity};
use crate::ir::{IrDetection, IrOutput, Match, Test, TextOp};
use crate::mapping::{Column, TableMap};
use crate::spec::{BackendName, Field, Source};
use serde::Deserialize;
use std::sync::OnceLock;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OddData {
    rule_name: String,
    tables: Vec<TableMap>,
}

fn data() -> &'static OddData {
    static DATA: OnceLock<OddData> = OnceLock::new();
    DATA.get_or_init(|| {
        let d: OddData = serde_yaml::from_str(include_str!("../../backends/odd.yaml"))
            .unwrap_or_else(|e| panic!("backends/odd.yaml: {e}"));
        for t in &d.tables {
            t.check()
                .unwrap_or_else(|e| panic!("backends/odd.yaml: {e}"));
        }
        d
    })
}

#[derive(Default)]
pub struct Odd;

const TOKENS: Tokens = Tokens {
    and: " & ",
    or: " | ",
    top_and: "\n  & ",
    top_or: "\n  | ",
    not: ("!{", "}"),
    brackets: Brackets::Chains,
    lone_chain: false,
};

/// `"…"` with `\`, `"` and `:` escaped by a backslash.
fn lit(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        if matches!(c, '\\' | '"' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One test on one column, as alternatives.
fn alternatives(col: &str, test: &Test) -> Vec<String> {
    let each = |op: &str, vals: &[String]| -> Vec<String> {
        vals.iter()
            .map(|v| format!("{col} {op} {}", lit(v)))
            .collect()
    };
    match test {
        Test::Text { op, values, cased } => {
            let op = match op {
                TextOp::Term => "~",
                TextOp::Exact => "=",
                TextOp::Contains => "*=",
                TextOp::Prefix => "^=",
                TextOp::Suffix => "$=",
            };
            each(&format!("{op}{}", if *cased { "!" } else { "" }), values)
        }
        Test::Domain(ds) => domain_as_exact_or_suffix(ds)
            .iter()
            .flat_map(|t| alternatives(col, t))
            .collect(),
        Test::Ip(ips) => ips
            .iter()
            .map(|i| format!("{col} ip= {}", lit(&i.to_string())))
            .collect(),
        Test::Cidr(nets) => nets
            .iter()
            .map(|n| format!("cidr({col}, {})", lit(&n.to_string())))
            .collect(),
        Test::Port(ports) => ports.iter().map(|p| format!("{col} == {p}")).collect(),
        Test::Digest(hs) => each("=", hs),
    }
}

#[allow(non_upper_case_globals)]
impl BackendName {
    pub const Odd: BackendName = BackendName::new("odd");
}

#[allow(non_upper_case_globals)]
impl Target {
    pub const Odd: Target = Target {
        name: "odd",
        help: "Odd test rules (`odd/`)",
        dir: "odd/",
        ext: ".txt",
        separator: "\n",
        prints: "the odd rules",
    };
}

impl Backend for Odd {
    const NAME: BackendName = BackendName::Odd;
    const WORDS: Words = Words {
        title: "Odd",
        table: "stream",
        target: "Odd stream",
        missing: "column",
        grouped: Some(Grouped {
            with_source: false,
            consequence: "the odd query groups without it",
        }),
    };
    const TARGETS: &'static [Target] = &[Target::Odd];
    const TEMPLATES: &'static [(&'static str, &'static str)] = &[(
        "odd/rule.txt.j2",
        include_str!("../../templates/odd/rule.txt.j2"),
    )];
    type Node = Text;
    type Local = ();

    super::text::text_hooks!(TOKENS);

    // the odd target has no shipped mapping: its tables are its own data file's
    fn tables() -> &'static [TableMap] {
        &data().tables
    }

    fn leaf(&self, cx: &mut RuleCtx, m: &Match, col: &Column) -> Text {
        let mut alts = Vec::new();
        for c in &col.match_on {
            let c = if col.basename {
                format!("base({c})")
            } else {
                c.to_string()
            };
            alts.extend(alternatives(&c, &m.test));
        }
        let text = Text::any_of(alts, TOKENS.or);
        let (fidelity, note) = col.fidelity;
        cx.record(m, text.s.clone(), fidelity, note.map(str::to_string));
        text
    }

    fn needs(&self, det: &IrDetection, _: Source) -> Vec<Need> {
        let mut needs = vec![Need::new(Field::known("timestamp"), "the time filter")];
        if let IrOutput::Summarize(by) = &det.output {
            needs.extend(by.iter().map(|f| Need::group_by(*f, "group by")));
        }
        needs
    }

    fn finish(&mut self, cx: &mut RuleCtx, rule: Rule<Text>, files: &mut Vec<(String, String)>) {
        let (spec, det) = (cx.spec, cx.det);
        let mut lines = vec![
            format!("from {} since -{}", cx.table.name, spec.window),
            format!("where {}", rule.condition.s),
        ];
        for e in &rule.exclusions {
            lines.push(match &e.inner {
                Some(inner) => format!("and {}", TOKENS.not(inner.clone()).s),
                None => format!("# exclusion {} not applied", e.x.id),
            });
        }
        if let IrOutput::Summarize(by) = &det.output {
            let cols: Vec<&str> = by
                .iter()
                .filter(|f| !rule.ungrouped.contains(f))
                .map(|f| cx.project(*f))
                .collect();
            lines.push(format!("group by {}", cols.join(", ")));
        }
        let mut description = Description::new(spec.description.trim_end());
        description.benign(&rule.exclusions);
        if let Some(g) = rule.gap {
            description.known_gap("the odd query", g);
        }
        let name = driver::rule_name(&data().rule_name, spec, det, cx.source.name());
        let text = name.and_then(|name| {
            crate::render::render(
                "odd/rule.txt.j2",
                minijinja::context! {
                    name, description => description.into_string(), query => lines.join("\n")
                },
            )
        });
        match text {
            Ok(t) => files.push((format!("odd/{}.txt", rule.id.stem), t)),
            Err(e) => cx
                .diags
                .push(Diag::error(DiagKind::Io, format!("template error: {e:#}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Cause, Gap, Note, Role, Severity, Whole};

    const SPEC: &str = r#"
id: t
vendor: Acme RMM
description: Acme's agent.
date: 2026-01-01
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
detections:
  net:
    title: Net
    gaps: { odd: the stream has no command line }
    category: network
    where:
      all:
        - remote_domain: { domain: [acme.example] }
        - any:
            - remote_port: { port: [443, 8443] }
            - initiating_process_name: { exact: ['ac"me:.exe'] }
    output: { summarize: [device_name] }
  proc:
    title: Proc
    category: process
    where: { process_company: { term: [acme] } }
    output: { summarize: [device_name] }
exclusions:
  updater:
    reason: the updater phones home
    applies_to: [net]
    where: { initiating_command_line: { contains: [--update] } }
  admin:
    reason: admins run it
    applies_to: [proc]
    where: { process_command_line: { prefix: ['C:\Admin\'] } }
"#;

    fn compile(spec: &str, exclusions: bool) -> crate::backend::Compiled<(String, String)> {
        let loaded = crate::spec::load_str(std::path::Path::new("t.yaml"), spec)
            .unwrap_or_else(|d| panic!("{d:?}"));
        let ir = crate::ir::lower(&loaded);
        driver::compile::<Odd>(
            std::slice::from_ref(&ir),
            Options {
                targets: &[],
                exclusions,
            },
        )
    }

    fn file<'a>(c: &'a crate::backend::Compiled<(String, String)>, path: &str) -> &'a str {
        &c.items
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("{path}: {:?}", c.items))
            .1
    }

    /// The walk with odd tokens: `&`/`|`/`!{}`, every chain part bracketed, the top chain on
    /// lines, domain lowered once to exact-or-suffix, escaping, basename columns; exclusions
    /// applied or listed as not applied; the wrapper from `templates/odd/`.
    #[test]
    fn renders_with_odd_tokens() {
        let c = compile(SPEC, true);
        assert!(!c.diags.iter().any(Diag::is_error), "{:?}", c.diags);
        assert_eq!(
            file(&c, "odd/t-net.txt"),
            "# ODD Acme RMM / Net\n# \"Acme's agent.\\n\\nExcluded as benign:\\n- updater: the updater phones home\\n\\nKnown gap (the odd query matches more than the spec): the stream has no command line\"\nfrom odd.net since -1d\nwhere (dst_host = \"acme.example\" | dst_host $= \".acme.example\" | sni = \"acme.example\" | sni $= \".acme.example\")\n  & ((dport == 443 | dport == 8443) | base(image) = \"ac\\\"me\\:.exe\")\n# exclusion updater not applied\ngroup by host\n"
        );
        assert_eq!(
            file(&c, "odd/t-proc.txt"),
            "# ODD Acme RMM / Proc\n# \"Acme's agent.\\n\\nExcluded as benign:\\n- admin: admins run it\"\nfrom odd.proc since -1d\nwhere company ~ \"acme\"\nand !{cmd ^= \"C\\:\\\\Admin\\\\\"}\ngroup by host\n"
        );
        // the column-fidelity warning, written once in the driver
        let w: Vec<&Diag> = c
            .diags
            .iter()
            .filter(|d| {
                d.kind == DiagKind::Fidelity(Fidelity::Wider)
                    && d.loss()
                        .is_some_and(|l| matches!(l.note, Note::Column { .. }))
            })
            .collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].message
                .starts_with("odd.net: `remote_domain` is matched on dst_host or sni (wider: "),
            "{}",
            w[0].message
        );
    }

    /// A match on a field the table lacks: an error with the typed gap, or, under a declared
    /// gap, a warning and a wider rule that says so; a group-by field left out likewise.
    #[test]
    fn gaps_are_typed() {
        let spec = SPEC
            .replace(
                "process_company: { term: [acme] }",
                "all: [{ remote_ip: { ip: [192.0.2.1] } }, { initiating_company: { term: [acme] } }]",
            )
            .replace("category: process", "category: network")
            .replace("process_command_line: { prefix", "initiating_command_line: { prefix")
            .replace("summarize: [device_name] }\nexclusions", "summarize: [device_name, account_name] }\nexclusions");
        let c = compile(&spec, false);
        let errors: Vec<&Diag> = c.diags.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let gap = |field: &str, role| Gap {
            backend: BackendName::Odd,
            field: Field::known(field),
            table: "odd.net".into(),
            role,
        };
        assert_eq!(errors[0].gaps(), [gap("initiating_company", Role::Match)]);
        assert_eq!(
            errors[0].message,
            "t/proc (endpoint): odd cannot express a match in the detection on Odd stream odd.net: `initiating_company term [acme]` (odd.net has no column for it)"
        );
        assert_eq!(errors[1].gaps(), [gap("account_name", Role::Output)]);
        assert!(!c.items.iter().any(|(p, _)| p == "odd/t-proc.txt"));

        let declared = spec.replace(
            "  proc:\n    title: Proc",
            "  proc:\n    title: Proc\n    gaps: { odd: no PE metadata here }",
        );
        let c = compile(&declared, false);
        assert!(!c.diags.iter().any(Diag::is_error), "{:?}", c.diags);
        let grouped = c
            .diags
            .iter()
            .find(|d| d.kind == DiagKind::Semantics)
            .expect("warning");
        assert_eq!(grouped.gaps(), [gap("account_name", Role::Output)]);
        assert_eq!(
            grouped.message,
            "t/proc: odd.net has no field for summarize `account_name`, so the odd query groups without it (declared gap: no PE metadata here)"
        );
        let text = file(&c, "odd/t-proc.txt");
        assert!(
            text.contains(
                "Known gap (the odd query matches more than the spec): no PE metadata here"
            ),
            "{text}"
        );
        assert!(
            text.contains("where dst ip= \"192.0.2.1\"\ngroup by host\n"),
            "{text}"
        );
    }

    /// A detection the backend has no table for, and one of which nothing is expressible:
    /// typed, with the reason the message gives.
    #[test]
    fn whole_detections_are_typed() {
        let spec = SPEC
            .replace("category: process", "category: file")
            .replace("process_company: { term: [acme] }", "file_name: { exact: [a.exe] }")
            .replace("applies_to: [proc]", "applies_to: [net]")
            .replace("process_command_line: { prefix", "initiating_command_line: { prefix")
            .replace("        - remote_domain: { domain: [acme.example] }\n", "        - initiating_company: { term: [acme] }\n")
            .replace("            - remote_port: { port: [443, 8443] }\n            - initiating_process_name: { exact: ['ac\"me:.exe'] }\n", "            - initiating_product: { term: [acme] }\n")
            .replace("the stream has no command line", "no PE metadata");
        let c = compile(&spec, false);
        let whole: Vec<_> = c
            .diags
            .iter()
            .filter_map(|d| Some((d.severity, d.unbuildable()?)))
            .collect();
        assert_eq!(whole.len(), 2, "{:?}", c.diags);
        assert_eq!(whole[0].0, Severity::Error);
        assert!(matches!(whole[0].1.why, Whole::NoTable { .. }));
        assert_eq!(
            whole[0].1.to_string(),
            "Odd has no stream for file events from source `endpoint`"
        );
        assert!(matches!(
            whole[1].1.why,
            Whole::NothingExpressible {
                matches_all: true,
                ..
            }
        ));
        assert_eq!(
            whole[1].1.to_string(),
            "nothing of the predicate can be expressed on Odd stream odd.net (it would match every event)"
        );
        assert!(c.diags.iter().any(
            |d| matches!(d.cause.as_deref(), Some(Cause::Unbuildable(_)))
                && d.message.starts_with("t/net: nothing")
        ));
        assert!(c.items.is_empty(), "{:?}", c.items);
    }

    /// The odd target through the registry, like a shipped backend: `gaps: { odd: … }` loads,
    /// a build asking for target `odd` writes its files (and only them), its name sorts after
    /// the shipped backends; yet `rmmc schema`, a bad key's error and the default targets
    /// list the shipped backends only.
    #[test]
    fn registered_like_a_shipped_backend() {
        let loaded = crate::spec::load_str(std::path::Path::new("t.yaml"), SPEC)
            .unwrap_or_else(|d| panic!("{d:?}"));
        let net = loaded.spec.detections.values().next().expect("net");
        assert_eq!(
            net.gaps.keys().copied().collect::<Vec<_>>(),
            [BackendName::Odd]
        );
        let res = crate::build::compile(
            std::slice::from_ref(&loaded),
            &crate::build::BuildOptions::only(&[Target::Odd]),
        );
        assert!(!res.diags.iter().any(Diag::is_error), "{:?}", res.diags);
        assert_eq!(
            res.files.keys().collect::<Vec<_>>(),
            ["odd/t-net.txt", "odd/t-proc.txt"]
        );
        assert!(res.files["odd/t-net.txt"].contains(
            "Known gap (the odd query matches more than the spec): the stream has no command line"
        ));

        let bad = SPEC.replace("gaps: { odd:", "gaps: { ood:");
        let Err(errors) = crate::spec::load_str(std::path::Path::new("t.yaml"), &bad) else {
            panic!("an unregistered key loaded");
        };
        assert!(
            errors.iter().any(|d| d.message
                == "detections.net.gaps: unknown value `ood`, expected one of `kql`, `sigma`, `splunk`, `elastic`"),
            "{errors:?}"
        );
        assert!(BackendName::Elastic < BackendName::Odd);
        assert!(BackendName::Kql < BackendName::Sigma && Target::Sentinel < Target::Sigma);
        assert!(!Target::all().contains(&Target::Odd));
        assert!(!crate::backend::names().contains(&"odd"));
    }
}
