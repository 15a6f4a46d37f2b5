//! Evaluators for emitted artifacts. They read artifact TEXT only (never the IR), so that
//! agreeing with the IR proves something: a parser and an interpreter each for KQL, SPL and
//! EQL (Sigma rules run on the sigma-rust engine), one parser front-end for the three
//! languages (`syntax`), one interface over the four (`engine`), the streaming run of
//! `rmmc eval` over exports (`stream`), and RFC 3339 times (`time`).

pub(crate) mod engine;
pub mod eql;
pub(crate) mod keys;
pub mod kql;
pub mod spl;
pub(crate) mod stream;
pub mod syntax;
pub mod time;
