//! `kafkactl manifest check [-f FILE] [-o json]`: the manifest validated offline (no host, no
//! Kafka, no systemd) and its consumers printed as resolved, for a CI pre-merge step.

use super::Context;
use crate::cli::{ManifestCheckArgs, OutputFormat};
use crate::manifest::{ConsumerSpec, Manifest};
use anyhow::Result;
use serde::Serialize;

/// What `manifest check -o json` prints (docs/schemas/manifest-check.json).
#[derive(Debug, Serialize)]
struct Checked<'a> {
    /// The manifest's path as given.
    manifest: String,
    /// The app name (consumer groups are `<app>-<name>`).
    app: &'a str,
    /// Every consumer, with `defaults:` applied.
    consumers: Vec<ConsumerView<'a>>,
}

/// One consumer as the workers will run it: the manifest's resolved entry, its group and
/// its hosts.
#[derive(Debug, Serialize)]
struct ConsumerView<'a> {
    /// The consumer group, `<app>-<name>`.
    group: String,
    /// The hosts it is placed on (`user@address:port`); empty: this machine.
    hosts: Vec<String>,
    /// The resolved entry.
    #[serde(flatten)]
    spec: &'a ConsumerSpec,
}

/// Exit 0 when the manifest is valid (2 with every problem, file:line:column, when not:
/// through [`Context::manifest`], like every command).
pub(super) fn check(ctx: &Context, args: &ManifestCheckArgs) -> Result<u8> {
    let manifest = ctx.manifest(true)?.expect("required");
    let checked = view(ctx, &manifest);
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&checked)?),
        OutputFormat::Table => {
            println!(
                "{}: valid: {} consumer(s), app {}",
                checked.manifest,
                checked.consumers.len(),
                checked.app
            );
            let rows: Vec<Vec<String>> = checked
                .consumers
                .iter()
                .map(|c| {
                    vec![
                        c.spec.name.clone(),
                        c.group.clone(),
                        c.spec.topics.join(","),
                        c.spec.scale.to_string(),
                        if c.hosts.is_empty() {
                            "this machine".to_string()
                        } else {
                            c.hosts.join(",")
                        },
                        c.spec
                            .command
                            .as_ref()
                            .map_or("-".to_string(), |c| c.argv().join(" ")),
                    ]
                })
                .collect();
            print!(
                "{}",
                crate::control::output::plain_table(
                    &["NAME", "GROUP", "TOPICS", "SCALE", "HOSTS", "COMMAND"],
                    &rows
                )
            );
        }
    }
    Ok(0)
}

fn view<'a>(ctx: &Context, manifest: &'a Manifest) -> Checked<'a> {
    Checked {
        manifest: ctx.manifest.display().to_string(),
        app: &manifest.app,
        consumers: manifest
            .consumers
            .iter()
            .map(|c| ConsumerView {
                group: c.group_id(&manifest.app),
                hosts: manifest
                    .hosts_for(c)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                spec: c,
            })
            .collect(),
    }
}
