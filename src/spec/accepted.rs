//! `accepted:` on a detection (and `[accepted]` in the project's `rmmc.toml`): known fidelity
//! losses acknowledged with a reason, keyed the way the warnings are (`diag::LossKey`):
//! backend, effect on the rule, note id.

use super::fields::Category;
use super::values::Prose;
use super::{BackendName, Field, Source, MATCH_KINDS};
use crate::diag::{Fidelity, CODE_NOTES};
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Per backend, per effect, per note id: the reason the loss is acceptable.
pub type Accepted = IndexMap<BackendName, IndexMap<Effect, IndexMap<NoteId, Prose>>>;

/// What a loss does to the rule: the two fidelities a warning can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The rule matches more than the spec says (false positives).
    Wider,
    /// The rule matches less than the spec says (missed detections).
    Narrower,
}

impl Effect {
    pub fn fidelity(self) -> Fidelity {
        match self {
            Effect::Wider => Fidelity::Wider,
            Effect::Narrower => Fidelity::Narrower,
        }
    }
}

/// The stable id of why a backend's rendering differs, as a warning names it: `kind:<match
/// kind>`, `column:<source>.<category>.<field>`, or one of `diag::CODE_NOTES`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NoteId(pub String);

impl fmt::Display for NoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for NoteId {
    type Err = String;
    fn from_str(s: &str) -> Result<NoteId, String> {
        let ok = Ok(NoteId(s.to_string()));
        if CODE_NOTES.contains(&s) {
            return ok;
        }
        if let Some(k) = s.strip_prefix("kind:") {
            // the match kinds, and the lexical differences the backends' data names
            // (`kinds:` in backends/kql.yaml: `fold`, `term`; backends/elastic.yaml)
            let data = crate::backend::kql::data().kinds.keys();
            let data = data.chain(crate::backend::eql::data().kinds.keys());
            let known: Vec<&str> = MATCH_KINDS
                .iter()
                .copied()
                .chain(data.map(String::as_str))
                .collect();
            return match known.contains(&k) {
                true => ok,
                false => Err(format!(
                    "unknown kind `{k}` in note `{s}`{}",
                    did_you_mean(k, known.iter().copied())
                )),
            };
        }
        if let Some(c) = s.strip_prefix("column:") {
            let parts: Vec<&str> = c.split('.').collect();
            let [source, category, field] = parts[..] else {
                return Err(format!(
                    "note `{s}`: a column note is `column:<source>.<category>.<field>`, e.g. `column:endpoint.network.remote_ip`"
                ));
            };
            let de = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(source);
            if let Err(e) = Source::deserialize(de) {
                return Err(format!("note `{s}`: {e}"));
            }
            if !Category::ALL.iter().any(|c| c.name() == category) {
                let names = Category::ALL.iter().map(|c| c.name());
                return Err(format!(
                    "note `{s}`: unknown category `{category}`{}",
                    did_you_mean(category, names)
                ));
            }
            if Field::lookup(field).is_none() {
                return Err(format!(
                    "note `{s}`: unknown canonical field `{field}`{}",
                    super::fields::suggest(field)
                ));
            }
            return ok;
        }
        if s.starts_with("gap:") {
            return Err(format!(
                "note `{s}`: a dropped match is accepted with `gaps: {{ <backend>: <reason> }}` on the detection"
            ));
        }
        let known = ["kind:", "column:"]
            .into_iter()
            .chain(CODE_NOTES.iter().copied());
        Err(format!(
            "unknown note `{s}`{}: a note is `kind:<match kind>`, `column:<source>.<category>.<field>` or one of {}; copy it from the warning",
            did_you_mean(s, known),
            CODE_NOTES.join(", ")
        ))
    }
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    super::hints::closest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

impl<'de> Deserialize<'de> for NoteId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for NoteId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NoteId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The note a fidelity warning names: `kind:<match kind>`, `column:<source>.<category>.<field>`, `ipv6-text` or `basename-backslash`."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::NoteId;

    #[test]
    fn note_ids_are_checked() {
        for ok in [
            "kind:term",
            "column:endpoint.network.remote_ip",
            "ipv6-text",
            "basename-backslash",
        ] {
            assert!(ok.parse::<NoteId>().is_ok(), "{ok}");
        }
        let err = |s: &str| s.parse::<NoteId>().unwrap_err();
        assert!(err("kind:trem").contains("did you mean `term`?"));
        assert!("kind:fold".parse::<NoteId>().is_ok());
        assert!(err("kind:fodl").contains("did you mean `fold`?"));
        assert!(err("column:endpoint.netwrk.remote_ip").contains("did you mean `network`?"));
        assert!(err("column:endpoint.network.remote_pi").contains("unknown canonical field"));
        assert!(err("column:remote_ip").contains("column:<source>.<category>.<field>"));
        assert!(err("ipv6-txt").contains("did you mean `ipv6-text`?"));
        assert!(err("gap:initiating_company").contains("gaps:"));
    }
}
