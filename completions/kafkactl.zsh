#compdef kafkactl

autoload -U is-at-least

_kafkactl() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_kafkactl_commands" \
"*::: :->kafkactl" \
&& ret=0
    case $state in
    (kafkactl)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-command-$line[1]:"
        case $line[1] in
            (proxy)
_arguments "${_arguments_options[@]}" : \
'--listen=[Address to listen on, IP\:PORT (binding beyond loopback is an explicit choice)]:LISTEN:_default' \
'--config=[Rafka JSON config file\: {"general"\: {...}, "consumer"\: {...}, "producer"\: {...}} (no short flag\: -c names a consumer everywhere else)]:FILE:_files' \
'--brokers=[Bootstrap servers, overriding the config file'\''s bootstrap.servers]:BROKERS:_default' \
'--requirepass=[Require clients to AUTH with this password first (an empty one is refused\: it would look like protection and be none)]:REQUIREPASS:_default' \
'(--requirepass)--requirepass-file=[Read the password from FILE (its first line), so it appears in no process list or environment. Under systemd the credential \`requirepass\` (LoadCredential=) is read without this flag]:FILE:_files' \
'--max-connections=[Most client connections at once]:MAX_CONNECTIONS:_default' \
'--max-consumers=[Most Kafka consumers (connections that ran BLPOP) at once; each holds a librdkafka client with its threads and buffers]:MAX_CONSUMERS:_default' \
'--auth-timeout=[With --requirepass\: seconds a connection may take to authenticate before it is closed]:SECS:_default' \
'--write-timeout=[Seconds a reply may wait for a client that stops reading before the connection is closed (so neither memory nor the shutdown waits on it)]:SECS:_default' \
'--max-bulk-bytes=[Largest bulk string (message) accepted, in bytes]:MAX_BULK_BYTES:_default' \
'--max-query-buffer=[Most unparsed input one connection may hold, in bytes (Redis'\''s client-query-buffer-limit); at least --max-bulk-bytes + 64 KiB]:BYTES:_default' \
'--max-total-query-buffer=[Most unparsed input all connections together may hold, in bytes; the connection whose read goes over it is closed]:BYTES:_default' \
'--blpop-default-timeout=[BLPOP timeout in seconds when the client'\''s timeout is not an integer]:BLPOP_DEFAULT_TIMEOUT:_default' \
'--produce-block-ms=[How long RPUSHX waits for room when the producer queue is full, in ms]:PRODUCE_BLOCK_MS:_default' \
'--shutdown-timeout=[Deadline for the whole shutdown, in seconds]:SHUTDOWN_TIMEOUT:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(worker)
_arguments "${_arguments_options[@]}" : \
'--brokers=[Kafka bootstrap servers, overriding the manifest'\''s \`brokers\:\`]:BROKERS:_default' \
'--statsd=[Send metrics to this statsd HOST\:PORT, overriding the manifest'\''s \`statsd\:\`]:STATSD:_default' \
'--metrics-listen=[Serve Prometheus text metrics on IP\:PORT+N (N is the instance number)]:METRICS_LISTEN:_default' \
'--drain-timeout=[After SIGTERM, seconds the batch in flight may still take]:DRAIN_TIMEOUT:_default' \
'--handler-grace=[Seconds the handler may take to exit after \`shutdown\`, before SIGKILL]:HANDLER_GRACE:_default' \
'--ready-timeout=[Seconds the handler may take to answer \`init\`]:READY_TIMEOUT:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':instance -- The instance\: NAME\:N, as in kafka-consumer@NAME\:N:_default' \
&& ret=0
;;
(spawn)
_arguments "${_arguments_options[@]}" : \
'-c+[Consumer name (every consumer of the manifest when absent)]:CONSUMER:_default' \
'--consumer=[Consumer name (every consumer of the manifest when absent)]:CONSUMER:_default' \
'-w+[Number of instances (the manifest'\''s scale when absent)]:WORKERS:_default' \
'--workers=[Number of instances (the manifest'\''s scale when absent)]:WORKERS:_default' \
'-o+[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--dry-run[Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)]' \
'-y[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--yes[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(stop)
_arguments "${_arguments_options[@]}" : \
'-c+[NAME or NAME\:K]:NAME[:K]:_default' \
'--consumer=[NAME or NAME\:K]:NAME[:K]:_default' \
'-o+[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--dry-run[Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)]' \
'-y[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--yes[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(restart)
_arguments "${_arguments_options[@]}" : \
'-c+[NAME or NAME\:K]:NAME[:K]:_default' \
'--consumer=[NAME or NAME\:K]:NAME[:K]:_default' \
'-o+[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--batch-size=[Most instances of the consumer restarted at once across the hosts (never all of them)]:BATCH_SIZE:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--dry-run[Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)]' \
'-y[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--yes[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(disable-and-stop)
_arguments "${_arguments_options[@]}" : \
'-c+[NAME or NAME\:K (every consumer of the manifest when absent)]:NAME[:K]:_default' \
'--consumer=[NAME or NAME\:K (every consumer of the manifest when absent)]:NAME[:K]:_default' \
'-o+[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'(-c --consumer)--all[Every kafka-consumer@ instance of the manager, whatever manifest it came from]' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--dry-run[Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)]' \
'-y[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--yes[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'-c+[Consumer name]:CONSUMER:_default' \
'--consumer=[Consumer name]:CONSUMER:_default' \
'-o+[Output format]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--watch=[Reprint every SECS seconds (default 2) until Ctrl-C]::SECS:_default' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--brokers=[Kafka bootstrap servers, overriding the manifest'\''s \`brokers\:\`]:BROKERS:_default' \
'--kafka-timeout=[Seconds each request to the brokers may take]:SECS:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--lag[Also show each instance'\''s partitions\: committed offset, high watermark, lag]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(lag)
_arguments "${_arguments_options[@]}" : \
'-c+[Consumer name (every consumer of the manifest when absent)]:CONSUMER:_default' \
'--consumer=[Consumer name (every consumer of the manifest when absent)]:CONSUMER:_default' \
'-o+[Output format]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--window=[Read twice, SECS seconds apart, and say whether each group is OK, LAGGING, STALLED or IDLE, with its commit rate]:SECS:_default' \
'--brokers=[Kafka bootstrap servers, overriding the manifest'\''s \`brokers\:\`]:BROKERS:_default' \
'--kafka-timeout=[Seconds each request to the brokers may take]:SECS:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(logs)
_arguments "${_arguments_options[@]}" : \
'-c+[NAME or NAME\:K (every consumer instance when absent)]:CONSUMER:_default' \
'--consumer=[NAME or NAME\:K (every consumer instance when absent)]:CONSUMER:_default' \
'-n+[The newest N entries (of all selected hosts together)]:LINES:_default' \
'--lines=[The newest N entries (of all selected hosts together)]:LINES:_default' \
'--since=[Only entries since TIME, as journalctl takes it ("2026-12-01 10\:00", "-1h", "today")]:TIME:_default' \
'-o+[Output format\: text lines, or one JSON object per entry]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format\: text lines, or one JSON object per entry]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--proxy[Also the proxy'\''s log (kafkactl-proxy.service)]' \
'-F[Keep printing new entries until Ctrl-C (\`-F\` as in \`tail -F\`\: \`-f\` is the manifest, as in every kafkactl command)]' \
'--follow[Keep printing new entries until Ctrl-C (\`-F\` as in \`tail -F\`\: \`-f\` is the manifest, as in every kafkactl command)]' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
'-c+[Consumer name (every consumer when absent)]:CONSUMER:_default' \
'--consumer=[Consumer name (every consumer when absent)]:CONSUMER:_default' \
'--lag-warning=[WARNING when a consumer group'\''s total lag is above N]:N:_default' \
'--lag-critical=[CRITICAL when a consumer group'\''s total lag is above N]:N:_default' \
'--inactive-warning=[WARNING when more than N instances are not active]:N:_default' \
'--inactive-critical=[CRITICAL when more than N instances are not active]:N:_default' \
'--restarts-warning=[WARNING when an instance was restarted automatically more than N times (NRestarts)]:N:_default' \
'--restarts-critical=[CRITICAL when an instance was restarted automatically more than N times (NRestarts)]:N:_default' \
'--missing-warning=[WARNING when more than N instances the manifest places on the hosts are not running \[default\: 0\]]:N:_default' \
'--missing-critical=[CRITICAL when more than N wanted instances are not running \[default\: CRITICAL when every instance of some consumer is missing\]]:N:_default' \
'--window=[Read the groups twice, SECS seconds apart\: STALLED (lag and no commit moving) is CRITICAL, LAGGING (lag growing while committing) is WARNING]:SECS:_default' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--brokers=[Kafka bootstrap servers, overriding the manifest'\''s \`brokers\:\`]:BROKERS:_default' \
'--kafka-timeout=[Seconds each request to the brokers may take]:SECS:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--no-lag[Do not read lag from Kafka (instances and restarts only)]' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(top)
_arguments "${_arguments_options[@]}" : \
'-c+[Consumer name (every consumer when absent)]:CONSUMER:_default' \
'--consumer=[Consumer name (every consumer when absent)]:CONSUMER:_default' \
'--interval=[Seconds between refreshes]:SECS:_default' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--brokers=[Kafka bootstrap servers, overriding the manifest'\''s \`brokers\:\`]:BROKERS:_default' \
'--kafka-timeout=[Seconds each request to the brokers may take]:SECS:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--no-lag[Do not read lag from Kafka]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(deploy)
_arguments "${_arguments_options[@]}" : \
'-c+[Only this consumer of the manifest (its instances everywhere it is placed)]:NAME:_default' \
'--consumer=[Only this consumer of the manifest (its instances everywhere it is placed)]:NAME:_default' \
'-o+[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format\: the plan as a diff and a summary table, or one JSON document (docs/schemas/plan.json)]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--batch-size=[Most instances of one consumer restarted at once across the fleet (never all of them)]:BATCH_SIZE:_default' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--dry-run[Print the plan and change nothing (exit 4 when something would change, 0 when nothing would)]' \
'-y[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'--yes[Do not ask before stopping, disabling or restarting (only a terminal is asked)]' \
'(-c --consumer)--prune[Stop and disable instances of consumers the manifest does not list (orphans)]' \
'--no-restart[Leave running instances running (no rolling restart)]' \
'--allow-version-skew[Deploy to hosts whose kafkactl version differs from this one'\''s (refused otherwise)]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(install-units)
_arguments "${_arguments_options[@]}" : \
'--proxy-config=[The proxy'\''s Rafka JSON config, for kafkactl-proxy.service]:PROXY_CONFIG:_files' \
'--workdir=[The app'\''s root, where consumers'\'' handler commands run (default\: the current directory)]:WORKDIR:_files' \
'--kafkactl=[The kafkactl binary the units run (default\: this one'\''s path; with --hosts, a path on the hosts)]:PATH:_files' \
'--run-as=[Who consumers and their handlers run as in the system scope\: USER or USER\:GROUP (default\: the manifest'\''s \`run_as\:\`). Running them as root takes \`--run-as root\`]:USER[:GROUP]:_default' \
'*--hosts=[Hosts to act on, \[user@\]address\[\:port\], comma-separated or repeated (deploy\: default the manifest'\''s hosts)]:HOST:_default' \
'--known-hosts=[The known_hosts file host keys are checked against \[default\: ~/.ssh/known_hosts\]]:FILE:_files' \
'-i+[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--identity=[SSH private key for hosts whose manifest entry names none \[default\: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa\]]:FILE:_files' \
'--connect-timeout=[Seconds to connect to and authenticate with one host]:SECS:_default' \
'--parallel=[Hosts worked on at once]:PARALLEL:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--print[Print the rendered unit files and write nothing]' \
'--force[Replace a consumer template that was installed for another manifest or app directory (one app per systemd manager\: see docs/operations.md)]' \
'--fleet[Every host of the manifest (\`hosts\:\` and \`roles\:\`) instead of this one]' \
'--accept-new-host-keys[Accept the key of a host not in known_hosts yet, and record it there (a changed key is refused regardless)]' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(manifest)
_arguments "${_arguments_options[@]}" : \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_kafkactl__subcmd__manifest_commands" \
"*::: :->manifest" \
&& ret=0

    case $state in
    (manifest)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-manifest-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
'-o+[Output format]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--output=[Output format]:OUTPUT:((table\:"A table for people"
json\:"JSON for programs"))' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_kafkactl__subcmd__manifest__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-manifest-help-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
':shell -- The shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(manpage)
_arguments "${_arguments_options[@]}" : \
'--dir=[Write kafkactl.1 and kafkactl-SUBCOMMAND.1 into DIR (else print kafkactl.1)]:DIR:_files' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(dev)
_arguments "${_arguments_options[@]}" : \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_kafkactl__subcmd__dev_commands" \
"*::: :->dev" \
&& ret=0

    case $state in
    (dev)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-dev-command-$line[1]:"
        case $line[1] in
            (broker)
_arguments "${_arguments_options[@]}" : \
'--partitions=[Partitions of --topic entries given without a count (auto-created topics always get the mock cluster'\''s fixed 4)]:PARTITIONS:_default' \
'*--topic=[A topic to create at start\: NAME or NAME\:PARTITIONS (repeatable)]:NAME[:PARTITIONS]:_default' \
'--address-file=[Write the bootstrap address to this file (for scripts)]:ADDRESS_FILE:_files' \
'--broker-count=[Number of mock brokers]:BROKER_COUNT:_default' \
'--rebalance-delay-ms=[Consumer groups'\'' initial rebalance delay in ms (the mock'\''s own default of 3000 keeps clients with session.timeout.ms under ~3 s from ever joining)]:REBALANCE_DELAY_MS:_default' \
'--consumer-heartbeat-ms=[Heartbeat interval for group.protocol=consumer members in ms (assignments propagate on heartbeats; the mock'\''s own default is 3000)]:CONSUMER_HEARTBEAT_MS:_default' \
'--consumer-session-timeout-ms=[Session timeout for group.protocol=consumer members in ms]:CONSUMER_SESSION_TIMEOUT_MS:_default' \
'--log=[Log level or filter (error, warn, info, debug, trace, or a tracing filter)]:LOG:_default' \
'-f+[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--manifest=[The consumer manifest \[default\: config/kafka_consumers.yml\]]:MANIFEST:_files' \
'--user[Talk to the calling user'\''s systemd manager instead of the system manager]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_kafkactl__subcmd__dev__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-dev-help-command-$line[1]:"
        case $line[1] in
            (broker)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_kafkactl__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-help-command-$line[1]:"
        case $line[1] in
            (proxy)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(worker)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(spawn)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(stop)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(restart)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(disable-and-stop)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(lag)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(logs)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(top)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(deploy)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(install-units)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(manifest)
_arguments "${_arguments_options[@]}" : \
":: :_kafkactl__subcmd__help__subcmd__manifest_commands" \
"*::: :->manifest" \
&& ret=0

    case $state in
    (manifest)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-help-manifest-command-$line[1]:"
        case $line[1] in
            (check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(manpage)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(dev)
_arguments "${_arguments_options[@]}" : \
":: :_kafkactl__subcmd__help__subcmd__dev_commands" \
"*::: :->dev" \
&& ret=0

    case $state in
    (dev)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:kafkactl-help-dev-command-$line[1]:"
        case $line[1] in
            (broker)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_kafkactl_commands] )) ||
_kafkactl_commands() {
    local commands; commands=(
'proxy:Run the Rafka-compatible Kafka gateway (Redis protocol)' \
'worker:Run one consumer instance (what systemd'\''s kafka-consumer@NAME\:N starts)' \
'spawn:Enable and start consumer instances NAME\:1..N, stopping those above N' \
'stop:Stop consumer instances, here or across the fleet' \
'restart:Restart consumer instances, rolling, here or across the fleet' \
'disable-and-stop:Stop and disable the manifest'\''s consumer instances (every one with --all)' \
'status:Show consumer instances' \
'lag:Show consumer groups'\'' lag per partition (committed offset, high watermark, member)' \
'logs:Show consumer instances'\'' journald logs, merged across hosts in time order' \
'check:Icinga/Nagios plugin\: instances, restarts and lag against thresholds (exit 0/1/2/3)' \
'top:Live full-screen view of consumer instances and their groups (a terminal only)' \
'deploy:Reconcile the manifest on every host of the fleet' \
'install-units:Install kafkactl'\''s systemd unit files and reload systemd' \
'manifest:Work with the manifest offline' \
'completions:Print shell completions' \
'manpage:Write the man pages (roff)\: kafkactl.1 and one per subcommand' \
'dev:Development tools' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'kafkactl commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__check_commands] )) ||
_kafkactl__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl check commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__completions_commands] )) ||
_kafkactl__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl completions commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__deploy_commands] )) ||
_kafkactl__subcmd__deploy_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl deploy commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__dev_commands] )) ||
_kafkactl__subcmd__dev_commands() {
    local commands; commands=(
'broker:Run an in-memory Kafka-protocol broker (librdkafka'\''s mock cluster) for trying kafkactl and for tests' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'kafkactl dev commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__dev__subcmd__broker_commands] )) ||
_kafkactl__subcmd__dev__subcmd__broker_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl dev broker commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__dev__subcmd__help_commands] )) ||
_kafkactl__subcmd__dev__subcmd__help_commands() {
    local commands; commands=(
'broker:Run an in-memory Kafka-protocol broker (librdkafka'\''s mock cluster) for trying kafkactl and for tests' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'kafkactl dev help commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__dev__subcmd__help__subcmd__broker_commands] )) ||
_kafkactl__subcmd__dev__subcmd__help__subcmd__broker_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl dev help broker commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__dev__subcmd__help__subcmd__help_commands] )) ||
_kafkactl__subcmd__dev__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl dev help help commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__disable-and-stop_commands] )) ||
_kafkactl__subcmd__disable-and-stop_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl disable-and-stop commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help_commands] )) ||
_kafkactl__subcmd__help_commands() {
    local commands; commands=(
'proxy:Run the Rafka-compatible Kafka gateway (Redis protocol)' \
'worker:Run one consumer instance (what systemd'\''s kafka-consumer@NAME\:N starts)' \
'spawn:Enable and start consumer instances NAME\:1..N, stopping those above N' \
'stop:Stop consumer instances, here or across the fleet' \
'restart:Restart consumer instances, rolling, here or across the fleet' \
'disable-and-stop:Stop and disable the manifest'\''s consumer instances (every one with --all)' \
'status:Show consumer instances' \
'lag:Show consumer groups'\'' lag per partition (committed offset, high watermark, member)' \
'logs:Show consumer instances'\'' journald logs, merged across hosts in time order' \
'check:Icinga/Nagios plugin\: instances, restarts and lag against thresholds (exit 0/1/2/3)' \
'top:Live full-screen view of consumer instances and their groups (a terminal only)' \
'deploy:Reconcile the manifest on every host of the fleet' \
'install-units:Install kafkactl'\''s systemd unit files and reload systemd' \
'manifest:Work with the manifest offline' \
'completions:Print shell completions' \
'manpage:Write the man pages (roff)\: kafkactl.1 and one per subcommand' \
'dev:Development tools' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'kafkactl help commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__check_commands] )) ||
_kafkactl__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help check commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__completions_commands] )) ||
_kafkactl__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help completions commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__deploy_commands] )) ||
_kafkactl__subcmd__help__subcmd__deploy_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help deploy commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__dev_commands] )) ||
_kafkactl__subcmd__help__subcmd__dev_commands() {
    local commands; commands=(
'broker:Run an in-memory Kafka-protocol broker (librdkafka'\''s mock cluster) for trying kafkactl and for tests' \
    )
    _describe -t commands 'kafkactl help dev commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__dev__subcmd__broker_commands] )) ||
_kafkactl__subcmd__help__subcmd__dev__subcmd__broker_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help dev broker commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__disable-and-stop_commands] )) ||
_kafkactl__subcmd__help__subcmd__disable-and-stop_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help disable-and-stop commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__help_commands] )) ||
_kafkactl__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help help commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__install-units_commands] )) ||
_kafkactl__subcmd__help__subcmd__install-units_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help install-units commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__lag_commands] )) ||
_kafkactl__subcmd__help__subcmd__lag_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help lag commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__logs_commands] )) ||
_kafkactl__subcmd__help__subcmd__logs_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help logs commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__manifest_commands] )) ||
_kafkactl__subcmd__help__subcmd__manifest_commands() {
    local commands; commands=(
'check:Validate the manifest offline (no host, no Kafka) and print the consumers as resolved (exit 2 on errors)\: a CI pre-merge step' \
    )
    _describe -t commands 'kafkactl help manifest commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__manifest__subcmd__check_commands] )) ||
_kafkactl__subcmd__help__subcmd__manifest__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help manifest check commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__manpage_commands] )) ||
_kafkactl__subcmd__help__subcmd__manpage_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help manpage commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__proxy_commands] )) ||
_kafkactl__subcmd__help__subcmd__proxy_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help proxy commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__restart_commands] )) ||
_kafkactl__subcmd__help__subcmd__restart_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help restart commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__spawn_commands] )) ||
_kafkactl__subcmd__help__subcmd__spawn_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help spawn commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__status_commands] )) ||
_kafkactl__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help status commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__stop_commands] )) ||
_kafkactl__subcmd__help__subcmd__stop_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help stop commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__top_commands] )) ||
_kafkactl__subcmd__help__subcmd__top_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help top commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__help__subcmd__worker_commands] )) ||
_kafkactl__subcmd__help__subcmd__worker_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl help worker commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__install-units_commands] )) ||
_kafkactl__subcmd__install-units_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl install-units commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__lag_commands] )) ||
_kafkactl__subcmd__lag_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl lag commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__logs_commands] )) ||
_kafkactl__subcmd__logs_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl logs commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__manifest_commands] )) ||
_kafkactl__subcmd__manifest_commands() {
    local commands; commands=(
'check:Validate the manifest offline (no host, no Kafka) and print the consumers as resolved (exit 2 on errors)\: a CI pre-merge step' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'kafkactl manifest commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__manifest__subcmd__check_commands] )) ||
_kafkactl__subcmd__manifest__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl manifest check commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__manifest__subcmd__help_commands] )) ||
_kafkactl__subcmd__manifest__subcmd__help_commands() {
    local commands; commands=(
'check:Validate the manifest offline (no host, no Kafka) and print the consumers as resolved (exit 2 on errors)\: a CI pre-merge step' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'kafkactl manifest help commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__manifest__subcmd__help__subcmd__check_commands] )) ||
_kafkactl__subcmd__manifest__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl manifest help check commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__manifest__subcmd__help__subcmd__help_commands] )) ||
_kafkactl__subcmd__manifest__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl manifest help help commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__manpage_commands] )) ||
_kafkactl__subcmd__manpage_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl manpage commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__proxy_commands] )) ||
_kafkactl__subcmd__proxy_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl proxy commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__restart_commands] )) ||
_kafkactl__subcmd__restart_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl restart commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__spawn_commands] )) ||
_kafkactl__subcmd__spawn_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl spawn commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__status_commands] )) ||
_kafkactl__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl status commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__stop_commands] )) ||
_kafkactl__subcmd__stop_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl stop commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__top_commands] )) ||
_kafkactl__subcmd__top_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl top commands' commands "$@"
}
(( $+functions[_kafkactl__subcmd__worker_commands] )) ||
_kafkactl__subcmd__worker_commands() {
    local commands; commands=()
    _describe -t commands 'kafkactl worker commands' commands "$@"
}

if [ "$funcstack[1]" = "_kafkactl" ]; then
    _kafkactl "$@"
else
    compdef _kafkactl kafkactl
fi
