#!/usr/bin/env ruby
# frozen_string_literal: true

# Drains a topic through `kafkactl proxy` with N Ruby client processes in one consumer group,
# the way rafka-rb apps consume. --api chooses how:
#
#   raw (default): plain redis-rb exactly like rafka-rb's Rafka::Consumer#consume does:
#     Redis.new(id: "<group>:<name>")          # redis-rb sends CLIENT SETNAME <group>:<name>
#     loop { BLPOP topics:<topic> <timeout>    # rafka-rb: @redis.blpop(@topic, timeout: t)
#            RPUSH acks <topic>:<partition>:<offset> }   # after each message
#   consume: Rafka::Consumer#consume(timeout) of rafka-rb (the same commands, with rafka-rb's
#     Message objects and commit);
#   batch: Rafka::Consumer#consume_batch(timeout:, batch_size:, batching_max_sec:) of rafka-rb,
#     each batch acked when the block returns.
# rafka-rb is the stand-in tests/ruby/rafka_rb_standin.rb (--rafka-rb FILE; the gem cannot be
# installed here); --dropin FILE also loads clients/ruby/rafka/batch.rb, which turns
# consume_batch into BLMPOP ... COUNT n + one multi-ack RPUSH on kafkactl proxy (it leaves
# #consume alone).
#
# Each client process writes every message it consumed as "partition:offset time" to its own
# file (DIR/client-I.txt; time is CLOCK_MONOTONIC when the message arrived). The parent process follows those files and, once it has seen EXPECT
# distinct messages, creates DIR/done; a client leaves after --idle-polls consecutive empty
# BLPOPs with DIR/done present (so the run ends about one BLPOP timeout after the last message).
# A deadline (--max-seconds) bounds everything.
#
# Timing: the rate is distinct messages / (last message - first message), over all clients;
# "startup" is the time from launching the clients to the first message (connect + join);
# "max gap" is the longest time during which no client received anything (a group stall).
# With --api batch every message of a batch gets the time its batch was handed to the block.
#
# Prints one machine-readable line:
#   RESULT consume_drain api=A[+dropin] clients=N expect=E consumed=C distinct=D duplicates=X missing=M
#          secs=S msgs_per_sec=R startup_secs=T max_gap_secs=G errors=K
#
# usage: consume_drain.rb --port P --topic T --group G --clients N --expect E --out DIR
#                         [--host H] [--timeout 1] [--idle-polls 1] [--max-seconds 300]
#                         [--consumer-config JSON] [--api raw|consume|batch]
#                         [--batch-size 100] [--batching-max-sec 1] [--rafka-rb FILE]
#                         [--dropin FILE]
#
# --consumer-config appends librdkafka consumer properties to the key, as rafka-rb's
# `librdkafka:` option does: BLPOP topics:<topic>:<JSON> (default: none, the proxy's settings).

require 'optparse'
require 'redis'
require 'set'
require 'fileutils'
require 'json'

opts = { host: '127.0.0.1', port: 6380, clients: 1, timeout: 1, idle_polls: 1, max_seconds: 300, api: 'raw',
         batch_size: 100, batching_max_sec: 1,
         rafka_rb: File.expand_path('../../tests/ruby/rafka_rb_standin.rb', __dir__) }
OptionParser.new do |o|
  o.on('--host HOST') { |v| opts[:host] = v }
  o.on('--port PORT', Integer) { |v| opts[:port] = v }
  o.on('--topic TOPIC') { |v| opts[:topic] = v }
  o.on('--group GROUP') { |v| opts[:group] = v }
  o.on('--clients N', Integer) { |v| opts[:clients] = v }
  o.on('--expect N', Integer) { |v| opts[:expect] = v }
  o.on('--out DIR') { |v| opts[:out] = v }
  o.on('--timeout SECONDS', Integer, 'BLPOP timeout') { |v| opts[:timeout] = v }
  o.on('--idle-polls N', Integer) { |v| opts[:idle_polls] = v }
  o.on('--max-seconds N', Integer) { |v| opts[:max_seconds] = v }
  o.on('--consumer-config JSON') { |v| opts[:consumer_config] = v }
  o.on('--api API', %w[raw consume batch]) { |v| opts[:api] = v }
  o.on('--batch-size N', Integer) { |v| opts[:batch_size] = v }
  o.on('--batching-max-sec N', Float) { |v| opts[:batching_max_sec] = v }
  o.on('--rafka-rb FILE') { |v| opts[:rafka_rb] = v }
  o.on('--dropin FILE') { |v| opts[:dropin] = v }
