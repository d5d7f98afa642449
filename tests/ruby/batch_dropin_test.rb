# frozen_string_literal: true

# clients/ruby/rafka/batch.rb (the batch drop-in for rafka-rb apps) against the real
# `kafkactl proxy`, and its fallback against a server that refuses BLMPOP the way Rafka does.
#
#   KAFKACTL_PROXY=127.0.0.1:6380 ruby tests/ruby/batch_dropin_test.rb [-v] [-n /pattern/]
#
# rafka-rb itself cannot be installed here, so rafka_rb_standin.rb stands in for it (the
# surface the drop-in patches, with rafka-rb's documented behaviour). "rafka-rb's own"
# consume_batch/commit below are the stand-in's, reached through the prepended method's
# super_method. tests/ruby_client.rs runs this file with a broker and a proxy; test_dropin_*
# use the proxy, test_fallback_* a FakeRafka (fake_rafka.rb). Topics come from the harness's
# pool (KAFKACTL_TEST_TOPICS), as in proxy_test.rb.

begin
  require "redis"
rescue LoadError => e
  abort "batch_dropin_test.rb: cannot load the redis gem (#{e.message}); run scripts/deps.sh"
end
require "minitest/autorun"
require "securerandom"
require_relative "rafka_rb_standin"
require_relative "../../clients/ruby/rafka/batch"
require_relative "fake_rafka"
require_relative "sentinels"

PROXY = ENV["KAFKACTL_PROXY"].to_s
abort "batch_dropin_test.rb: set KAFKACTL_PROXY=host:port" unless PROXY =~ /\A(.+):(\d+)\z/
PROXY_HOST = Regexp.last_match(1)
PROXY_PORT = Integer(Regexp.last_match(2))
TOPIC_POOL = ENV["KAFKACTL_TEST_TOPICS"].to_s.split(",")

# An exception of the test's own, so that nothing else can be mistaken for it.
class BlockFailure < StandardError; end

module DropinHelpers
  # Bounds every batch the tests ask for: a broken drop-in fails instead of waiting forever.
  MAX_SEC = 30

  def teardown
    (@monitors || []).each(&:kill)
    (@closers || []).each do |c|
      c.call
    rescue StandardError
      nil
    end
  end

  def closing(&closer)
    (@closers ||= []) << closer
  end

  def redis
    @redis ||= Redis.new(host: PROXY_HOST, port: PROXY_PORT, timeout: 10).tap { |r| closing { r.close } }
  end

  def new_topic
    return unique("t") if ENV["KAFKACTL_TEST_TOPICS"].to_s.empty?

    TOPIC_POOL.shift or flunk("KAFKACTL_TEST_TOPICS ran out of topics: give the harness a bigger pool")
  end

  def unique(what)
    "rb_#{name.sub(/\Atest_/, "")[0, 30]}_#{what}_#{SecureRandom.hex(4)}"
  end

  # A rafka-rb consumer of the proxy (closed in teardown).
  def consumer(topic, group, id, **opts)
    c = Rafka::Consumer.new(host: PROXY_HOST, port: PROXY_PORT, topic: topic, group: group, id: id, **opts)
    closing { c.redis.close }
    c
  end

  # Produces values (keyed by the block's result) and waits until all are delivered.
  def produce(topic, values)
    values.each do |v|
      key = block_given? ? ":#{yield(v)}" : ""
      assert_equal 1, redis.rpushx("topics:#{topic}#{key}", v)
    end
    assert_equal 0, Integer(redis.dump("10000")), "every message delivered"
    values
  end

  def values(prefix, count)
    Array.new(count) { |i| "#{prefix}-#{i}-#{SecureRandom.hex(3)}" }
  end

  include Sentinels

  # What `c` delivers before a round of sentinels (sentinels.rb).
  def delivered_before_sentinels(c, topic)
    sentinels = produce(topic, sentinel_values) { |v| sentinel_key(v) }
    delivered_before(sentinels, MAX_SEC) { |due| c.consume_batch(batch_size: due, batching_max_sec: 2) }
  end

  def acks_stored
    Integer(redis.hgetall("stats").fetch("consumer.acks"))
  end

  def wait_until(what, limit: 10)
    deadline = Time.now + limit
    loop do
      result = yield
      return result if result
      flunk "timed out after #{limit}s waiting for #{what}" if Time.now > deadline
      sleep 0.05
    end
  end

  # Starts recording the proxy's MONITOR stream; returns a lambda giving the commands of one
  # client so far, each as ["CMD", "arg", ...].
  def monitor
    lines = Queue.new
    mon = Redis.new(host: PROXY_HOST, port: PROXY_PORT, timeout: 0)
    started = Queue.new
    thread = Thread.new do
      mon.monitor do |line|
        started << true if line == "OK"
        lines << line
      end
    rescue StandardError
      nil
    end
    started.pop
    (@monitors ||= []) << thread
    closing { mon.close }
    seen = []
    lambda do |client|
      seen << lines.pop until lines.empty?
      seen.filter_map do |line|
        m = line.match(/\A\d+\.\d+ \[0 (\S+)\] (.*)\z/) or next
        next unless m[1] == client

        m[2].scan(/"((?:[^"\\]|\\.)*)"/).flatten
      end
    end
  end

  # [partition, offset, value] of each message, the way batches are compared.
  def triples(msgs)
    msgs.map { |m| [m.partition, m.offset, m.value] }
  end

  # The highest offset per partition, as rafka-rb's #commit returns it for one topic.
  def highest(topic, msgs)
    { topic => msgs.group_by(&:partition).transform_values { |ms| ms.map(&:offset).max } }
  end
