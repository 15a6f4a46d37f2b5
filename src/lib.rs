//! rmmc: one normalized spec per RMM tool → KQL + Microsoft Sentinel YAML (and, as the
//! backends grow, Sigma, SPL and EQL), through a typed IR with a reference interpreter.
//!
//! Data flows one way: `spec` (load + validate) → `ir` (lower) → `backend` (text) →
//! `render` (wrappers) → `build` (files). Diagnostics are data (`diag`); only the CLI prints.

pub mod backend;
pub mod build;
pub mod cli;
mod cli_import;
mod cli_verify;
pub mod diag;
pub mod diff;
pub mod eval;
pub mod fuzzing;
pub mod import;
pub mod ir;
pub mod lint;
pub mod mapping;
pub mod render;
pub mod spec;
pub mod verify;
