//! The man pages: `kafkactl.1` and one `kafkactl-SUBCOMMAND.1` per subcommand, rendered from
//! the clap definitions (clap_mangen) with an EXIT STATUS section from [`crate::error`], so
//! the pages cannot drift from the flags or the codes.

use crate::cli::Cli;
use clap::CommandFactory;
use clap_mangen::Man;

/// Every page as (file name, roff), `kafkactl.1` first. Hidden subcommands get none.
pub(crate) fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    // Building names each subcommand as its page: display name `kafkactl-dev-broker`, binary
    // name `kafkactl dev broker`.
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    collect(&root, &mut pages)?;
    Ok(pages)
}

/// `cmd`'s page, then its subcommands'.
fn collect(cmd: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    pages.push((format!("{name}.1"), page(cmd, &name)?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, pages)?;
    }
    Ok(())
}

/// One page: clap_mangen's sections, the help's examples as EXAMPLES (clap_mangen would
/// title them EXTRA), then EXIT STATUS.
fn page(cmd: &clap::Command, title: &str) -> std::io::Result<Vec<u8>> {
    let man = Man::new(cmd.clone()).title(title.to_string());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    if let Some(after) = cmd.get_after_help() {
        let text = after.to_string();
        let examples = text.strip_prefix("Examples:\n").unwrap_or(&text);
        out.extend_from_slice(b".SH EXAMPLES\n.nf\n");
        for line in examples.lines() {
            out.extend_from_slice(format!("{}\n", roff_text(line.trim_start())).as_bytes());
        }
        out.extend_from_slice(b".fi\n");
    }
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in crate::error::EXIT_TABLE {
        out.extend_from_slice(format!(".TP\n{code}\n{}\n", roff_text(meaning)).as_bytes());
    }
    out.extend_from_slice(
        format!(".PP\n{}\n", roff_text(crate::error::EXIT_CHECK_NOTE)).as_bytes(),
    );
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Text safe in a roff body line: backslashes doubled, a leading dot or quote escaped.
fn roff_text(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_subcommand_has_a_page_with_examples_and_exit_status() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        for expected in [
            "kafkactl.1",
            "kafkactl-spawn.1",
            "kafkactl-disable-and-stop.1",
            "kafkactl-deploy.1",
            "kafkactl-manifest-check.1",
            "kafkactl-dev-broker.1",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        assert!(
            !names.contains(&"kafkactl-manpage.1"),
            "hidden commands get no page"
        );
        for (name, roff) in &pages {
            let text = String::from_utf8_lossy(roff);
            assert!(text.contains(".SH \"EXIT STATUS\""), "{name}");
            assert!(
                text.contains("\\-\\-dry\\-run: something would change"),
                "{name}"
            );
        }
        let deploy = pages
            .iter()
            .find(|(n, _)| n == "kafkactl-deploy.1")
            .unwrap();
        let deploy = String::from_utf8_lossy(&deploy.1);
        assert!(deploy.contains(".SH EXAMPLES"), "{deploy}");
        assert!(
            deploy.contains(r"kafkactl deploy \-\-dry\-run \-o json"),
            "{deploy}"
        );
    }
}
