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
    /// Target-specific extras (e.g. Sentinel data connectors), passed to templates as-is.
    #[serde(default)]
    pub connectors: Vec<serde_json::Value>,
    pub columns: IndexMap<String, ColumnSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ColumnSpec {
    Plain(String),
    Detailed(DetailedColumn),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailedColumn {
    pub match_any: Vec<String>,
    pub project: String,
    pub fidelity: Fidelity,
    pub note: String,
}

/// How one canonical field appears in one table.
pub struct Column<'a> {
    /// Columns to match on (OR of them).
    pub match_on: Vec<&'a str>,
    /// Column returned in output.
    pub project: &'a str,
    /// `Exact`, or how matching on `match_on` differs from the canonical meaning, and why.
    pub fidelity: (Fidelity, Option<&'a str>),
}

impl TableMap {
    pub fn column(&self, field: Field) -> Option<Column<'_>> {
        Some(match self.columns.get(field.name())? {
            ColumnSpec::Plain(c) => Column {
                match_on: vec![c.as_str()],
                project: c,
                fidelity: (Fidelity::Exact, None),
            },
            ColumnSpec::Detailed(d) => Column {
                match_on: d.match_any.iter().map(String::as_str).collect(),
                project: &d.project,
                fidelity: (d.fidelity, Some(d.note.as_str())),
            },
        })
    }

    /// Check every column key against the canonical field table.
    pub fn check(&self) -> Result<(), String> {
        for key in self.columns.keys() {
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