end.parse!
%i[topic group expect out].each { |k| abort "consume_drain: --#{k.to_s.tr('_', '-')} is required" unless opts[k] }

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC) # system-wide on Linux: comparable across processes
end

if opts[:api] != 'raw'
  require File.expand_path(opts[:rafka_rb])
  require File.expand_path(opts[:dropin]) if opts[:dropin]
elsif opts[:dropin]
  abort 'consume_drain: --dropin needs --api consume or batch'
end

FileUtils.mkdir_p(opts[:out])
done_file = File.join(opts[:out], 'done')
File.delete(done_file) if File.exist?(done_file)
started = now
deadline = started + opts[:max_seconds]

# One client process of --api consume or batch: rafka-rb's Consumer (auto_commit).
def run_rafka_client(index, opts, done_file, deadline)
  id = "#{opts[:group]}:c#{index}"
  out = File.open(File.join(opts[:out], "client-#{index}.txt"), 'w')
  stats = { 'count' => 0, 'first' => nil, 'last' => nil, 'errors' => 0, 'empty_polls' => 0 }
  librdkafka = opts[:consumer_config].to_s.empty? ? {} : JSON.parse(opts[:consumer_config])
  consumer = Rafka::Consumer.new(host: opts[:host], port: opts[:port], topic: opts[:topic], group: opts[:group],
                                 id: "c#{index}", librdkafka: librdkafka)
  record = lambda do |msgs|
    return if msgs.empty? # rafka-rb yields empty batches too: no message arrived

    t = now
    stats['first'] ||= t
    stats['last'] = t
    stats['count'] += msgs.size
    # One write per batch, the time formatted once: the bookkeeping stays small next to a
    # client that takes 100 messages in a few milliseconds.
    stamp = " #{t}\n"
    out.write(msgs.map { |m| "#{m.partition}:#{m.offset}#{stamp}" }.join)
  end
  idle = 0
  loop do
    got = 0
    begin
      if opts[:api] == 'consume'
        got = 1 if consumer.consume(opts[:timeout]) { |m| record.call([m]) }
      else
        consumer.consume_batch(timeout: opts[:timeout], batch_size: opts[:batch_size],
                               batching_max_sec: opts[:batching_max_sec]) do |msgs|
          record.call(msgs)
          got = msgs.size
        end
      end
    rescue Rafka::ConsumeError => e
      stats['errors'] += 1
      warn "client #{id}: #{e.class}: #{e.message}"
      raise unless e.message.include?('Server shutdown') && now < deadline

      sleep 0.1
      next
    end
    if got.zero?
      stats['empty_polls'] += 1
      out.flush
      idle += 1
      break if idle >= opts[:idle_polls] && File.exist?(done_file)
    else
      idle = 0
    end
    break if now > deadline
  end
  0
rescue StandardError => e
  stats['errors'] += 1
  warn "client #{id}: #{e.class}: #{e.message}"
  1
ensure
  out&.flush
  out&.close
  begin
    consumer&.redis&.close
  rescue StandardError
    nil
  end
  File.write(File.join(opts[:out], "client-#{index}.stats"),
             stats.map { |k, v| "#{k}=#{v}" }.join(' ') + "\n")
end

# One client process: rafka-rb's consume loop with auto-commit after each message.
def run_client(index, opts, done_file, deadline)

  id = "#{opts[:group]}:c#{index}"
  out = File.open(File.join(opts[:out], "client-#{index}.txt"), 'w')
  stats = { 'count' => 0, 'first' => nil, 'last' => nil, 'errors' => 0, 'empty_polls' => 0 }
  # read_timeout: redis-rb adds the BLPOP timeout to it for blocking commands.
  redis = Redis.new(host: opts[:host], port: opts[:port], id: id, timeout: 5, reconnect_attempts: 0)
  key = "topics:#{opts[:topic]}"
  key += ":#{opts[:consumer_config]}" if opts[:consumer_config] && !opts[:consumer_config].empty?
  idle = 0
  since_flush = 0
  loop do
    begin
      msg = redis.blpop(key, timeout: opts[:timeout])
    rescue Redis::CommandError => e
      # rafka-rb retries on "CONS Server shutdown"; anything else is fatal for a consumer.
      stats['errors'] += 1
      warn "client #{id}: #{e.message}"
      raise unless e.message.include?('Server shutdown') && now < deadline

      sleep 0.1
      next
    end
    if msg.nil?
      stats['empty_polls'] += 1
      out.flush
      since_flush = 0
      idle += 1
      break if idle >= opts[:idle_polls] && File.exist?(done_file)
      break if now > deadline

      next
    end
    idle = 0
    t = now
    m = Hash[*msg] # rafka-rb's Message.new: topic, partition, offset, value
    redis.rpush('acks', "#{m['topic']}:#{m['partition']}:#{m['offset']}")
    stats['first'] ||= t
    stats['last'] = t
    stats['count'] += 1
    out.write("#{m['partition']}:#{m['offset']} #{t}\n")
    since_flush += 1
    if since_flush >= 200
      out.flush
      since_flush = 0
    end
    break if now > deadline
  end
  0
