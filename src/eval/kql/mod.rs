//! KQL: lexer → parser → AST → interpreter, for the subset rmmc emits and the seeds use.

pub mod ast;
pub mod bind;
pub mod interp;
pub mod lexer;
pub mod parser;
