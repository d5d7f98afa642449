//! Fuzzes the manifest loader, `Manifest::parse` (src/manifest/): the YAML parser, the tree
//! walk and every validation rule, on text a person (or a bad merge) could commit.
//!
//! Invariants checked for every input that is UTF-8:
//! - loading never panics, nor does anything a command then asks of a loaded manifest
//!   (`check_runnable`, the fleet, each consumer's hosts);
//! - a refusal names at least one problem, each at a position inside the text (line 1 to
//!   the number of lines + 1, lines broken as YAML breaks them, column from 1), and renders
//!   as one `fuzz.yml:LINE:COL: ...` line per problem.
//!
//! The checks live in the library (src/fuzz_checks.rs) so that the integration tests replay
//! the committed corpus through the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kafkactl::testing::fuzz::manifest::check(data));
