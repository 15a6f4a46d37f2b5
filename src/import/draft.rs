//! A spec as an importer builds it, and its rendering as spec YAML.
//!
//! Importers produce `Draft`s, never text: the layout (block lists, one value per line, so a
//! re-import that adds one domain is a one-line diff) and the quoting live here once. What a
//! draft renders to is proven by loading it back with the spec loader (`super::finish`).

use crate::render::{yaml_block, yaml_str};
use crate::spec::{BackendName, Category};
use std::fmt::Write;

#[derive(Clone, Debug)]
pub struct Draft {
    pub id: String,
    pub vendor: String,
    pub description: String,
    pub references: Vec<String>,
    pub author: String,
    /// `YYYY-MM-DD` from the source; `None` keeps the date of an earlier import of the same
    /// spec, else the import date.
    pub date: Option<String>,
    pub modified: Option<String>,
    pub severity: &'static str,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub window: String,
    /// Comment lines written above the spec (provenance: where it was imported from).
    pub comments: Vec<String>,
    pub detections: Vec<DraftDetection>,
}

#[derive(Clone, Debug)]
pub struct DraftDetection {
    pub key: String,
    pub title: String,
    pub on: Category,
    /// Comment lines above the detection (e.g. the repairs the importer made).
    pub comments: Vec<String>,
    pub predicate: Pred,
    pub summarize: Vec<String>,
    pub time_filter: bool,
    pub gaps: Vec<(BackendName, String)>,
    /// Backends that build nothing for this detection (`unsupported:`), with the reason.
    pub unsupported: Vec<(BackendName, String)>,
    /// Index of the source file (in `Import::files`) this detection came from.
    pub source: usize,
}

/// A predicate tree over canonical field names, as the spec writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pred {
    All(Vec<Pred>),
    Any(Vec<Pred>),
    Not(Box<Pred>),
    Match {
        field: String,
        kind: &'static str,
        values: Vec<String>,
        cased: bool,
    },
}

impl Pred {
    pub fn matches(field: &str, kind: &'static str, values: Vec<String>) -> Pred {
        Pred::Match {
            field: field.to_string(),
            kind,
            values,
            cased: false,
        }
    }
}

/// A YAML scalar holding exactly `s`: plain when it reads back as the same string, else
/// single-quoted (Windows paths stay readable: no backslash escapes), else double-quoted.
pub fn scalar(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '/' | '(' | ')' | '+'));
    let first_ok = s.chars().next().is_some_and(char::is_alphanumeric);
    if plain_chars
        && first_ok
        && !s.ends_with(' ')
        && matches!(serde_yaml::from_str::<serde_yaml::Value>(s), Ok(serde_yaml::Value::String(ref v)) if v == s)
    {
        return s.to_string();
    }
    let single_ok = !s.is_empty()
        && s.chars().all(|c| {
            !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{85}')
        })
        && !s.starts_with(' ')
        && !s.ends_with(' ');
    if single_ok {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        yaml_str(s)
    }
}

fn comments(out: &mut String, lines: &[String], pad: &str) {
    for c in lines {
        for l in c.lines() {
            if l.is_empty() {
                let _ = writeln!(out, "{pad}#");
            } else {
                let _ = writeln!(out, "{pad}# {l}");
            }
        }
    }
}

fn list(out: &mut String, key: &str, items: &[String], pad: &str) {
    let _ = writeln!(out, "{pad}{key}:");
    for i in items {
        let _ = writeln!(out, "{pad}  - {}", scalar(i));
    }
}

