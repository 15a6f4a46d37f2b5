//! The operator tables of KQL, SPL and EQL (what the lexer and the walker swap, drop and
//! change in each language), and the operator swaps of Sigma.

/// An operator swap: `from` token becomes `to`.
pub(super) struct Swap {
    pub(super) from: &'static str,
    pub(super) to: &'static str,
    pub(super) name: &'static str,
    /// Only case sensitivity changes (`=~`→`==`): equivalent when no operand has a cased
    /// letter.
    pub(super) case_only: bool,
    /// Wildcards (`*`, `?`) in the operand stop meaning "any" (EQL `:`→`==`) or start to
    /// (`==`→`:`): then equivalent only when no operand holds one.
    pub(super) wildcards: bool,
    /// Only term boundaries change (KQL `contains`↔`has`): `has` asks for a boundary only
    /// at an edge of the needle that is a letter or digit (a term is a run of them), so the
    /// swap is equivalent when every operand starts and ends with another character
    /// (`'\TightVNC\'`).
    pub(super) term_edges: bool,
}

/// A list operator: the token before `(` and whether it compares case-insensitively (so
/// elements equal up to case are duplicates).
pub(super) struct ListOp {
    pub(super) op: &'static str,
    pub(super) case_insensitive: bool,
}

pub(super) struct Table {
    /// Line comment opener, and a block comment delimiter used at both ends (SPL's ```).
    pub(super) line_comment: Option<&'static str>,
    pub(super) block_comment: Option<&'static str>,
    pub(super) quotes: &'static str,
    /// Multi-character punctuation, longest first.
    pub(super) puncts: &'static [&'static str],
    /// `and`↔`or`.
    pub(super) bools: &'static [(&'static str, &'static str)],
    /// The negation word, removed before its `(`.
    pub(super) not: &'static str,
    /// Token sequences that open a whole filter, ending at the `(`'s match.
    pub(super) filters: &'static [&'static [&'static str]],
    pub(super) swaps: &'static [Swap],
    pub(super) lists: &'static [ListOp],
    /// Strings right after one of these (or in a list after one) are regular expressions.
    pub(super) regex_after: &'static [&'static str],
    /// Strings that are arguments of these calls are regular expressions (SPL `match`).
    pub(super) regex_calls: &'static [&'static str],
    /// Calls that rewrite their first argument, replaced by it by `call-unwrapped`: (name,
    /// second argument as written). SPL's long-s swap, `replace(F, "\\x{17F}", "?")`. (Not the
    /// basename cut: dropped under a suffix test it cannot change a verdict.)
    pub(super) unwrap_calls: &'static [(&'static str, &'static str)],
    /// String literals escape backslashes (so a regex `\A` is written `\\A`).
    pub(super) escaped: bool,
    /// A leading case-insensitivity flag of a regex, dropped by `case-flag-dropped`.
    pub(super) case_flag: Option<&'static str>,
    /// `field == "v" OR field == "v2"` chains: (or word, comparison), one disjunct dropped.
    pub(super) or_chain: Option<(&'static str, &'static str)>,
    /// Fields whose values are a closed lowercase vocabulary (ECS `event.type`): a case
    /// swap on them cannot change a verdict on real data of that schema.
    pub(super) closed_fields: &'static [&'static str],
}

pub(super) const KQL: Table = Table {
    line_comment: Some("//"),
    block_comment: None,
    quotes: "'\"",
    puncts: &["=~", "!~", "==", "!=", "<=", ">=", ".."],
    bools: &[("and", "or"), ("or", "and")],
    not: "not",
    filters: &[&["|", "where", "not", "("]],
    swaps: &[
        Swap {
            from: "has",
            to: "contains",
            name: "swap has→contains",
            case_only: false,
            wildcards: false,
            term_edges: true,
        },
        Swap {
            from: "contains",
            to: "has",
            name: "swap contains→has",
            case_only: false,
            wildcards: false,
            term_edges: true,
        },
        Swap {
            from: "=~",
            to: "==",
            name: "swap =~→==",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "in~",
            to: "in",
            name: "swap in~→in",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "endswith",
            to: "contains",
            name: "swap endswith→contains",
            case_only: false,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "startswith",
            to: "contains",
            name: "swap startswith→contains",
            case_only: false,
            wildcards: false,
            term_edges: false,
        },
    ],
    lists: &[
        ListOp {
            op: "in~",
            case_insensitive: true,
        },
        ListOp {
            op: "in",
            case_insensitive: false,
        },
        ListOp {
            op: "has_any",
            case_insensitive: true,
        },
        ListOp {
            op: "has_all",
            case_insensitive: true,
        },
        ListOp {
            op: "dynamic",
            case_insensitive: false,
        },
    ],
    regex_after: &["regex"],
    regex_calls: &[],
    unwrap_calls: &[],
    escaped: true,
    case_flag: None,
    or_chain: None,
    closed_fields: &[],
};

pub(super) const SPL: Table = Table {
    line_comment: None,
    block_comment: Some("```"),
    quotes: "\"",
    puncts: &["==", "!=", "<=", ">="],
    bools: &[("AND", "OR"), ("OR", "AND")],
    not: "NOT",
    filters: &[&["|", "where", "NOT", "("]],
    swaps: &[],
    lists: &[ListOp {
        op: "in",
        case_insensitive: false,
    }],
    regex_after: &[],
    regex_calls: &["match", "replace"],
    unwrap_calls: &[("replace", r#""\\x{17F}""#)],
    escaped: true,
    case_flag: Some("(?i)"),
    or_chain: Some(("OR", "==")),
    closed_fields: &[],
};

pub(super) const EQL: Table = Table {
    line_comment: Some("//"),
    block_comment: None,
    quotes: "\"",
    puncts: &["==", "!=", "<=", ">=", ":"],
    bools: &[("and", "or"), ("or", "and")],
    not: "not",
    filters: &[&["and", "not", "("]],
    swaps: &[
        Swap {
            from: ":",
            to: "==",
            name: "swap :→==",
            case_only: true,
            wildcards: true,
            term_edges: false,
        },
        Swap {
            from: "==",
            to: ":",
            name: "swap ==→:",
            case_only: true,
            wildcards: true,
            term_edges: false,
        },
        Swap {
            from: "in~",
            to: "in",
            name: "swap in~→in",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "regex~",
            to: "regex",
            name: "swap regex~→regex",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "like~",
            to: "like",
            name: "swap like~→like",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
    ],
    lists: &[
        ListOp {
            op: "in~",
            case_insensitive: true,
        },
        ListOp {
            op: "in",
            case_insensitive: false,
        },
        ListOp {
            op: ":",
            case_insensitive: true,
        },
        ListOp {
            op: "like~",
            case_insensitive: true,
        },
        ListOp {
            op: "like",
            case_insensitive: false,
        },
        ListOp {
            op: "regex",
            case_insensitive: false,
        },
        ListOp {
            op: "regex~",
            case_insensitive: true,
        },
    ],
    regex_after: &["regex", "regex~"],
    regex_calls: &[],
    unwrap_calls: &[],
    escaped: true,
    case_flag: None,
    or_chain: None,
    closed_fields: &["event.type", "event.category"],
};

/// Sigma modifier swaps on a key: `Image|endswith` → `Image|contains`.
pub(super) const SIGMA_SWAPS: &[(&str, &str, &str)] = &[
    ("|endswith", "|contains", "swap |endswith→|contains"),
    ("|startswith", "|contains", "swap |startswith→|contains"),
];
