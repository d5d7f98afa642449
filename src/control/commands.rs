//! The control-plane subcommands on this host: `spawn`, `stop`, `restart`,
//! `disable-and-stop`, `status` and `install-units`, from parsed arguments to an exit code.

use super::output::{self, ConsoleProgress, StatusRow};
use super::{apply, instance_statuses, observe, require_template};
use crate::cli::{DisableArgs, InstallArgs, OutputFormat, SpawnArgs, StatusArgs, TargetArgs};
use crate::error::Failure;
use crate::manifest::Manifest;
use crate::plan::{self, Desired, PlanOptions, Step};
use crate::systemd::{DbusSystemd, Scope, SystemdManager};
use crate::units::{render_units, valid_name, RunAs, Target, UnitSettings};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Exit code of `status` when an instance is not active (as `systemctl status` uses).
pub const EXIT_NOT_ACTIVE: u8 = 3;

/// Global settings the control commands share.
#[derive(Debug, Clone)]
pub struct ControlContext {
    /// System or user manager.
    pub scope: Scope,
    /// The manifest path (`-f`).
    pub manifest: PathBuf,
    /// Whether `-f`/`KAFKACTL_MANIFEST` named it (then it must exist).
    pub manifest_explicit: bool,
}

impl ControlContext {
    /// The `install-units` command for this scope, for messages.
    fn install_hint(&self) -> &'static str {
        match self.scope {
            Scope::User => "kafkactl --user install-units",
            Scope::System => "kafkactl install-units",
        }
    }

    /// Loads and validates the manifest; `Ok(None)` when it is optional and absent.
    pub fn manifest(&self, required: bool) -> Result<Option<Manifest>> {
        if !self.manifest.exists() && !required && !self.manifest_explicit {
            return Ok(None);
        }
        Manifest::load(&self.manifest)
            .map(Some)
            .map_err(|e| Failure::Usage(e.to_string()).into())
    }
}

/// Connects to this host's systemd manager.
pub async fn connect(scope: Scope) -> Result<DbusSystemd> {
    let systemd = match scope {
        Scope::User => DbusSystemd::connect_user().await,
        Scope::System => DbusSystemd::connect_system().await,
    }?;
    systemd.check_manager().await?;
    Ok(systemd)
}

fn check_name(name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "'{name}' is not a valid consumer name (lowercase letters, digits and '_')"
        ))
        .into())
    }
}

/// `spawn [-c NAME] [-w N]`: NAME:1..N enabled and started, instances above N stopped and
/// disabled; every consumer of the manifest without `-c`.
pub async fn spawn<S: SystemdManager>(
    ctx: &ControlContext,
    systemd: &S,
    args: &SpawnArgs,
) -> Result<u8> {
    if let Some(name) = &args.consumer {
        check_name(name)?;
    }
    // Validated before anything is touched, even when -c/-w make it unnecessary.
    let manifest = ctx.manifest(args.consumer.is_none() || args.workers.is_none())?;
    let desired: Vec<Desired> = match (&args.consumer, args.workers) {
        (Some(name), Some(scale)) => vec![Desired {
            name: name.clone(),
            scale,
        }],
        (Some(name), None) => {
            let manifest = manifest.as_ref().expect("required above");
            let spec = manifest.consumer(name).ok_or_else(|| {
                Failure::Usage(format!(
                    "consumer '{name}' is not in {}; pass -w N or add it to the manifest",
                    ctx.manifest.display()
                ))
            })?;
            vec![Desired {
                name: name.clone(),
                scale: spec.scale,
            }]
        }
        (None, Some(_)) => {
            return Err(Failure::Usage(
                "-w needs -c NAME (without -c every consumer gets the manifest's scale)".into(),
            )
            .into())
        }
        (None, None) => Desired::every_consumer(manifest.as_ref().expect("required above")),
    };
    let observed = observe(systemd).await?;
    let scoped: Vec<_> = observed
        .into_iter()
        .filter(|o| desired.iter().any(|d| d.name == o.instance.name) || args.consumer.is_none())
        .collect();
    let plan = plan::reconcile(&desired, &scoped, PlanOptions::default());
    for orphan in &plan.orphans {
        eprintln!(
            "note: {} is running but not in the manifest (deploy --prune removes it)",
            orphan.unit()
        );
    }
    if plan.is_empty() {
        println!("nothing to do: {}", summary(&desired));
        return Ok(0);
    }
    if !plan.instances(Step::Enable).is_empty() || !plan.instances(Step::Start).is_empty() {
        require_template(systemd, ctx.install_hint())
            .await
            .map_err(Failure::Usage)?;
    }
    finish(apply(systemd, &plan, &ConsoleProgress::new()).await)
}

fn summary(desired: &[Desired]) -> String {
    desired
        .iter()
        .map(|d| format!("{} at scale {}", d.name, d.scale))
        .collect::<Vec<_>>()
        .join(", ")
}

fn finish(report: super::ApplyReport) -> Result<u8> {
    print!("{}", output::report_text(&report));
    Ok(if report.succeeded() { 0 } else { 1 })
}

