//! rmmc: one normalized spec per RMM tool → KQL (with Microsoft Sentinel YAML), Sigma, Splunk
//! SPL (with savedsearches.conf) and Elastic EQL (with Kibana rules), through a typed IR with
//! a reference interpreter.
//!
//! Data flows one way: `spec` (load + validate) → `ir` (lower) → `backend` (text) →
//! `render` (wrappers) → `build` (files). Beside it: `eval` parses and runs the emitted text
//! (never the IR); `verify` proves every backend's artifacts agree with the IR; `lint` checks
//! artifacts against the products' published rule schemas; `diff` compares a build with
//! committed artifacts; `import` drafts specs from Sentinel hunting queries and the LOLRMM
//! catalogue. Diagnostics are data (`diag`); only the CLI (`cli`) prints.

/// Print command output to stdout (like `print!`), never panicking: a reader that went away
/// (EPIPE, e.g. `rmmc explain | head -1`) ends the process quietly with exit 0; any other
/// write error (e.g. ENOSPC on a full disk) prints one line to stderr and exits 2. See
/// `cli::output::write_stdout`.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::output::write_stdout(format_args!($($t)*))
    };
}

/// `out!` with a newline, like `println!`.
macro_rules! outln {
    () => {
        $crate::cli::output::write_stdout(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($t)*)))
    };
}

pub mod ack;
pub mod backend;
pub mod build;
pub mod cli;
pub mod diag;
pub(crate) mod diff;
pub mod eval;
pub mod fuzzing;
pub(crate) mod import;
pub(crate) mod input;
pub mod ir;
pub mod lint;
pub mod mapping;
pub mod mappings;
pub mod render;
pub mod spec;
pub mod verify;
