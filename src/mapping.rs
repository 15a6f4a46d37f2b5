//! Backend data files (`backends/*.yaml`): where each (category, source) lives in a target
//! and what each canonical field is called there. Loaded and checked once; an unknown
//! canonical field or one outside the table's category is an error, never a pass-through.

use crate::diag::Fidelity;
use crate::spec::{Category, Field, Source};
use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMap {
    pub name: String,
    pub category: Category,
    pub source: Source,
    /// Target-specific facts for the wrappers (Sentinel data connectors, Sigma logsource,
    /// Splunk base search, Elastic index patterns …), read by that backend only.
    #[serde(default)]
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub columns: IndexMap<String, ColumnSpec>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ColumnSpec {
    Plain(String),
    Detailed(DetailedColumn),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailedColumn {
    /// Columns to match on (OR).
    pub match_any: Vec<String>,
    /// Column returned in output. Default: the first of `match_any`.
    pub project: Option<String>,
    /// How matching differs from the canonical meaning. Default: exact.
    #[serde(default = "exact")]
    pub fidelity: Fidelity,
    /// Why, when not exact (required then).
    pub note: Option<String>,
    /// The native column holds a full path whose last component is the canonical value (e.g.
    /// Sysmon `Image` for `process_name`); the backend matches the component after `\`.
    #[serde(default)]
    pub basename: bool,
}

fn exact() -> Fidelity {
    Fidelity::Exact
}

/// How one canonical field appears in one table.
pub struct Column<'a> {
    /// Columns to match on (OR of them).
    pub match_on: Vec<&'a str>,
    /// Column returned in output.
    pub project: &'a str,
    /// `Exact`, or how matching on `match_on` differs from the canonical meaning, and why.
    pub fidelity: (Fidelity, Option<&'a str>),
    /// The column holds a full path; the canonical value is its last component.
    pub basename: bool,
}

impl TableMap {
    pub fn column(&self, field: Field) -> Option<Column<'_>> {
        Some(match self.columns.get(field.name())? {
            ColumnSpec::Plain(c) => Column {
                match_on: vec![c.as_str()],
                project: c,
                fidelity: (Fidelity::Exact, None),
                basename: false,
            },
            ColumnSpec::Detailed(d) => Column {
                match_on: d.match_any.iter().map(String::as_str).collect(),
                project: d.project.as_deref().unwrap_or(&d.match_any[0]),
                fidelity: (d.fidelity, d.note.as_deref()),
                basename: d.basename,
            },
        })
    }

    /// The canonical field whose only column (matched and projected) is `column`: the inverse
    /// of this table's mapping, for importers reading native queries. `None` when no field, or
    /// only a widened/narrowed one, maps there.
    pub fn field_for_column(&self, column: &str) -> Option<Field> {
        self.columns.keys().find_map(|key| {
            let f = Field::lookup(key)?;
            let c = self.column(f)?;
            (c.match_on == [column] && c.project == column && c.fidelity.0 == Fidelity::Exact)
                .then_some(f)
        })
    }

    /// Check every column key against the canonical field table.
    pub fn check(&self) -> Result<(), String> {
        self.problem().map_or(Ok(()), |(_, e)| Err(e))
    }

    /// The first problem of the table's columns: the column key it is about, and what.
    pub fn problem(&self) -> Option<(String, String)> {
        self.columns
            .keys()
            .find_map(|k| self.check_column(k).err().map(|e| (k.clone(), e)))
    }

    fn check_column(&self, key: &str) -> Result<(), String> {
        {
            let f = Field::lookup(key)
                .ok_or_else(|| format!("table {}: unknown canonical field `{key}`", self.name))?;
            if !f.in_category(self.category) {
                return Err(format!(
                    "table {}: field `{key}` does not exist in {} events",
                    self.name, self.category
                ));
            }
            if let Some(ColumnSpec::Detailed(d)) = self.columns.get(key) {
                if d.match_any.is_empty() {
                    return Err(format!(
                        "table {}: `{key}` has an empty match_any",
                        self.name
                    ));
                }
                if d.fidelity != Fidelity::Exact && d.note.is_none() {
                    return Err(format!(
                        "table {}: `{key}` is not exact but has no `note` saying why",
                        self.name
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Find the table for a (category, source) pair.
pub fn table_for(tables: &[TableMap], category: Category, source: Source) -> Option<&TableMap> {
    tables
        .iter()
        .find(|t| t.category == category && t.source == source)
}
