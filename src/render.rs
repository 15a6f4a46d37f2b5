//! Deployment wrappers: minijinja templates from `templates/`, compiled into the binary (each
//! backend lists its own, `Backend::TEMPLATES`).
//! Undefined variables are errors (a missing value must fail the build, not print `severity: `),
//! and structured text is produced by filters that emit valid scalars, never by pasting.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Escaping is explicit, per scalar, through the filters below.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(true);
        env.add_filter("yaml_str", yaml_str);
        env.add_filter("yaml_block", yaml_block);
        env.add_filter("yaml_str_ascii", yaml_str_ascii);
        env.add_filter("yaml_block_ascii", yaml_block_ascii);
        for (name, src) in crate::backend::templates() {
            env.add_template(name, src)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env
    })
}

/// Render a template with `ctx`.
pub fn render<S: Serialize>(template: &str, ctx: S) -> Result<String, minijinja::Error> {
    env().get_template(template)?.render(ctx)
}

/// Render a one-line template string (e.g. the rule-name pattern in `backends/kql.yaml`),
/// compiled once per thread: a build renders it for every rule of every backend, and compiling
/// it each time (what `Environment::render_str` does) was ~4% of building the LOLRMM corpus.
/// A string that does not compile is not kept, so each call reports the same error.
pub fn render_str<S: Serialize>(src: &'static str, ctx: S) -> Result<String, minijinja::Error> {
    type Compiled = HashMap<&'static str, minijinja::Template<'static, 'static>>;
    thread_local! {
        static COMPILED: RefCell<Compiled> = RefCell::new(HashMap::new());
    }
    let template = COMPILED.with_borrow_mut(|compiled| match compiled.get(src) {
        Some(t) => Ok(t.clone()),
        None => {
            let t = env().template_from_str(src)?;
            compiled.insert(src, t.clone());
            Ok::<_, minijinja::Error>(t)
        }
    })?;
    template.render(ctx)
}

/// A YAML double-quoted scalar holding exactly `s`. Escapes everything YAML could read as
/// structure or a line break: quotes, backslashes, control characters, NEL, LS, PS and BOM.
pub fn yaml_str(s: &str) -> String {
    quoted(s, false)
}

/// `yaml_str` with every non-ASCII character escaped too (`\uXXXX`): the same value, in a
/// file of ASCII bytes only (Microsoft Sentinel's template repository takes no other).
pub fn yaml_str_ascii(s: &str) -> String {
    quoted(s, true)
}

/// `yaml_block` for an ASCII-only file: a block when the text is ASCII, else the escaped
/// double-quoted scalar (a block scalar cannot escape).
pub fn yaml_block_ascii(s: &str, indent: usize) -> String {
    if s.is_ascii() {
        yaml_block(s, indent)
    } else {
        yaml_str_ascii(s)
    }
}

fn quoted(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) || (ascii && !c.is_ascii()) => {
                let cp = c as u32;
                if cp <= 0xFFFF {
                    out.push_str(&format!("\\u{cp:04X}"));
                } else {
                    out.push_str(&format!("\\U{cp:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// A YAML literal block (`|`) indented by `indent` spaces, for multi-line text such as
/// queries: readable in review and copy-paste friendly. Falls back to `yaml_str` whenever a
/// block could not hold the text exactly (control characters, a first line starting with
/// a space, trailing blank lines, no final newline).
pub fn yaml_block(s: &str, indent: usize) -> String {
    let block_safe = !s.is_empty()
        && s.ends_with('\n')
        && !s.ends_with("\n\n")
        && !s.starts_with([' ', '\n'])
        && s.chars()
            .all(|c| c == '\n' || (!needs_escape(c) || c == '\t'))
        && !s.contains('\t');
    if !block_safe {
        // A single line without a final newline reads better quoted anyway.
        return yaml_str(s);
    }
    let pad = " ".repeat(indent);
    let mut out = String::from("|");
    for line in s.lines() {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str, rendered: &str) {
        let doc = format!("k: {rendered}\n");
        let v: serde_yaml::Value =
            serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
        assert_eq!(v["k"].as_str(), Some(s), "{doc}");
    }

    #[test]
    fn render_str_compiled_once_renders_as_the_environment_does() {
        const NAME: &str = "RMM - {{ vendor }} - {{ title | yaml_str }}";
        for (vendor, title) in [("Acme", "one"), ("Beta", "two: \"x\""), ("Acme", "one")] {
            let ctx = minijinja::context! { vendor, title };
            assert_eq!(
                render_str(NAME, ctx.clone()).unwrap(),
                env().render_str(NAME, ctx).unwrap()
            );
        }
        // a template that does not compile fails every time, with the same message
        const BAD: &str = "{{ vendor ";
        let first = render_str(BAD, minijinja::context! {}).unwrap_err();
        let again = render_str(BAD, minijinja::context! {}).unwrap_err();
        let direct = env().render_str(BAD, minijinja::context! {}).unwrap_err();
        assert_eq!(first.to_string(), direct.to_string());
        assert_eq!(again.to_string(), direct.to_string());
        // strict undefined: a missing variable is still an error
        let missing = render_str(NAME, minijinja::context! { vendor => "x" }).unwrap_err();
        assert_eq!(
            missing.to_string(),
            env()
                .render_str(NAME, minijinja::context! { vendor => "x" })
                .unwrap_err()
                .to_string()
        );
    }

    #[test]
    fn yaml_str_round_trips_hostile_text() {
        for s in [
            "plain",
            "a: b",
            "# not a comment",
            "--- \n...",
            "quote \" and \\ backslash",
            "line\nbreak",
            "nel\u{85}ls\u{2028}ps\u{2029}",
            "tab\there",
            "[x] {y} |z >w &a *b !c %d @e `f",
            "ünïcödé 日本 🚀",
            "",
        ] {
            roundtrip(s, &yaml_str(s));
        }
    }

    #[test]
    fn yaml_block_round_trips_or_falls_back() {
        for s in [
            "let a = 1;\nT\n| where x has 'y'\n",
            "one line\n",
            "  leading space\n",
            "no final newline",
            "trailing blank\n\n",
            "x: y\n# c\n- z\n",
        ] {
            let r = yaml_block(s, 2);
            roundtrip(s, &r);
        }
        assert!(yaml_block("a\nb\n", 2).starts_with('|'));
    }

    #[test]
    fn ascii_forms_hold_the_same_value_in_ascii_bytes() {
        for s in [
            "plain",
            "Parsec \u{2013} desktop \u{2014} \u{2192}",
            "\u{4E0A}\u{6D77}\u{8D1D}\u{9510} | where x has '\u{130}'\n",
            "emoji \u{1F680} and \"quote\"",
            "let a = 1;\nT\n",
        ] {
            for r in [yaml_str_ascii(s), yaml_block_ascii(s, 2)] {
                assert!(r.is_ascii(), "{r}");
                roundtrip(s, &r);
            }
        }
        // ASCII text keeps its block form; other text cannot be a block
        assert!(yaml_block_ascii("a\nb\n", 2).starts_with('|'));
        assert_eq!(yaml_block_ascii("\u{E9}\n", 2), "\"\\u00E9\\n\"");
    }
}