/// Render `p` as the value of a map at `indent` spaces (the caller wrote nothing yet).
fn pred(out: &mut String, p: &Pred, indent: usize) {
    let pad = " ".repeat(indent);
    match p {
        Pred::All(items) | Pred::Any(items) => {
            let key = if matches!(p, Pred::All(_)) {
                "all"
            } else {
                "any"
            };
            let _ = writeln!(out, "{pad}{key}:");
            for item in items {
                let mut child = String::new();
                pred(&mut child, item, indent + 4);
                // the child's first line starts at indent + 4: put the list dash there
                let body = &child[indent + 4..];
                let _ = write!(out, "{pad}  - {body}");
            }
        }
        Pred::Not(inner) => {
            let _ = writeln!(out, "{pad}not:");
            pred(out, inner, indent + 2);
        }
        Pred::Match {
            field,
            kind,
            values,
            cased,
        } => {
            let one = values.len() == 1 && !cased && scalar(&values[0]).len() <= 60;
            if one {
                let _ = writeln!(out, "{pad}{field}: {{ {kind}: [{}] }}", scalar(&values[0]));
            } else {
                let _ = writeln!(out, "{pad}{field}:");
                list(out, kind, values, &format!("{pad}  "));
                if *cased {
                    let _ = writeln!(out, "{pad}  cased: true");
                }
            }
        }
    }
}

impl Draft {
    /// The spec YAML (with `date` resolved by the caller).
    pub fn render(&self, date: &str) -> String {
        let mut out = String::new();
        comments(&mut out, &self.comments, "");
        let _ = writeln!(out, "id: {}", self.id);
        let _ = writeln!(out, "vendor: {}", scalar(&self.vendor));
        let description = if self.description.ends_with('\n') {
            self.description.clone()
        } else {
            format!("{}\n", self.description)
        };
        let _ = writeln!(
            out,
            "description: {}",
            yaml_block(&description, 2).trim_end()
        );
        if !self.references.is_empty() {
            list(&mut out, "references", &self.references, "");
        }
        let _ = writeln!(out, "author: {}", scalar(&self.author));
        let _ = writeln!(out, "date: {date}");
        if let Some(m) = &self.modified {
            let _ = writeln!(out, "modified: {m}");
        }
        let _ = writeln!(out, "severity: {}", self.severity);
        let _ = writeln!(out, "attack:");
        let _ = writeln!(out, "  tactics: [{}]", self.tactics.join(", "));
        let _ = writeln!(out, "  techniques: [{}]", self.techniques.join(", "));
        let _ = writeln!(out, "window: {}", self.window);
        let _ = writeln!(out, "\ndetections:");
        for (i, d) in self.detections.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            comments(&mut out, &d.comments, "  ");
            let _ = writeln!(out, "  {}:", d.key);
            let _ = writeln!(out, "    title: {}", scalar(&d.title));
            let _ = writeln!(out, "    category: {}", d.on.name());
            if !d.time_filter {
                let _ = writeln!(out, "    time_filter: false");
            }
            let _ = writeln!(out, "    where:");
            pred(&mut out, &d.predicate, 6);
            let _ = writeln!(out, "    output:");
            let _ = writeln!(out, "      summarize: [{}]", d.summarize.join(", "));
            if !d.gaps.is_empty() {
                let _ = writeln!(out, "    gaps:");
                for (backend, why) in &d.gaps {
                    let _ = writeln!(out, "      {}: {}", backend.name(), scalar(why));
                }
            }
            if !d.unsupported.is_empty() {
                let _ = writeln!(out, "    unsupported:");
                for (backend, why) in &d.unsupported {
                    let _ = writeln!(out, "      {}: {}", backend.name(), scalar(why));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for s in [
            "anydesk.com",
            "AnyDesk",
            "true",
            "null",
            "1.5",
            "~",
            "a: b",
            "#x",
            "it's",
            "C:\\Program Files\\x\\",
            "line\nbreak",
            " lead",
            "Krämer IT Solutions GmbH",
            "Servably, Inc.",
            "*.example.com",
            "- dash",
            "@at",
            "%programdata%",
        ] {
            let y = format!("k: {}\n", scalar(s));
            let v: serde_yaml::Value = serde_yaml::from_str(&y).unwrap();
            assert_eq!(v["k"].as_str(), Some(s), "{y}");
        }
        assert_eq!(scalar("anydesk.com"), "anydesk.com");
        assert_eq!(scalar("true"), "'true'");
        assert_eq!(scalar("C:\\x"), "'C:\\x'");
    }
}
