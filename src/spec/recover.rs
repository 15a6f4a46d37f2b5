//! Every structural error of a spec in one run. serde stops at the first error, so a draft
//! with ten mistakes took ten runs. After the first error we read the same text as a plain
//! YAML tree, delete the node the error is about, and deserialize again, until the tree
//! deserializes or nothing more can be taken away. Each error is reported at its place in the
//! file as written: deleting list items shifts the indices serde reports, so they are mapped
//! back to the original ones.
//!
//! What is deliberately not reported: a "missing field" that only exists because we deleted
//! that field, and errors past a missing field at the top of the spec (nothing above it can be
//! deleted). Cross-field checks (`validate`) run only on a spec with no structural error, as
//! before: on a tree with deleted nodes they would report our deletions.

use super::spans::{Seg, YamlPath};
use super::Spec;
use crate::diag::Diag;
use serde_path_to_error::Segment;
use serde_yaml::Value;
use std::collections::{BTreeSet, HashMap};

/// At most this many structural errors per file: a file that is not a spec at all (a Sigma
/// rule, a Sentinel YAML) would otherwise list one error per key.
pub const MAX_ERRORS_PER_FILE: usize = 25;

/// Every structural error of `text`, starting with `first` (the one the located first pass
/// found). `describe` turns one serde error at one original path into a diagnostic.
pub(super) fn every_structural_error(
    text: &str,
    first: Diag,
    describe: impl Fn(&YamlPath, &serde_yaml::Error) -> Diag,
) -> Vec<Diag> {
    let mut diags = vec![first];
    let Ok(mut tree) = serde_yaml::from_str::<Value>(text) else {
        return diags;
    };
    let mut removed = Removed::default();
    // every node we deleted, and every error reported, at its original path
    let mut deleted: Vec<YamlPath> = Vec::new();
    let mut reported: Vec<YamlPath> = Vec::new();
    let mut first_pass = true;
    // each round deletes one node, so the number of nodes bounds the loop; the cap bounds
    // the report
    while diags.len() < MAX_ERRORS_PER_FILE {
        let err = match serde_path_to_error::deserialize::<_, Spec>(&tree) {
            Ok(_) => break,
            Err(e) => e,
        };
        let current = YamlPath::from_serde(err.path());
        let original = removed.original(&current);
        // An error that only our deletions caused is not reported: a "missing field" for a
        // field we deleted, or any other error about a node above one we deleted (the empty
        // list left by deleting its one bad value, the predicate left with no match kind).
        let ours = match missing_field(err.inner()) {
            Some(f) => deleted.contains(&original.key(f)),
            None => deleted.iter().any(|d| d.0.starts_with(&original.0)),
        };
        if first_pass {
            // the same error the located pass reported: keep that one (it has serde's own
            // position when our index has none)
            first_pass = false;
            reported.push(original.clone());
        } else if !ours {
            if reported.contains(&original) {
                break; // no progress: deleting did not take the error away
            }
            diags.push(describe(&original, err.inner()));
            reported.push(original.clone());
        }
        // what to delete: the offending node, or for a missing field the map that lacks it
        let Some(steps) = value_steps(&tree, err.path()) else {
            break;
        };
        if steps.is_empty() {
            break; // the error is about the whole spec: nothing above it to delete
        }
        if !delete(&mut tree, &steps) {
            break;
        }
        if let Some(Seg::Index(i)) = original.0.last() {
            let parent = YamlPath(original.0[..original.0.len() - 1].to_vec());
            removed.0.entry(parent).or_default().insert(*i);
        }
        deleted.push(original);
    }
    diags
}

/// The field a "missing field `x`" error names.
fn missing_field(e: &serde_yaml::Error) -> Option<String> {
    let text = e.to_string();
    let rest = text.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// One step into a YAML tree: a map key or a list index.
#[derive(Debug)]
enum Step {
    Key(Value),
    Index(usize),
}

/// serde's path as steps into `tree`. serde_path_to_error names an externally tagged enum's
/// variant as `Enum`, which in YAML is a map key too; `Unknown` means serde lost track, and
/// then nothing is deleted.
fn value_steps(tree: &Value, path: &serde_path_to_error::Path) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut node = tree;
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                node = node.as_sequence()?.get(*index)?;
                steps.push(Step::Index(*index));
            }
            Segment::Map { key } => {
                let key = Value::String(key.clone());
                node = node.as_mapping()?.get(&key)?;
                steps.push(Step::Key(key));
            }
            Segment::Enum { variant } => {
                let key = Value::String(variant.clone());
                if let Some(inner) = node.as_mapping().and_then(|m| m.get(&key)) {
                    node = inner;
                    steps.push(Step::Key(key));
                }
            }
            Segment::Unknown => return None,
        }
    }
    Some(steps)
}

/// Delete the node at `steps` (never the root). False when the path does not lead anywhere.
fn delete(tree: &mut Value, steps: &[Step]) -> bool {
    let (last, parents) = match steps.split_last() {
        Some(x) => x,
        None => return false,
    };
    let mut node = tree;
    for step in parents {
        node = match (step, node) {
            (Step::Key(k), Value::Mapping(m)) => match m.get_mut(k) {
                Some(n) => n,
                None => return false,
            },
            (Step::Index(i), Value::Sequence(s)) => match s.get_mut(*i) {
                Some(n) => n,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, node) {
        (Step::Key(k), Value::Mapping(m)) => m.shift_remove(k).is_some(),
        (Step::Index(i), Value::Sequence(s)) if *i < s.len() => {
            s.remove(*i);
            true
        }
        _ => false,
    }
}

/// The list items deleted so far: for each list (at its original path), the original indices
/// of its deleted items.
#[derive(Default)]
struct Removed(HashMap<YamlPath, BTreeSet<usize>>);

impl Removed {
    /// A path in the edited tree as the same path in the file.
    fn original(&self, current: &YamlPath) -> YamlPath {
        let mut out = YamlPath::default();
        for seg in &current.0 {
            let next = match seg {
                Seg::Key(k) => Seg::Key(k.clone()),
                Seg::Index(i) => Seg::Index(match self.0.get(&out) {
                    Some(gone) => nth_kept(*i, gone),
                    None => *i,
                }),
            };
            out.0.push(next);
        }
        out
    }
}

/// The original index of the `i`th item still in a list whose items `gone` were deleted.
fn nth_kept(i: usize, gone: &BTreeSet<usize>) -> usize {
    let mut original = i;
    // every deleted item at or before the answer shifts it one place on
    for g in gone {
        if *g <= original {
            original += 1;
        } else {
            break;
        }
    }
    original
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_map_back_past_deleted_items() {
        let gone: BTreeSet<usize> = [1, 3].into();
        // original 0 1 2 3 4 → kept 0 2 4
        assert_eq!(nth_kept(0, &gone), 0);
        assert_eq!(nth_kept(1, &gone), 2);
        assert_eq!(nth_kept(2, &gone), 4);
        let gone: BTreeSet<usize> = [0, 1].into();
        assert_eq!(nth_kept(0, &gone), 2);
    }
}
