//! The command line, defined in one place with clap. Validation beyond what clap checks lives
//! with the code that owns each setting.

use crate::dev::broker::TopicSpec;
use crate::units::RunAs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run Kafka consumers on a fleet of Linux servers.
#[derive(Debug, Parser)]
#[command(name = "kafkactl", version, about, long_about = None, propagate_version = true,
          after_long_help = crate::error::exit_table_text())]
pub struct Cli {
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter)
    #[arg(long, global = true, env = "KAFKACTL_LOG", default_value = "info", help_heading = GLOBAL)]
    pub log: String,

    /// Talk to the calling user's systemd manager instead of the system manager
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub user: bool,

    /// The consumer manifest [default: config/kafka_consumers.yml]
    #[arg(short = 'f', long, global = true, env = "KAFKACTL_MANIFEST", help_heading = GLOBAL)]
    pub manifest: Option<PathBuf>,

    /// What to run
    #[command(subcommand)]
    pub command: Command,
}

// Every subcommand's help ends with examples (a test holds each to it).
const PROXY_EXAMPLES: &str = "Examples:\n  kafkactl proxy --brokers kafka1:9092\n  kafkactl proxy --config /etc/kafkactl/proxy.json --listen 0.0.0.0:6380 --requirepass-file /etc/kafkactl/proxy.pass\n  redis-cli -p 6380 rpushx topics:price_drops hello\n";
const WORKER_EXAMPLES: &str = "Examples:\n  kafkactl -f config/kafka_consumers.yml worker price_drops:1   # as systemd runs it\n  systemctl start kafka-consumer@price_drops:1\n";
const SPAWN_EXAMPLES: &str = "Examples:\n  kafkactl spawn                          # every consumer at its manifest scale\n  kafkactl spawn -c price_drops -w 2\n  kafkactl spawn -c price_drops -w 1 --dry-run   # exit 4: it would stop :2\n";
const STOP_EXAMPLES: &str = "Examples:\n  kafkactl stop -c price_drops:2\n  kafkactl stop -c price_drops --fleet --yes\n  kafkactl stop -c price_drops --hosts deploy@10.0.0.5 --dry-run -o json\n";
const RESTART_EXAMPLES: &str = "Examples:\n  kafkactl restart -c price_drops            # one instance at a time\n  kafkactl restart -c price_drops --fleet --batch-size 2\n  kafkactl restart -c price_drops:1 --hosts deploy@10.0.0.5 --yes\n";
const DISABLE_EXAMPLES: &str = "Examples:\n  kafkactl disable-and-stop                 # the manifest's consumers only\n  kafkactl disable-and-stop -c price_drops --dry-run\n  kafkactl disable-and-stop --all --yes     # every kafka-consumer@ instance\n";
const STATUS_EXAMPLES: &str = "Examples:\n  kafkactl status\n  kafkactl status -c price_drops --lag\n  kafkactl status --fleet -o json\n  kafkactl status --watch 5\n";
const LAG_EXAMPLES: &str = "Examples:\n  kafkactl lag\n  kafkactl lag -c price_drops -o json\n  kafkactl lag --window 60\n";
const LOGS_EXAMPLES: &str = "Examples:\n  kafkactl logs -c price_drops -n 100\n  kafkactl logs --fleet --since -1h\n  kafkactl logs -c price_drops:1 -F\n";
const CHECK_EXAMPLES: &str = "Examples:\n  kafkactl check --lag-warning 1000 --lag-critical 10000\n  kafkactl check --fleet --inactive-critical 0 --window 60\n";
const TOP_EXAMPLES: &str = "Examples:\n  kafkactl top\n  kafkactl top --fleet -c price_drops\n";
const DEPLOY_EXAMPLES: &str = "Examples:\n  kafkactl deploy\n  kafkactl deploy --dry-run -o json      # exit 4 when a host drifted\n  kafkactl deploy -c price_drops --batch-size 2\n  kafkactl deploy --prune --yes\n";
const INSTALL_EXAMPLES: &str = "Examples:\n  kafkactl install-units --workdir /srv/myapp/current --run-as app\n  kafkactl --user install-units --print\n  kafkactl install-units --fleet --kafkactl /usr/bin/kafkactl\n";
const MANIFEST_CHECK_EXAMPLES: &str = "Examples:\n  kafkactl manifest check\n  kafkactl -f config/kafka_consumers.yml manifest check -o json\n";
const COMPLETIONS_EXAMPLES: &str =
    "Examples:\n  kafkactl completions bash > /etc/bash_completion.d/kafkactl\n";