fn target(arg: &str) -> Result<Target> {
    Target::parse(arg).map_err(|e| Failure::Usage(e).into())
}

/// `stop -c NAME[:K]` and `restart -c NAME[:K]`.
pub async fn stop_or_restart<S: SystemdManager>(
    systemd: &S,
    args: &TargetArgs,
    step: Step,
) -> Result<u8> {
    let target = target(&args.consumer)?;
    let observed = observe(systemd).await?;
    if !observed.iter().any(|o| target.matches(&o.instance)) {
        return Err(Failure::Usage(format!(
            "no kafka-consumer instance matches '{}'",
            args.consumer
        ))
        .into());
    }
    let plan = plan::each(&observed, &target, step);
    if plan.is_empty() {
        println!(
            "nothing to do: no instance of '{}' is running",
            args.consumer
        );
        return Ok(0);
    }
    finish(apply(systemd, &plan, &ConsoleProgress::new()).await)
}

/// `disable-and-stop [-c NAME]`.
pub async fn disable_and_stop<S: SystemdManager>(systemd: &S, args: &DisableArgs) -> Result<u8> {
    let target = args.consumer.as_deref().map(target).transpose()?;
    let observed = observe(systemd).await?;
    let plan = plan::disable_and_stop(&observed, target.as_ref());
    if plan.is_empty() {
        println!("nothing to do: no kafka-consumer instance is enabled or running");
        return Ok(0);
    }
    finish(apply(systemd, &plan, &ConsoleProgress::new()).await)
}

/// `status [-c NAME] [-o table|json]`: exit 0 only when every listed instance is active.
pub async fn status<S: SystemdManager>(systemd: &S, args: &StatusArgs) -> Result<u8> {
    if let Some(name) = &args.consumer {
        check_name(name)?;
    }
    let rows: Vec<StatusRow> = instance_statuses(systemd, args.consumer.as_deref())
        .await?
        .into_iter()
        .map(|(instance, status)| StatusRow::new("localhost", &instance, status))
        .collect();
    print_status(&rows, args.output, false)
}

/// Prints status rows as a table (with a host column for a fleet) or JSON, and returns the
/// exit code: 0 when every instance is active, else [`EXIT_NOT_ACTIVE`].
pub fn print_status(rows: &[StatusRow], format: OutputFormat, host_column: bool) -> Result<u8> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(rows)?),
        OutputFormat::Table if rows.is_empty() => println!("no kafka-consumer instances"),
        OutputFormat::Table => println!(
            "{}",
            output::status_table(rows, host_column, output::color_enabled())
        ),
    }
    Ok(if rows.iter().all(StatusRow::is_active) {
        0
    } else {
        EXIT_NOT_ACTIVE
    })
}

/// What `install-units` writes into the units: `--kafkactl` (else this binary), the manifest,
/// `--workdir` (else the current directory) and `--proxy-config`, as absolute paths.
pub fn unit_settings(ctx: &ControlContext, args: &InstallArgs) -> Result<UnitSettings> {
    let cwd = std::env::current_dir()?;
    let absolute = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let kafkactl = match &args.kafkactl {
        Some(path) => absolute(path),
        None => std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .context("finding the kafkactl binary")?,
    };
    Ok(UnitSettings {
        kafkactl,
        manifest: absolute(&ctx.manifest),
        workdir: args
            .workdir
            .as_deref()
            .map_or_else(|| cwd.clone(), absolute),
        proxy_config: absolute(&args.proxy_config),
        scope: ctx.scope,
        run_as: run_as(ctx, args)?,
    })
}

/// Who the consumers run as: `--run-as`, else the manifest's `run_as:`. The system scope needs
/// one (a unit without `User=` runs its handler as root); root itself must be named, and is
/// warned about. A user manager runs everything as its own user.
fn run_as(ctx: &ControlContext, args: &InstallArgs) -> Result<Option<RunAs>> {
    if ctx.scope == Scope::User {
        return Ok(None);
    }
    let run_as = match &args.run_as {
        Some(run_as) => run_as.clone(),
        None => match ctx.manifest(false)?.and_then(|m| m.run_as) {
            Some(run_as) => run_as,
            None => {
                return Err(Failure::Usage(format!(
                    "say which user the consumers' handlers run as: --run-as USER[:GROUP], or \
                     `run_as: USER` in {}. Without it systemd would run them as root; if that \
                     is really wanted, say --run-as root",
                    ctx.manifest.display()
                ))
                .into())
            }
        },
    };
    if run_as.is_root() {
        eprintln!(
            "kafkactl: warning: consumers and their handlers will run as root (--run-as root): \
             any bug in a handler has the whole host; prefer the app's own user"
        );
    }
    Ok(Some(run_as))
}

/// `install-units`: writes the unit files with this binary's path filled in, then reloads.
pub async fn install_units<S: SystemdManager>(
    ctx: &ControlContext,
    systemd: &S,
    args: &InstallArgs,
) -> Result<u8> {
    let settings = unit_settings(ctx, args)?;
    let dir = ctx.scope.unit_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in render_units(&settings) {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    systemd.reload().await?;
    println!("systemd reloaded");
    Ok(0)
}
