//! `kafkactl lag [-c NAME] [-o table|json]`: every consumer group's lag per partition, read
//! from the brokers.

use super::{check_consumer_name, usage, Context};
use crate::cli::{LagArgs, OutputFormat};
use crate::health::groups::read_groups;
use crate::health::output::{lag_notes, lag_table};
use crate::health::{group_queries, split_readings};
use anyhow::Result;

/// `kafkactl lag`: exit 0, or 1 when a group could not be read (said on stderr).
pub(super) async fn lag(ctx: &Context, args: &LagArgs) -> Result<u8> {
    check_consumer_name(args.consumer.as_deref())?;
    let manifest = ctx.manifest(true)?.expect("required");
    let queries = group_queries(&manifest, args.consumer.as_deref(), &args.kafka).map_err(usage)?;
    if queries.is_empty() {
        return Err(usage(format!(
            "{}: no consumer with a `topic:` to read lag for",
            manifest.path.display()
        )));
    }
    let names: Vec<String> = queries.iter().map(|q| q.group.clone()).collect();
    let (groups, failed) = split_readings(names, read_groups(queries).await);
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&groups)?),
        OutputFormat::Table => {
            if !groups.is_empty() {
                println!("{}", lag_table(&groups));
            }
            for note in lag_notes(&groups) {
                println!("note: {note}");
            }
        }
    }
    for why in &failed {
        eprintln!("kafkactl: {why}");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}