const BROKER_EXAMPLES: &str =
    "Examples:\n  kafkactl dev broker --topic price_drops:8 --address-file /tmp/broker\n";
const MANPAGE_EXAMPLES: &str = "Examples:\n  kafkactl manpage --dir /usr/share/man/man1\n";

/// The help heading of the options every subcommand takes.
const GLOBAL: &str = "Global options";

/// Output formats of reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people
    Table,
    /// JSON for programs
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Rafka-compatible Kafka gateway (Redis protocol)
    Proxy(ProxyArgs),
    /// Run one consumer instance (what systemd's kafka-consumer@NAME:N starts)
    Worker(WorkerArgs),
    /// Enable and start consumer instances NAME:1..N, stopping those above N
    Spawn(SpawnArgs),
    /// Stop consumer instances, here or across the fleet
    Stop(StopArgs),
    /// Restart consumer instances, rolling, here or across the fleet
    Restart(RestartArgs),
    /// Stop and disable the manifest's consumer instances (every one with --all)
    DisableAndStop(DisableArgs),
    /// Show consumer instances
    Status(StatusArgs),
    /// Show consumer groups' lag per partition (committed offset, high watermark, member)
    Lag(LagArgs),
    /// Show consumer instances' journald logs, merged across hosts in time order
    Logs(LogsArgs),
    /// Icinga/Nagios plugin: instances, restarts and lag against thresholds (exit 0/1/2/3)
    Check(CheckArgs),
    /// Live full-screen view of consumer instances and their groups (a terminal only)
    Top(TopArgs),
    /// Reconcile the manifest on every host of the fleet
    Deploy(DeployArgs),
    /// Install kafkactl's systemd unit files and reload systemd
    InstallUnits(InstallArgs),
    /// Work with the manifest offline
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Write the man pages (roff): kafkactl.1 and one per subcommand
    #[command(hide = true)]
    Manpage(ManpageArgs),
    /// Development tools
    #[command(subcommand)]
    Dev(DevCommand),
}

/// `kafkactl proxy`
#[derive(Debug, Args)]
#[command(after_help = PROXY_EXAMPLES)]
pub struct ProxyArgs {
    /// Address to listen on, IP:PORT (binding beyond loopback is an explicit choice)
    #[arg(long, env = "KAFKACTL_PROXY_LISTEN", default_value = "127.0.0.1:6380", value_parser = listen_address)]
    pub listen: SocketAddr,

    /// Rafka JSON config file: {"general": {...}, "consumer": {...}, "producer": {...}}
    /// (no short flag: -c names a consumer everywhere else)
    #[arg(long, value_name = "FILE", env = "KAFKACTL_PROXY_CONFIG")]
    pub config: Option<PathBuf>,

    /// Bootstrap servers, overriding the config file's bootstrap.servers
    #[arg(long, env = "KAFKACTL_BROKERS")]
    pub brokers: Option<String>,

    /// Require clients to AUTH with this password first (an empty one is refused: it would
    /// look like protection and be none)
    #[arg(long, env = "KAFKACTL_PROXY_REQUIREPASS", hide_env_values = true, value_parser = non_empty_password)]
    pub requirepass: Option<String>,

