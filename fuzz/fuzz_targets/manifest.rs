//! Fuzzes the manifest loader, `Manifest::parse` (src/manifest/): the YAML parser, the tree
//! walk and every validation rule, on text a person (or a bad merge) could commit.
//!
//! Invariants checked for every input that is UTF-8:
//! - loading never panics, nor does anything a command then asks of a loaded manifest
//!   (`check_runnable`, the fleet, each consumer's hosts);
//! - a refusal names at least one problem, each at a position inside the text (line 1 to
//!   the number of lines + 1, lines broken as YAML breaks them, column from 1), and renders
//!   as one `fuzz.yml:LINE:COL: ...` line per problem.
#![no_main]

use kafkactl::testing::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Manifest::parse(text, "fuzz.yml") {
        Ok(manifest) => {
            let _ = manifest.check_runnable();
            let _ = manifest.fleet();
            for consumer in &manifest.consumers {
                let _ = manifest.hosts_for(consumer);
            }
        }
        Err(err) => {
            let problems = err.problems();
            assert!(!problems.is_empty(), "a refusal without a problem");
            // Lines as YAML counts them: a lone `\r` breaks a line too.
            let lines = text.replace("\r\n", "\n").matches(['\n', '\r']).count() + 1;
            for problem in problems {
                assert!(
                    problem.pos.line >= 1 && problem.pos.line <= lines.max(1),
                    "line {} outside a text of {lines} lines",
                    problem.pos.line
                );
                assert!(problem.pos.column >= 1, "column 0");
            }
            let rendered = err.to_string();
            assert_eq!(rendered.lines().count(), problems.len(), "{rendered}");
            assert!(
                rendered.lines().all(|l| l.starts_with("fuzz.yml:")),
                "{rendered}"
            );
        }
    }
});
