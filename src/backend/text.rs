//! Query text as a table of tokens: how the text backends (KQL, SPL, EQL) join and negate
//! rendered expressions, and when they bracket a part. The walk is the driver's; a backend
//! names its `Tokens` and renders leaves.

use super::driver::Chain;

/// How a rendered expression binds: a single test or call, an `and` chain or an `or` chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Binding {
    Atom,
    And,
    Or,
}

/// A rendered expression and how it binds, so a parent adds only the brackets it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub s: String,
    pub b: Binding,
}

impl Text {
    pub fn atom(s: impl Into<String>) -> Text {
        Text {
            s: s.into(),
            b: Binding::Atom,
        }
    }

    /// Alternatives of one test joined by `or` (an atom when there is one).
    pub fn any_of(alternatives: Vec<String>, or: &str) -> Text {
        Text {
            b: if alternatives.len() > 1 {
                Binding::Or
            } else {
                Binding::Atom
            },
            s: alternatives.join(or),
        }
    }

    /// The text, bracketed unless it is an atom.
    pub fn grouped(&self) -> String {
        if self.b == Binding::Atom {
            self.s.clone()
        } else {
            format!("({})", self.s)
        }
    }
}

/// Which parts of a chain are bracketed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Brackets {
    /// A part that is a chain of the other kind (`and` inside `or` and the reverse), though
    /// the language gives `and` precedence: mixed chains are bracketed for the reader.
    Mixed,
    /// Every part that is a chain: no reliance on precedence at all (SPL).
    Chains,
}

/// A text backend's operators.
pub struct Tokens {
    pub and: &'static str,
    pub or: &'static str,
    /// The separators of the detection's outermost chain (KQL puts each part on a line).
    pub top_and: &'static str,
    pub top_or: &'static str,
    /// `not` as text before and after its operand.
    pub not: (&'static str, &'static str),
    pub brackets: Brackets,
    /// How a chain of one part binds: as the chain (`true`) or as an atom.
    pub lone_chain: bool,
}

impl Tokens {
    /// `all` / `any` of rendered parts.
    pub fn join(&self, chain: Chain, parts: Vec<Text>, top: bool) -> Text {
        let (b, sep) = match (chain, top) {
            (Chain::All, false) => (Binding::And, self.and),
            (Chain::All, true) => (Binding::And, self.top_and),
            (Chain::Any, false) => (Binding::Or, self.or),
            (Chain::Any, true) => (Binding::Or, self.top_or),
        };
        let n = parts.len();
        let parts: Vec<String> = parts
            .into_iter()
            .map(|p| {
                let bracket = match self.brackets {
                    Brackets::Mixed => p.b != Binding::Atom && p.b != b,
                    Brackets::Chains => p.b != Binding::Atom,
                };
                if bracket {
                    format!("({})", p.s)
                } else {
                    p.s
                }
            })
            .collect();
        Text {
            s: parts.join(sep),
            b: if n > 1 || self.lone_chain {
                b
            } else {
                Binding::Atom
            },
        }
    }

    pub fn not(&self, inner: Text) -> Text {
        Text::atom(format!("{}{}{}", self.not.0, inner.s, self.not.1))
    }
}

/// The `join` and `not` hooks of a backend whose nodes are `Text` joined by the `Tokens`
/// given (KQL, EQL, the odd test target): written once here, one line in each `impl Backend`.
macro_rules! text_hooks {
    ($tokens:expr) => {
        fn join(
            &self,
            _: &$crate::backend::driver::RuleCtx<'_, Self::Local>,
            chain: $crate::backend::driver::Chain,
            parts: Vec<$crate::backend::text::Text>,
            top: bool,
        ) -> $crate::backend::text::Text {
            $tokens.join(chain, parts, top)
        }

        fn not(
            &self,
            _: &$crate::backend::driver::RuleCtx<'_, Self::Local>,
            inner: $crate::backend::text::Text,
        ) -> $crate::backend::text::Text {
            $tokens.not(inner)
        }
    };
}
pub(crate) use text_hooks;