    /// Read the password from FILE (its first line), so it appears in no process list or
    /// environment. Under systemd the credential `requirepass` (LoadCredential=) is read
    /// without this flag
    #[arg(
        long,
        value_name = "FILE",
        env = "KAFKACTL_PROXY_REQUIREPASS_FILE",
        conflicts_with = "requirepass"
    )]
    pub requirepass_file: Option<PathBuf>,

    /// Most client connections at once
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Most Kafka consumers (connections that ran BLPOP) at once; each holds a librdkafka
    /// client with its threads and buffers
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_consumers: u32,

    /// With --requirepass: seconds a connection may take to authenticate before it is closed
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub auth_timeout: u64,

    /// Seconds a reply may wait for a client that stops reading before the connection is
    /// closed (so neither memory nor the shutdown waits on it)
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub write_timeout: u64,

    /// Largest bulk string (message) accepted, in bytes
    #[arg(long, default_value_t = 32 * 1024 * 1000, value_parser = clap::value_parser!(u32).range(1..=512 * 1024 * 1024))]
    pub max_bulk_bytes: u32,

    /// Most unparsed input one connection may hold, in bytes (Redis's
    /// client-query-buffer-limit); at least --max-bulk-bytes + 64 KiB
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=4 * 1024 * 1024 * 1024))]
    pub max_query_buffer: u64,

    /// Most unparsed input all connections together may hold, in bytes; the connection whose
    /// read goes over it is closed
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=64 * 1024 * 1024 * 1024))]
    pub max_total_query_buffer: u64,

    /// BLPOP timeout in seconds when the client's timeout is not an integer
    #[arg(long, default_value_t = 5)]
    pub blpop_default_timeout: u64,

    /// How long RPUSHX waits for room when the producer queue is full, in ms
    #[arg(long, default_value_t = 5_000)]
    pub produce_block_ms: u64,

    /// Deadline for the whole shutdown, in seconds
    #[arg(long, default_value_t = 30)]
    pub shutdown_timeout: u64,
}

/// `kafkactl worker`
#[derive(Debug, Args)]
#[command(after_help = WORKER_EXAMPLES)]
pub struct WorkerArgs {
    /// The instance: NAME:N, as in kafka-consumer@NAME:N
    pub instance: String,
    /// Kafka bootstrap servers, overriding the manifest's `brokers:`
    #[arg(long, env = "KAFKACTL_BROKERS")]
    pub brokers: Option<String>,
    /// Send metrics to this statsd HOST:PORT, overriding the manifest's `statsd:`
    #[arg(long, env = "KAFKACTL_STATSD")]
    pub statsd: Option<String>,
    /// Serve Prometheus text metrics on IP:PORT+N (N is the instance number)
    #[arg(long, env = "KAFKACTL_METRICS_LISTEN", value_parser = listen_address)]
    pub metrics_listen: Option<SocketAddr>,
    /// After SIGTERM, seconds the batch in flight may still take
    #[arg(long, default_value_t = 20)]
    pub drain_timeout: u64,
    /// Seconds the handler may take to exit after `shutdown`, before SIGKILL
    #[arg(long, default_value_t = 5)]
    pub handler_grace: u64,
    /// Seconds the handler may take to answer `init`
    #[arg(long, default_value_t = 60)]
    pub ready_timeout: u64,
}