rescue StandardError => e
  stats['errors'] += 1
  warn "client #{id}: #{e.class}: #{e.message}"
  1
ensure
  out&.flush
  out&.close
  begin
    redis&.close
  rescue StandardError
    nil
  end
  File.write(File.join(opts[:out], "client-#{index}.stats"),
             stats.map { |k, v| "#{k}=#{v}" }.join(' ') + "\n")
end

pids = (1..opts[:clients]).map do |i|
  fork do
    exit!(opts[:api] == 'raw' ? run_client(i, opts, done_file, deadline) : run_rafka_client(i, opts, done_file, deadline))
  end
end

# Parent: follow the client files and say "done" once every message has been seen.
seen = Set.new
times = []
positions = Hash.new(0)
partial = Hash.new { |h, k| h[k] = +'' }
consumed = 0
follow = lambda do
  (1..opts[:clients]).each do |i|
    path = File.join(opts[:out], "client-#{i}.txt")
    next unless File.exist?(path)

    File.open(path) do |f|
      f.seek(positions[i])
      data = f.read
      next if data.nil? || data.empty?

      positions[i] += data.bytesize
      data = partial[i] + data
      lines = data.split("\n", -1)
      partial[i] = lines.pop # an incomplete last line waits for the next read
      lines.each do |line|
        po, t = line.split(' ', 2)
        consumed += 1
        seen << po
        times << t.to_f
      end
    end
  end
end

live = pids.dup
statuses = {}
killed = false
until live.empty?
  sleep 0.05
  follow.call
  File.write(done_file, "#{seen.size}\n") if seen.size >= opts[:expect] && !File.exist?(done_file)
  live.delete_if do |pid|
    got = Process.wait2(pid, Process::WNOHANG)
    statuses[pid] = got[1] if got
    got
  end
  next unless now > deadline + opts[:timeout] + 5 && !killed

  warn 'consume_drain: deadline passed; stopping clients'
  File.write(done_file, "#{seen.size}\n") unless File.exist?(done_file)
  live.each do |pid|
    Process.kill('TERM', pid)
  rescue StandardError
    nil
  end
  killed = true
end
follow.call

firsts = []
lasts = []
errors = 0
(1..opts[:clients]).each do |i|
  path = File.join(opts[:out], "client-#{i}.stats")
  next unless File.exist?(path)

  s = File.read(path).split.map { |kv| kv.split('=', 2) }.to_h
  firsts << s['first'].to_f unless s['first'].to_s.empty?
  lasts << s['last'].to_f unless s['last'].to_s.empty?
  errors += s['errors'].to_i
end
errors += statuses.values.count { |st| !st.success? }

distinct = seen.size
duplicates = consumed - distinct
missing = [opts[:expect] - distinct, 0].max
secs = firsts.empty? ? 0.0 : lasts.max - firsts.min
rate = secs.positive? ? distinct / secs : 0.0
startup = firsts.empty? ? 0.0 : firsts.min - started
times.sort!
max_gap = times.each_cons(2).map { |a, b| b - a }.max || 0.0
per_client = (1..opts[:clients]).map do |i|
  path = File.join(opts[:out], "client-#{i}.stats")
  File.exist?(path) ? File.read(path)[/count=(\d+)/, 1].to_i : 0
end
warn format('consume_drain: %d client(s), per client %s; %d consumed, %d distinct, %d duplicates, ' \
            '%d missing in %.2f s (%.0f msg/s), startup %.2f s, longest pause %.2f s',
            opts[:clients], per_client.join('/'), consumed, distinct, duplicates, missing, secs, rate, startup,
            max_gap)
api = opts[:api] + (opts[:dropin] ? '+dropin' : '')
puts format("RESULT consume_drain api=#{api} clients=%d expect=%d " \
            'consumed=%d distinct=%d duplicates=%d missing=%d ' \
            'secs=%.6f msgs_per_sec=%.0f startup_secs=%.3f max_gap_secs=%.3f errors=%d',
            opts[:clients], opts[:expect], consumed, distinct, duplicates, missing, secs, rate, startup, max_gap,
            errors)
exit(errors.zero? && missing.zero? ? 0 : 1)
