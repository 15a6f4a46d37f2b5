//! KQL: lexer (parser and interpreter to follow).

pub mod lexer;