/// How commands that change instances run: plan only, ask or not, and how they report.
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Print the plan and change nothing (exit 4 when something would change, 0 when nothing
    /// would)
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask before stopping, disabling or restarting (only a terminal is asked)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Output format: the plan as a diff and a summary table, or one JSON document
    /// (docs/schemas/plan.json)
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `kafkactl spawn`
#[derive(Debug, Args)]
#[command(after_help = SPAWN_EXAMPLES)]
pub struct SpawnArgs {
    /// Consumer name (every consumer of the manifest when absent)
    #[arg(short = 'c', long)]
    pub consumer: Option<String>,
    /// Number of instances (the manifest's scale when absent)
    #[arg(short = 'w', long, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub workers: Option<u32>,
    /// Plan, ask, report
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// `kafkactl stop`
#[derive(Debug, Args)]
#[command(after_help = STOP_EXAMPLES)]
pub struct StopArgs {
    /// Which instances, where, and how
    #[command(flatten)]
    pub instances: InstancesArgs,
}

/// `kafkactl restart`
#[derive(Debug, Args)]
#[command(after_help = RESTART_EXAMPLES)]
pub struct RestartArgs {
    /// Which instances, where, and how
    #[command(flatten)]
    pub instances: InstancesArgs,
    /// Most instances of the consumer restarted at once across the hosts (never all of them)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch_size: u32,
}

/// The instances `stop` and `restart` act on: `-c NAME[:K]` on this machine, `--hosts` or
/// `--fleet`.
#[derive(Debug, Args)]
pub struct InstancesArgs {
    /// NAME or NAME:K
    #[arg(short = 'c', long, value_name = "NAME[:K]")]
    pub consumer: String,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// Plan, ask, report
    #[command(flatten)]
    pub change: ChangeArgs,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kafkactl disable-and-stop`
#[derive(Debug, Args)]
#[command(after_help = DISABLE_EXAMPLES)]
pub struct DisableArgs {
    /// NAME or NAME:K (every consumer of the manifest when absent)
    #[arg(short = 'c', long, value_name = "NAME[:K]")]
    pub consumer: Option<String>,
    /// Every kafka-consumer@ instance of the manager, whatever manifest it came from
    #[arg(long, conflicts_with = "consumer")]
    pub all: bool,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// Plan, ask, report
    #[command(flatten)]
    pub change: ChangeArgs,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kafkactl status`
#[derive(Debug, Args)]
#[command(after_help = STATUS_EXAMPLES)]
pub struct StatusArgs {
    /// Consumer name
    #[arg(short = 'c', long)]
    pub consumer: Option<String>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// Also show each instance's partitions: committed offset, high watermark, lag
    #[arg(long)]
    pub lag: bool,
    /// Reprint every SECS seconds (default 2) until Ctrl-C
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub watch: Option<u64>,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
    /// How to reach Kafka (with --lag)
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// `kafkactl top`
#[derive(Debug, Args)]
#[command(after_help = TOP_EXAMPLES)]
pub struct TopArgs {
    /// Consumer name (every consumer when absent)
    #[arg(short = 'c', long)]
    pub consumer: Option<String>,
    /// Seconds between refreshes
    #[arg(long, value_name = "SECS", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// Do not read lag from Kafka
    #[arg(long)]
    pub no_lag: bool,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
    /// How to reach Kafka
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// `kafkactl logs`
#[derive(Debug, Args)]
#[command(after_help = LOGS_EXAMPLES)]
pub struct LogsArgs {
    /// NAME or NAME:K (every consumer instance when absent)
    #[arg(short = 'c', long)]
    pub consumer: Option<String>,
    /// Also the proxy's log (kafkactl-proxy.service)
    #[arg(long)]
    pub proxy: bool,
    /// The newest N entries (of all selected hosts together)
    #[arg(short = 'n', long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub lines: u32,
    /// Only entries since TIME, as journalctl takes it ("2026-12-01 10:00", "-1h", "today")
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Keep printing new entries until Ctrl-C (`-F` as in `tail -F`: `-f` is the manifest,
    /// as in every kafkactl command)
    #[arg(short = 'F', long)]
    pub follow: bool,
    /// Output format: text lines, or one JSON object per entry
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// How monitoring commands reach Kafka.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers, overriding the manifest's `brokers:`
    #[arg(long, env = "KAFKACTL_BROKERS")]
    pub brokers: Option<String>,
    /// Seconds each request to the brokers may take
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub kafka_timeout: u64,
}

/// `kafkactl lag`
#[derive(Debug, Args)]
#[command(after_help = LAG_EXAMPLES)]
pub struct LagArgs {
    /// Consumer name (every consumer of the manifest when absent)
    #[arg(short = 'c', long)]
    pub consumer: Option<String>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Read twice, SECS seconds apart, and say whether each group is OK, LAGGING, STALLED or
    /// IDLE, with its commit rate
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub window: Option<u64>,
    /// How to reach Kafka
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// `kafkactl check`: every threshold is exceeded when the value is above it.
#[derive(Debug, Args)]
#[command(after_help = CHECK_EXAMPLES)]
pub struct CheckArgs {
    /// Consumer name (every consumer when absent)
    #[arg(short = 'c', long)]
    pub consumer: Option<String>,
    /// WARNING when a consumer group's total lag is above N
    #[arg(long, value_name = "N")]
    pub lag_warning: Option<u64>,
    /// CRITICAL when a consumer group's total lag is above N
    #[arg(long, value_name = "N")]
    pub lag_critical: Option<u64>,
    /// WARNING when more than N instances are not active
    #[arg(long, value_name = "N")]
    pub inactive_warning: Option<u64>,
    /// CRITICAL when more than N instances are not active
    #[arg(long, value_name = "N")]
    pub inactive_critical: Option<u64>,
    /// WARNING when an instance was restarted automatically more than N times (NRestarts)
    #[arg(long, value_name = "N")]
    pub restarts_warning: Option<u64>,
    /// CRITICAL when an instance was restarted automatically more than N times (NRestarts)
    #[arg(long, value_name = "N")]
    pub restarts_critical: Option<u64>,
    /// WARNING when more than N instances the manifest places on the hosts are not running
    /// [default: 0]
    #[arg(long, value_name = "N")]
    pub missing_warning: Option<u64>,
    /// CRITICAL when more than N wanted instances are not running [default: CRITICAL when
    /// every instance of some consumer is missing]
    #[arg(long, value_name = "N")]
    pub missing_critical: Option<u64>,
    /// Read the groups twice, SECS seconds apart: STALLED (lag and no commit moving) is
    /// CRITICAL, LAGGING (lag growing while committing) is WARNING
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub window: Option<u64>,
    /// Do not read lag from Kafka (instances and restarts only)
    #[arg(long)]
    pub no_lag: bool,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
    /// How to reach Kafka
    #[command(flatten)]
    pub kafka: KafkaArgs,
}

/// How fleet commands reach their hosts over SSH.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Host options")]
pub struct SshArgs {
    /// Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default
    /// the manifest's hosts)
    #[arg(long = "hosts", value_name = "HOST", value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]
    #[arg(long, env = "KAFKACTL_KNOWN_HOSTS", value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Accept the key of a host not in known_hosts yet, and record it there (a changed key is
    /// refused regardless)
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// SSH private key for hosts whose manifest entry names none [default: ssh-agent, then
    /// ~/.ssh/id_ed25519, id_ecdsa, id_rsa]
    #[arg(short = 'i', long, env = "KAFKACTL_SSH_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Seconds to connect to and authenticate with one host
    #[arg(long, default_value_t = 10, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,
    /// Hosts worked on at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parallel: u32,
}

impl SshArgs {
    /// The settings of a command that reaches no host over SSH (this machine only).
    pub fn this_machine_only() -> SshArgs {
        SshArgs {
            hosts: Vec::new(),
            known_hosts: None,
            accept_new_host_keys: false,
            identity: None,
            connect_timeout: 10,
            parallel: 1,
        }
    }
}

/// `kafkactl install-units`
#[derive(Debug, Args)]
#[command(after_help = INSTALL_EXAMPLES)]
pub struct InstallArgs {
    /// The proxy's Rafka JSON config, for kafkactl-proxy.service
    #[arg(long, default_value = "/etc/kafkactl/proxy.json")]
    pub proxy_config: PathBuf,
    /// The app's root, where consumers' handler commands run (default: the current directory)
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// The kafkactl binary the units run (default: this one's path; with --hosts, a path on
    /// the hosts)
    #[arg(long, value_name = "PATH")]
    pub kafkactl: Option<PathBuf>,
    /// Who consumers and their handlers run as in the system scope: USER or USER:GROUP
    /// (default: the manifest's `run_as:`). Running them as root takes `--run-as root`
    #[arg(long, value_name = "USER[:GROUP]", value_parser = RunAs::parse)]
    pub run_as: Option<RunAs>,
    /// Print the rendered unit files and write nothing
    #[arg(long)]
    pub print: bool,
    /// Replace a consumer template that was installed for another manifest or app directory
    /// (one app per systemd manager: see docs/operations.md)
    #[arg(long)]
    pub force: bool,
    /// Every host of the manifest (`hosts:` and `roles:`) instead of this one
    #[arg(long)]
    pub fleet: bool,
    /// How to reach hosts (with --hosts or --fleet)
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kafkactl manifest ...`
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Validate the manifest offline (no host, no Kafka) and print the consumers as resolved
    /// (exit 2 on errors): a CI pre-merge step
    Check(ManifestCheckArgs),
}

/// `kafkactl manifest check`
#[derive(Debug, Args)]
#[command(after_help = MANIFEST_CHECK_EXAMPLES)]
pub struct ManifestCheckArgs {
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `kafkactl manpage`
#[derive(Debug, Args)]
#[command(after_help = MANPAGE_EXAMPLES)]
pub struct ManpageArgs {
    /// Write kafkactl.1 and kafkactl-SUBCOMMAND.1 into DIR (else print kafkactl.1)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `kafkactl deploy`
#[derive(Debug, Args)]
#[command(after_help = DEPLOY_EXAMPLES)]
pub struct DeployArgs {
    /// Only this consumer of the manifest (its instances everywhere it is placed)
    #[arg(short = 'c', long, value_name = "NAME")]
    pub consumer: Option<String>,
    /// Plan, ask, report (--dry-run exits 4 when a host drifted from the manifest; planned
    /// rolling restarts alone are not drift)
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Stop and disable instances of consumers the manifest does not list (orphans)
    #[arg(long, conflicts_with = "consumer")]
    pub prune: bool,
    /// Most instances of one consumer restarted at once across the fleet (never all of them)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub batch_size: u32,
    /// Leave running instances running (no rolling restart)
    #[arg(long)]
    pub no_restart: bool,
    /// Deploy to hosts whose kafkactl version differs from this one's (refused otherwise)
    #[arg(long)]
    pub allow_version_skew: bool,
    /// How to reach the hosts
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kafkactl completions`
#[derive(Debug, Args)]
#[command(after_help = COMPLETIONS_EXAMPLES)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: clap_complete::Shell,
}

/// `kafkactl dev ...`
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Run an in-memory Kafka-protocol broker (librdkafka's mock cluster) for trying kafkactl
    /// and for tests
    Broker(BrokerArgs),
}

/// `kafkactl dev broker`
#[derive(Debug, Args)]
#[command(after_help = BROKER_EXAMPLES)]
pub struct BrokerArgs {
    /// Partitions of --topic entries given without a count (auto-created topics always get
    /// the mock cluster's fixed 4)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub partitions: i32,

    /// A topic to create at start: NAME or NAME:PARTITIONS (repeatable)
    #[arg(long = "topic", value_name = "NAME[:PARTITIONS]")]
    pub topics: Vec<TopicSpec>,

    /// Write the bootstrap address to this file (for scripts)
    #[arg(long)]
    pub address_file: Option<PathBuf>,

    /// Number of mock brokers
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=9))]
    pub broker_count: i32,

    /// Consumer groups' initial rebalance delay in ms (the mock's own default of 3000 keeps
    /// clients with session.timeout.ms under ~3 s from ever joining)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i32).range(0..=300_000))]
    pub rebalance_delay_ms: i32,

    /// Heartbeat interval for group.protocol=consumer members in ms (assignments propagate on
    /// heartbeats; the mock's own default is 3000)
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i32).range(50..=60_000))]
    pub consumer_heartbeat_ms: i32,

    /// Session timeout for group.protocol=consumer members in ms
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i32).range(1_000..=300_000))]
    pub consumer_session_timeout_ms: i32,
}

