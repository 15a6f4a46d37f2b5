//! Evaluators for emitted artifacts. They read artifact TEXT only (never the IR), so that
//! agreeing with the IR proves something. So far: the KQL lexer, shared by the seed
//! equivalence checks; parsers and interpreters build on it.

pub mod eql;
pub mod kql;
pub mod spl;
pub mod stream;
pub mod syntax;
pub mod time;