end

class BatchDropinTest < Minitest::Test
  include DropinHelpers

  # --- against kafkactl proxy --------------------------------------------------------------

  def test_dropin_batches_come_back_complete_and_in_order_one_round_trip_each
    topic = new_topic
    sent = produce(topic, values("v", 300)) { |v| "k#{v.split("-")[1].to_i % 8}" }
    group = unique("g")
    c = consumer(topic, group, "c1")
    commands = monitor
    batches = Array.new(3) do
      yielded = nil
      got = c.consume_batch(batch_size: 100, batching_max_sec: MAX_SEC) { |msgs| yielded = msgs }
      assert_same yielded, got, "returns the Array it yielded"
      assert_equal 100, got.size, "a complete batch of batch_size"
      assert(got.all? { |m| m.instance_of?(Rafka::Message) }, "rafka-rb's Message objects")
      got
    end
    all = batches.flatten
    assert_equal sent.sort, all.map(&:value).sort, "every message exactly once"
    all.group_by(&:partition).each do |p, msgs|
      offsets = msgs.map(&:offset)
      assert_equal (offsets.first..offsets.last).to_a, offsets, "partition #{p}: offsets ascend, none skipped"
    end
    by_key = all.group_by { |m| m.value.split("-")[1].to_i % 8 }
    by_key.each_value do |msgs|
      order = msgs.map { |m| m.value.split("-")[1].to_i }
      assert_equal order.sort, order, "a key's messages in produce order"
    end

    # On the wire: BLMPOP (never BLPOP) and exactly one RPUSH acks per batch holding the
    # highest offset of each partition of that batch.
    ours = "#{group}:c1"
    wire = wait_until("three RPUSH acks on MONITOR") do
      cmds = commands.call(ours)
      cmds if cmds.count { |cmd| cmd[0].casecmp?("RPUSH") } >= 3
    end
    assert_equal %w[BLMPOP RPUSH], wire.map { |cmd| cmd[0].upcase }.uniq.sort, wire.inspect
    assert_equal ["1", "topics:#{topic}", "LEFT", "COUNT"], wire.first[2, 4], "BLMPOP <timeout> 1 <key> LEFT COUNT n"
    assert_equal "100", wire.first[6]
    rpushes = wire.select { |cmd| cmd[0].casecmp?("RPUSH") }
    assert_equal 3, rpushes.size
    rpushes.zip(batches).each do |cmd, batch|
      acked = cmd.drop(2).map { |a| a.split(":") }.to_h { |t, p, o| [[t, Integer(p)], Integer(o)] }
      want = highest(topic, batch)[topic].to_h { |p, o| [[topic, p], o] }
      assert_equal want, acked, "one RPUSH acks with the batch's highest offset per partition"
    end
  end

  def test_dropin_commits_only_after_the_block_returns
    topic = new_topic
    first = produce(topic, values("a", 20)) { |v| v }
    group = unique("g")
    c = consumer(topic, group, "c1")
    before = acks_stored
    during = nil
    got = c.consume_batch(batch_size: 20, batching_max_sec: MAX_SEC) do |msgs|
      sleep 0.3
      during = acks_stored - before
      assert_equal 20, msgs.size
    end
    assert_equal 0, during, "nothing acked while the block runs"
    assert_equal got.map(&:partition).uniq.size, acks_stored - before,
                 "after it returned: one ack per partition of the batch"
    c.redis.quit

    second = produce(topic, values("b", 5)) { |v| v }
    c2 = consumer(topic, group, "c2")
    rest = c2.consume_batch(batch_size: 5, batching_max_sec: MAX_SEC)
    assert_equal second.sort, rest.map(&:value).sort, "the group resumes after the acked batch"
    assert_empty delivered_before_sentinels(c2, topic).map(&:value), "nothing of the first batch comes again"
    assert_empty first & rest.map(&:value)
  end

  def test_dropin_a_raise_in_the_block_commits_nothing_and_the_batch_comes_again
    topic = new_topic
    produce(topic, values("v", 10)) { |v| v }
    group = unique("g")
    c = consumer(topic, group, "c1")
    before = acks_stored
    seen = nil
    err = assert_raises(BlockFailure) do
      c.consume_batch(batch_size: 10, batching_max_sec: MAX_SEC) do |msgs|
        seen = msgs.dup
        raise BlockFailure, "handler failed"
      end
    end
    assert_equal "handler failed", err.message, "the block's own exception comes out unchanged"
    assert_equal 10, seen.size
    sleep 0.3
    assert_equal before, acks_stored, "no ack after a raise"
    c.redis.quit

    c2 = consumer(topic, group, "c2")
    again = c2.consume_batch(batch_size: 10, batching_max_sec: MAX_SEC)
    assert_equal triples(seen).sort, triples(again).sort, "the same messages come again"

    # An exception that is not a StandardError (Ctrl-C in the block) does not ack either.
    topic2 = new_topic
    produce(topic2, values("i", 3))
    c3 = consumer(topic2, unique("g"), "c3")
    before = acks_stored
    assert_raises(Interrupt) { c3.consume_batch(batch_size: 3, batching_max_sec: MAX_SEC) { raise Interrupt } }
    sleep 0.3
    assert_equal before, acks_stored, "no ack after an Interrupt in the block"
  end

  def test_dropin_without_auto_commit_acks_only_on_commit_in_one_command
    topic = new_topic
    produce(topic, values("v", 12)) { |v| v }
    group = unique("g")
    c = consumer(topic, group, "c1", auto_commit: false)
    commands = monitor
    before = acks_stored
    msgs = c.consume_batch(batch_size: 12, batching_max_sec: MAX_SEC)
    assert_equal 12, msgs.size
    sleep 0.3
    assert_equal before, acks_stored, "auto_commit: false: the batch is not acked"
    returned = c.commit(*msgs)
    assert_equal highest(topic, msgs), returned, "rafka-rb's return value: the highest offset per partition"
    rafka_rb_own = c.method(:commit).super_method.call(*msgs)
    assert_equal rafka_rb_own, returned, "the same as rafka-rb's own #commit returns"
    rpushes = wait_until("the RPUSHes on MONITOR") do
      r = commands.call("#{group}:c1").select { |cmd| cmd[0].casecmp?("RPUSH") }
      r if r.size >= 1 + returned[topic].size
    end
    assert_equal returned[topic].size, rpushes.first.size - 2, "the drop-in's commit: one RPUSH, all partitions"
    assert(rpushes.drop(1).all? { |cmd| cmd.size == 3 }, "rafka-rb's own: one RPUSH per partition")
    assert_equal({}, c.commit, "committing nothing sends nothing")
  end

  def test_dropin_same_results_and_errors_as_rafka_rbs_own_consume_batch
    topic = new_topic
    produce(topic, values("v", 30)) { |v| v }
    ours = consumer(topic, unique("g"), "dropin").consume_batch(batch_size: 30, batching_max_sec: MAX_SEC)
    theirs_consumer = consumer(topic, unique("g"), "rafka_rb")
    theirs = theirs_consumer.method(:consume_batch).super_method.call(batch_size: 30, batching_max_sec: MAX_SEC)
    assert_equal theirs.class, ours.class
    assert_equal theirs.map(&:class).uniq, ours.map(&:class).uniq
    assert_equal triples(theirs).sort, triples(ours).sort, "the same messages, partitions and offsets"
    assert_equal theirs.map(&:topic).uniq, ours.map(&:topic).uniq

    # Arguments rafka-rb refuses are refused the same way.
    c = consumer(topic, unique("g"), "args")
    mine = assert_raises(ArgumentError) { c.consume_batch }
    own = assert_raises(ArgumentError) { c.method(:consume_batch).super_method.call }
    assert_equal own.message, mine.message
    assert_raises(ArgumentError) { c.consume_batch(batch_size: 1, no_such_option: 1) }

    # Server errors map to the same rafka-rb classes and messages.
    bad = consumer(topic, unique("g"), "bad", librdkafka: { "no.such.property" => "1" })
    mine = assert_raises(Rafka::ConsumeError) { bad.consume_batch(batch_size: 1) }
    own = assert_raises(Rafka::ConsumeError) { bad.method(:consume_batch).super_method.call(batch_size: 1) }
    assert_equal own.message, mine.message
    assert_match(/no\.such\.property/, mine.message)
    refute mine.message.start_with?("CONS "), "the prefix is cut, as rafka-rb's wrap_errors does"
  end

  def test_dropin_batching_max_sec_bounds_the_batch
    topic = new_topic
    sent = produce(topic, values("v", 5))
    c = consumer(topic, unique("g"), "c1")
    before = acks_stored
    started = Time.now
    got = c.consume_batch(batching_max_sec: 4, timeout: 1)
    elapsed = Time.now - started
    assert_equal sent.sort, got.map(&:value).sort, "what arrived within batching_max_sec"
    assert_operator elapsed, :>=, 4, "kept batching until batching_max_sec"
    # rafka-rb checks the clock between fetches, each waiting at most `timeout`, so it returns
    # within 4 + 1 s. The bound sits between that and twice batching_max_sec (a drop-in that
    # restarted its clock, found by breaking it on purpose, takes 8 s or more), with 3 s to
    # spare for a loaded machine.
    assert_operator elapsed, :<, 2 * 4, "batching_max_sec ends the batch"
    assert_equal got.map(&:partition).uniq.size, acks_stored - before
    before = acks_stored
    assert_equal [], c.consume_batch(batching_max_sec: 1, timeout: 1), "an empty batch is an empty Array"
    assert_equal before, acks_stored, "and acks nothing"
  end

  def test_dropin_reads_replies_exactly_as_redis_rb_does
    topic = new_topic
    big = Array.new(40_000) { |i| (i % 251).chr }.join.b # several of redis-rb's 16 KB reads
    sent = ["head\r\nmid\x00dle\r\n".b + (0..255).map(&:chr).join.b, "", "gr\u00fc\u00dfe", "*3\r\n$-1\r\n", big,
            "-ERR not an error", ":42", "+OK"]
    produce(topic, sent) { "one" } # one partition: the same order for both readers
    ours = consumer(topic, unique("g"), "fast")
    got = ours.consume_batch(batch_size: sent.size, batching_max_sec: MAX_SEC)
    conn = ours.redis._client.connection
    assert_includes conn.singleton_class.ancestors, Rafka::KafkactlBatch::FastRead, "the fast reader was used"
    theirs = consumer(topic, unique("g"), "redis_rb")
    own = theirs.method(:consume_batch).super_method.call(batch_size: sent.size, batching_max_sec: MAX_SEC)
    assert_equal sent.map(&:b), got.map { |m| m.value.b }, "every byte, in order"
    assert_equal own.map { |m| [m.topic, m.topic.encoding, m.partition, m.offset, m.value, m.value.encoding] },
                 got.map { |m| [m.topic, m.topic.encoding, m.partition, m.offset, m.value, m.value.encoding] },
                 "the same objects as redis-rb's own reader makes"
    assert_equal "PONG", ours.redis.ping, "the connection goes on after a fast read"

    # With the fast reader off, the drop-in goes through redis-rb's reader: same result.
    produce(topic, sent) { "one" }
    Rafka::KafkactlBatch.fast_read = false
    slow = consumer(topic, unique("g"), "slow")
    plain = slow.consume_batch(batch_size: 2 * sent.size, batching_max_sec: MAX_SEC)
    refute_includes slow.redis._client.connection.singleton_class.ancestors, Rafka::KafkactlBatch::FastRead
    assert_equal (sent + sent).map(&:b), plain.map { |m| m.value.b }
  ensure
    Rafka::KafkactlBatch.fast_read = true
  end

  # A socket of redis-rb 4's Ruby driver, as far as FastReply uses it: @buffer and reads of
  # at most `chunk` bytes at a time.
  class ChunkedSock
    def initialize(bytes, chunk)
      @buffer = "".b
      @rest = bytes.b
      @chunk = chunk
    end

    attr_reader :buffer

    def _read_from_socket(_nbytes)
      raise Errno::ECONNRESET if @rest.empty?

      @rest.slice!(0, @chunk)
    end
  end

  def resp(value)
    case value
    when nil then "$-1\r\n"
    when Integer then ":#{value}\r\n"
    when String then "$#{value.bytesize}\r\n#{value.b}\r\n".b
    when Array then "*#{value.size}\r\n".b + value.map { |v| resp(v) }.join.b
    end
  end

  def test_dropin_fast_reader_handles_every_split_of_a_reply
    enc = Encoding.default_external
    msgs = [["t", 0, 0, "plain"], ["t.x", 3, 9_999_999_999, "cr\r\nlf\x00nul*8\r\n$5\r\n".b],
            ["t", 1, 2, ""], ["t", 2, 7, "x" * 20_000], ["t", 1, 3, "gr\u00fc\u00df"]]
    rafka = msgs.map { |t, p, o, v| ["topic", t, "partition", p, "offset", o, "value", v] }
    odd = [1, 2, 3, 4, 5, 6, 7, 8] # an 8-element array that is not a message
    reply = resp(["topics:t", rafka + [odd]]) + "+PIPELINED\r\n"
    as_redis_rb = ->(v) { v.is_a?(Array) ? v.map(&as_redis_rb) : v.is_a?(String) ? v.dup.force_encoding(enc) : v }
    want = as_redis_rb.call(["topics:t", rafka + [odd]])
    [1, 2, 3, 7, 16, 101, 16_384, reply.bytesize].each do |chunk|
      sock = ChunkedSock.new(reply, chunk)
      got = Rafka::KafkactlBatch::FastReply.new(sock).reply
      assert want == got, "chunks of #{chunk} bytes: #{got.inspect[0, 300]}"
      got[1][0, msgs.size].each do |m|
        assert_equal [enc] * 5, [m[0], m[1], m[2], m[4], m[6]].map(&:encoding)
        assert_equal enc, m[7].encoding, "values in Encoding.default_external, as redis-rb gives them"
      end
      rest = sock.buffer + (sock.instance_variable_get(:@rest) || "")
      assert_equal "+PIPELINED\r\n", rest, "what follows the reply is left for redis-rb"
    end
    assert_nil Rafka::KafkactlBatch::FastReply.new(ChunkedSock.new("*-1\r\n", 2)).reply
    err = Rafka::KafkactlBatch::FastReply.new(ChunkedSock.new("-CONS No consumer\r\n", 3)).reply
    assert_instance_of Redis::CommandError, err
    assert_equal "CONS No consumer", err.message
  end

  # --- against a server without BLMPOP (Rafka) ---------------------------------------------

  def fake_rafka(messages, **opts)
    fake = FakeRafka.new(messages, **opts)
    closing { fake.close }
    fake
  end

  def fake_consumer(fake, id, **opts)
    c = Rafka::Consumer.new(host: "127.0.0.1", port: fake.port, topic: "t", group: "g", id: id, **opts)
    closing { c.redis.close }
    c
  end

  def test_fallback_to_rafka_rbs_own_consume_batch_against_rafka
    msgs = { "t" => [[0, "a"], [1, "b"], [0, "c"], [1, "d"], [0, "e"], [2, "f"]] }
    fake = fake_rafka(msgs)
    c = fake_consumer(fake, "c1")
    yielded = nil
    got = c.consume_batch(batch_size: 3) { |batch| yielded = batch }
    assert_same yielded, got
    assert_equal [[0, 0, "a"], [1, 0, "b"], [0, 1, "c"]], triples(got)
    assert(got.all? { |m| m.instance_of?(Rafka::Message) })
    wire = fake.commands.select { |name, _| name == "g:c1" }.map { |_, cmd| cmd[0].upcase }
    assert_equal %w[BLMPOP BLPOP BLPOP BLPOP RPUSH RPUSH], wire,
                 "one refused BLMPOP, then rafka-rb's BLPOP per message and RPUSH per partition"
    assert_equal ["t:0:1", "t:1:0"], fake.acks

    # The answer is cached: no second probe, and #commit stays rafka-rb's (Rafka would read
    # only the first ack of a multi-ack RPUSH).
    got = c.consume_batch(batch_size: 2)
    assert_equal [[1, 1, "d"], [0, 2, "e"]], triples(got)
    assert_equal({ "t" => { 2 => 0 } }, c.commit(*c.consume_batch(batch_size: 1)))
    wire = fake.commands.select { |name, _| name == "g:c1" }.map { |_, cmd| cmd[0].upcase }
    assert_equal 1, wire.count("BLMPOP"), "BLMPOP probed once per consumer"
    assert(fake.commands.all? { |_, cmd| !cmd[0].casecmp?("RPUSH") || cmd.size == 3 }, "never a multi-ack RPUSH")
    assert_equal ["t:0:1", "t:1:0", "t:1:1", "t:0:2", "t:2:0", "t:2:0"], fake.acks

    # Exactly what rafka-rb's own consume_batch returns and sends against the same server.
    fake2 = fake_rafka(msgs)
    own = fake_consumer(fake2, "c1")
    own_got = own.method(:consume_batch).super_method.call(batch_size: 3)
    assert_equal triples(own_got), triples(fake_consumer(fake_rafka(msgs), "c1").consume_batch(batch_size: 3))
    assert_equal ["t:0:1", "t:1:0"], fake2.acks
  end

  def test_fallback_keeps_rafka_rbs_commit_rules_and_older_error_text
    # Rafka before 0.4 answered "Command not supported" without the command's name.
    fake = fake_rafka({ "t" => [[0, "a"], [0, "b"], [1, "c"]] }, unsupported_reply: "Command not supported")
    c = fake_consumer(fake, "c1")
    assert_raises(BlockFailure) { c.consume_batch(batch_size: 2) { raise BlockFailure } }
    assert_empty fake.acks, "a raise in the block acks nothing"
    manual = fake_consumer(fake, "c2", auto_commit: false)
    got = manual.consume_batch(batching_max_sec: 0.5)
    assert_equal [[1, 0, "c"]], triples(got), "batching_max_sec alone, through rafka-rb's loop"
    assert_empty fake.acks, "auto_commit: false acks nothing"
    assert_equal({ "t" => { 1 => 0 } }, manual.commit(*got))
    assert_equal ["t:1:0"], fake.acks
  end
end