/// `--listen`, `--metrics-listen`: an IP address and port. A host name is refused with the
/// address to use instead: which of its addresses to bind would be a guess.
fn listen_address(value: &str) -> Result<SocketAddr, String> {
    value.parse().map_err(|_| {
        let port = value
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse::<u16>().ok())
            .unwrap_or(6380);
        format!(
            "'{value}' is not IP:PORT; give an address, e.g. 127.0.0.1:{port} (this host \
             only), [::1]:{port}, or 0.0.0.0:{port} (every interface)"
        )
    })
}

/// `--requirepass`: any non-empty password.
fn non_empty_password(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("the password is empty; leave --requirepass out to run without AUTH".into())
    } else {
        Ok(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn an_empty_password_is_refused_not_taken_as_no_auth() {
        let err = Cli::try_parse_from(["kafkactl", "proxy", "--requirepass", ""]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(err.to_string().contains("the password is empty"), "{err}");
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn seed_style_spawn_parses() {
        let cli =
            Cli::try_parse_from(["kafkactl", "spawn", "-c", "price_drops", "-w", "2"]).unwrap();
        match cli.command {
            Command::Spawn(args) => {
                assert_eq!(args.consumer.as_deref(), Some("price_drops"));
                assert_eq!(args.workers, Some(2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_listen_address_is_a_usage_error() {
        let err = Cli::try_parse_from(["kafkactl", "proxy", "--listen", "nowhere"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }
}
