# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kafkactl_global_optspecs
    string join \n log= user f/manifest= h/help V/version
end

function __fish_kafkactl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kafkactl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kafkactl_using_subcommand
    set -l cmd (__fish_kafkactl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kafkactl -n "__fish_kafkactl_needs_command" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_needs_command" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_needs_command" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "proxy" -d 'Run the Rafka-compatible Kafka gateway (Redis protocol)'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "worker" -d 'Run one consumer instance (what systemd\'s kafka-consumer@NAME:N starts)'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "spawn" -d 'Enable and start consumer instances NAME:1..N, stopping those above N'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "stop" -d 'Stop consumer instances, here or across the fleet'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "restart" -d 'Restart consumer instances, rolling, here or across the fleet'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "disable-and-stop" -d 'Stop and disable the manifest\'s consumer instances (every one with --all)'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "status" -d 'Show consumer instances'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "lag" -d 'Show consumer groups\' lag per partition (committed offset, high watermark, member)'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "logs" -d 'Show consumer instances\' journald logs, merged across hosts in time order'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "check" -d 'Icinga/Nagios plugin: instances, restarts and lag against thresholds (exit 0/1/2/3)'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "top" -d 'Live full-screen view of consumer instances and their groups (a terminal only)'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "deploy" -d 'Reconcile the manifest on every host of the fleet'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "install-units" -d 'Install kafkactl\'s systemd unit files and reload systemd'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "manifest" -d 'Work with the manifest offline'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "manpage" -d 'Write the man pages (roff): kafkactl.1 and one per subcommand'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "dev" -d 'Development tools'
complete -c kafkactl -n "__fish_kafkactl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l listen -d 'Address to listen on, IP:PORT (binding beyond loopback is an explicit choice)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l config -d 'Rafka JSON config file: {"general": {...}, "consumer": {...}, "producer": {...}} (no short flag: -c names a consumer everywhere else)' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l brokers -d 'Bootstrap servers, overriding the config file\'s bootstrap.servers' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l requirepass -d 'Require clients to AUTH with this password first (an empty one is refused: it would look like protection and be none)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l requirepass-file -d 'Read the password from FILE (its first line), so it appears in no process list or environment. Under systemd the credential `requirepass` (LoadCredential=) is read without this flag' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l max-connections -d 'Most client connections at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l max-consumers -d 'Most Kafka consumers (connections that ran BLPOP) at once; each holds a librdkafka client with its threads and buffers' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l auth-timeout -d 'With --requirepass: seconds a connection may take to authenticate before it is closed' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l write-timeout -d 'Seconds a reply may wait for a client that stops reading before the connection is closed (so neither memory nor the shutdown waits on it)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l max-bulk-bytes -d 'Largest bulk string (message) accepted, in bytes' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l max-query-buffer -d 'Most unparsed input one connection may hold, in bytes (Redis\'s client-query-buffer-limit); at least --max-bulk-bytes + 64 KiB' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l max-total-query-buffer -d 'Most unparsed input all connections together may hold, in bytes; the connection whose read goes over it is closed' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l blpop-default-timeout -d 'BLPOP timeout in seconds when the client\'s timeout is not an integer' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l produce-block-ms -d 'How long RPUSHX waits for room when the producer queue is full, in ms' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l shutdown-timeout -d 'Deadline for the whole shutdown, in seconds' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand proxy" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l brokers -d 'Kafka bootstrap servers, overriding the manifest\'s `brokers:`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l statsd -d 'Send metrics to this statsd HOST:PORT, overriding the manifest\'s `statsd:`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l metrics-listen -d 'Serve Prometheus text metrics on IP:PORT+N (N is the instance number)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l drain-timeout -d 'After SIGTERM, seconds the batch in flight may still take' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l handler-grace -d 'Seconds the handler may take to exit after `shutdown`, before SIGKILL' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l ready-timeout -d 'Seconds the handler may take to answer `init`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand worker" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s c -l consumer -d 'Consumer name (every consumer of the manifest when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s w -l workers -d 'Number of instances (the manifest\'s scale when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s o -l output -d 'Output format: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -l dry-run -d 'Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s y -l yes -d 'Do not ask before stopping, disabling or restarting (only a terminal is asked)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand spawn" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s c -l consumer -d 'NAME or NAME:K' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s o -l output -d 'Output format: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l dry-run -d 'Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s y -l yes -d 'Do not ask before stopping, disabling or restarting (only a terminal is asked)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand stop" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s c -l consumer -d 'NAME or NAME:K' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s o -l output -d 'Output format: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l batch-size -d 'Most instances of the consumer restarted at once across the hosts (never all of them)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l dry-run -d 'Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s y -l yes -d 'Do not ask before stopping, disabling or restarting (only a terminal is asked)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand restart" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s c -l consumer -d 'NAME or NAME:K (every consumer of the manifest when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s o -l output -d 'Output format: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l all -d 'Every kafka-consumer@ instance of the manager, whatever manifest it came from'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l dry-run -d 'Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s y -l yes -d 'Do not ask before stopping, disabling or restarting (only a terminal is asked)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand disable-and-stop" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -s c -l consumer -d 'Consumer name' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l watch -d 'Reprint every SECS seconds (default 2) until Ctrl-C' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l brokers -d 'Kafka bootstrap servers, overriding the manifest\'s `brokers:`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l kafka-timeout -d 'Seconds each request to the brokers may take' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l lag -d 'Also show each instance\'s partitions: committed offset, high watermark, lag'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand status" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -s c -l consumer -d 'Consumer name (every consumer of the manifest when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -l window -d 'Read twice, SECS seconds apart, and say whether each group is OK, LAGGING, STALLED or IDLE, with its commit rate' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -l brokers -d 'Kafka bootstrap servers, overriding the manifest\'s `brokers:`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -l kafka-timeout -d 'Seconds each request to the brokers may take' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand lag" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s c -l consumer -d 'NAME or NAME:K (every consumer instance when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s n -l lines -d 'The newest N entries (of all selected hosts together)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l since -d 'Only entries since TIME, as journalctl takes it ("2026-12-01 10:00", "-1h", "today")' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s o -l output -d 'Output format: text lines, or one JSON object per entry' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l proxy -d 'Also the proxy\'s log (kafkactl-proxy.service)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s F -l follow -d 'Keep printing new entries until Ctrl-C (`-F` as in `tail -F`: `-f` is the manifest, as in every kafkactl command)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand logs" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -s c -l consumer -d 'Consumer name (every consumer when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l lag-warning -d 'WARNING when a consumer group\'s total lag is above N' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l lag-critical -d 'CRITICAL when a consumer group\'s total lag is above N' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l inactive-warning -d 'WARNING when more than N instances are not active' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l inactive-critical -d 'CRITICAL when more than N instances are not active' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l restarts-warning -d 'WARNING when an instance was restarted automatically more than N times (NRestarts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l restarts-critical -d 'CRITICAL when an instance was restarted automatically more than N times (NRestarts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l missing-warning -d 'WARNING when more than N instances the manifest places on the hosts are not running [default: 0]' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l missing-critical -d 'CRITICAL when more than N wanted instances are not running [default: CRITICAL when every instance of some consumer is missing]' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l window -d 'Read the groups twice, SECS seconds apart: STALLED (lag and no commit moving) is CRITICAL, LAGGING (lag growing while committing) is WARNING' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l brokers -d 'Kafka bootstrap servers, overriding the manifest\'s `brokers:`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l kafka-timeout -d 'Seconds each request to the brokers may take' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l no-lag -d 'Do not read lag from Kafka (instances and restarts only)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand check" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -s c -l consumer -d 'Consumer name (every consumer when absent)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l interval -d 'Seconds between refreshes' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l brokers -d 'Kafka bootstrap servers, overriding the manifest\'s `brokers:`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l kafka-timeout -d 'Seconds each request to the brokers may take' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l no-lag -d 'Do not read lag from Kafka'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand top" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s c -l consumer -d 'Only this consumer of the manifest (its instances everywhere it is placed)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s o -l output -d 'Output format: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l batch-size -d 'Most instances of one consumer restarted at once across the fleet (never all of them)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l dry-run -d 'Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s y -l yes -d 'Do not ask before stopping, disabling or restarting (only a terminal is asked)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l prune -d 'Stop and disable instances of consumers the manifest does not list (orphans)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l no-restart -d 'Leave running instances running (no rolling restart)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l allow-version-skew -d 'Deploy to hosts whose kafkactl version differs from this one\'s (refused otherwise)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand deploy" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l proxy-config -d 'The proxy\'s Rafka JSON config, for kafkactl-proxy.service' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l workdir -d 'The app\'s root, where consumers\' handler commands run (default: the current directory)' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l kafkactl -d 'The kafkactl binary the units run (default: this one\'s path; with --hosts, a path on the hosts)' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l run-as -d 'Who consumers and their handlers run as in the system scope: USER or USER:GROUP (default: the manifest\'s `run_as:`). Running them as root takes `--run-as root`' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l hosts -d 'Hosts to act on, [user@]address[:port], comma-separated or repeated (deploy: default the manifest\'s hosts)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l known-hosts -d 'The known_hosts file host keys are checked against [default: ~/.ssh/known_hosts]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -s i -l identity -d 'SSH private key for hosts whose manifest entry names none [default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l connect-timeout -d 'Seconds to connect to and authenticate with one host' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l parallel -d 'Hosts worked on at once' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l print -d 'Print the rendered unit files and write nothing'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l force -d 'Replace a consumer template that was installed for another manifest or app directory (one app per systemd manager: see docs/operations.md)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l fleet -d 'Every host of the manifest (`hosts:` and `roles:`) instead of this one'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l accept-new-host-keys -d 'Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand install-units" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate the manifest offline (no host, no Kafka) and print the consumers as resolved (exit 2 on errors): a CI pre-merge step'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from check" -s o -l output -d 'Output format' -r -f -a "table\t'A table for people'
json\t'JSON for programs'"
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from check" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from check" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from check" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the manifest offline (no host, no Kafka) and print the consumers as resolved (exit 2 on errors): a CI pre-merge step'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manifest; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand completions" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand completions" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand completions" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manpage" -l dir -d 'Write kafkactl.1 and kafkactl-SUBCOMMAND.1 into DIR (else print kafkactl.1)' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manpage" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manpage" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manpage" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manpage" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand manpage" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -f -a "broker" -d 'Run an in-memory Kafka-protocol broker (librdkafka\'s mock cluster) for trying kafkactl and for tests'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and not __fish_seen_subcommand_from broker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l partitions -d 'Partitions of --topic entries given without a count (auto-created topics always get the mock cluster\'s fixed 4)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l topic -d 'A topic to create at start: NAME or NAME:PARTITIONS (repeatable)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l address-file -d 'Write the bootstrap address to this file (for scripts)' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l broker-count -d 'Number of mock brokers' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l rebalance-delay-ms -d 'Consumer groups\' initial rebalance delay in ms (the mock\'s own default of 3000 keeps clients with session.timeout.ms under ~3 s from ever joining)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l consumer-heartbeat-ms -d 'Heartbeat interval for group.protocol=consumer members in ms (assignments propagate on heartbeats; the mock\'s own default is 3000)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l consumer-session-timeout-ms -d 'Session timeout for group.protocol=consumer members in ms' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l log -d 'Log level or filter (error, warn, info, debug, trace, or a tracing filter)' -r
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -s f -l manifest -d 'The consumer manifest [default: config/kafka_consumers.yml]' -r -F
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -l user -d 'Talk to the calling user\'s systemd manager instead of the system manager'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -s h -l help -d 'Print help'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from broker" -s V -l version -d 'Print version'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from help" -f -a "broker" -d 'Run an in-memory Kafka-protocol broker (librdkafka\'s mock cluster) for trying kafkactl and for tests'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand dev; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "proxy" -d 'Run the Rafka-compatible Kafka gateway (Redis protocol)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "worker" -d 'Run one consumer instance (what systemd\'s kafka-consumer@NAME:N starts)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "spawn" -d 'Enable and start consumer instances NAME:1..N, stopping those above N'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "stop" -d 'Stop consumer instances, here or across the fleet'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "restart" -d 'Restart consumer instances, rolling, here or across the fleet'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "disable-and-stop" -d 'Stop and disable the manifest\'s consumer instances (every one with --all)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "status" -d 'Show consumer instances'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "lag" -d 'Show consumer groups\' lag per partition (committed offset, high watermark, member)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "logs" -d 'Show consumer instances\' journald logs, merged across hosts in time order'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "check" -d 'Icinga/Nagios plugin: instances, restarts and lag against thresholds (exit 0/1/2/3)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "top" -d 'Live full-screen view of consumer instances and their groups (a terminal only)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "deploy" -d 'Reconcile the manifest on every host of the fleet'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "install-units" -d 'Install kafkactl\'s systemd unit files and reload systemd'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "manifest" -d 'Work with the manifest offline'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "completions" -d 'Print shell completions'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "manpage" -d 'Write the man pages (roff): kafkactl.1 and one per subcommand'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "dev" -d 'Development tools'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and not __fish_seen_subcommand_from proxy worker spawn stop restart disable-and-stop status lag logs check top deploy install-units manifest completions manpage dev help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and __fish_seen_subcommand_from manifest" -f -a "check" -d 'Validate the manifest offline (no host, no Kafka) and print the consumers as resolved (exit 2 on errors): a CI pre-merge step'
complete -c kafkactl -n "__fish_kafkactl_using_subcommand help; and __fish_seen_subcommand_from dev" -f -a "broker" -d 'Run an in-memory Kafka-protocol broker (librdkafka\'s mock cluster) for trying kafkactl and for tests'
