//! What to write instead: "did you mean" for misspelt keys and values, and the rmmc spelling
//! of habits carried over from Sigma. Data tables, read by the loader and the validator.

/// Sigma log-source categories (`logsource.category`) and the rmmc `category` that means the
/// same events.
const SIGMA_CATEGORIES: &[(&str, &str)] = &[
    ("process_creation", "process"),
    ("network_connection", "network"),
    ("dns_query", "network"),
    ("firewall", "network, with `sources: [firewall]`"),
    ("file_event", "file"),
    ("file_creation", "file"),
    ("file_access", "file"),
];

/// Sigma value modifiers (`field|modifier`) and the rmmc match kind that means the same.
const SIGMA_MODIFIERS: &[(&str, &str)] = &[
    ("contains", "contains"),
    ("startswith", "prefix"),
    ("endswith", "suffix"),
    ("cidr", "cidr"),
];

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo
/// (at most a third of the word, and at most 3 edits; a swap of two letters is one edit).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// `remote_domain|endswith` → write `remote_domain: { suffix: [...] }`.
pub fn sigma_modifier(key: &str) -> Option<String> {
    let (field, modifiers) = key.split_once('|')?;
    let field = closest(field, super::fields::FIELDS.iter().map(|d| d.name)).unwrap_or(field);
    let first = modifiers.split('|').next().unwrap_or_default();
    Some(
        match SIGMA_MODIFIERS.iter().find(|(m, _)| *m == first) {
            Some((_, kind)) => format!(
                "`|{first}` is Sigma's modifier syntax; rmmc names the kind under the field: `{field}: {{ {kind}: [...] }}`"
            ),
            None => format!(
                "`|{first}` is Sigma's modifier syntax; rmmc names the kind under the field, e.g. `{field}: {{ contains: [...] }}` (kinds: term, exact, contains, prefix, suffix, domain, ip, cidr, port, hash)"
            ),
        },
    )
}

/// The rmmc category for a Sigma category, or the closest category name.
pub fn category(value: &str, known: &[&'static str]) -> Option<String> {
    if let Some((_, ours)) = SIGMA_CATEGORIES.iter().find(|(s, _)| *s == value) {
        return Some(format!(
            "`{value}` is Sigma's log-source name; rmmc calls it {ours}"
        ));
    }
    closest(value, known.iter().copied()).map(|c| format!("did you mean `{c}`?"))
}

/// A field of `category` that names what `field` names in process events: in network and
/// file events the acting process is the *initiating* one (`process_name` there is
/// `initiating_process_name`).
pub fn field_for_category(field: &str, category: super::fields::Category) -> Option<String> {
    let rest = field.strip_prefix("process_").unwrap_or(field);
    [
        format!("initiating_{field}"),
        format!("initiating_process_{rest}"),
        format!("initiating_{rest}"),
    ]
    .into_iter()
    .find(|c| super::fields::Field::lookup(c).is_some_and(|f| f.in_category(category)))
    .map(|c| format!("in {category} events the acting process is the initiating one: use `{c}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_matched_and_unrelated_words_are_not() {
        let keys = [
            "references",
            "description",
            "detections",
            "exclusions",
            "vendor",
        ];
        assert_eq!(closest("refernces", keys), Some("references"));
        assert_eq!(closest("descripton", keys), Some("description"));
        assert_eq!(closest("sorces", ["sources", "summarize"]), Some("sources"));
        assert_eq!(closest("titel", ["title", "where"]), Some("title"));
        assert_eq!(closest("banana", keys), None);
    }

    #[test]
    fn sigma_habits_name_the_rmmc_form() {
        let h = sigma_modifier("remote_domain|endswith").unwrap();
        assert!(h.contains("`remote_domain: { suffix: [...] }`"), "{h}");
        let h = sigma_modifier("process_command_line|contains|all").unwrap();
        assert!(h.contains("{ contains: [...] }"), "{h}");
        assert!(sigma_modifier("remote_domain").is_none());
        let c = category("process_creation", &["network", "process"]).unwrap();
        assert!(c.contains("rmmc calls it process"), "{c}");
        assert_eq!(
            category("proces", &["network", "process"]).as_deref(),
            Some("did you mean `process`?")
        );
        use crate::spec::fields::Category;
        let f = field_for_category("process_name", Category::Network).unwrap();
        assert!(f.contains("`initiating_process_name`"), "{f}");
        assert!(field_for_category("remote_domain", Category::Process).is_none());
    }
}
