# frozen_string_literal: true

# Drives `kafkactl proxy` from Ruby exactly the way a Rails app does: the `redis` gem (4.x, as
# packaged by Debian) used the way the rafka-rb gem uses it.
#
#   KAFKACTL_PROXY=127.0.0.1:6380 ruby tests/ruby/proxy_test.rb [-v] [-n /pattern/]
#
# tests/ruby_client.rs starts a broker (the dev broker or Apache Kafka) and a proxy and runs this
# file. Real Kafka creates no topic by itself, so the harness creates a pool of 4-partition
# topics and names them in KAFKACTL_TEST_TOPICS; every test takes its own topics from the pool
# (or, when the file is run by hand without it, makes up names the dev broker auto-creates) and
# uses its own groups.

begin
  require "redis"
rescue LoadError => e
  abort "proxy_test.rb: cannot load the redis gem (#{e.message}); run scripts/deps.sh"
end
require "minitest/autorun"
require "securerandom"
require "json"
require "set"
require_relative "sentinels"

PROXY = ENV["KAFKACTL_PROXY"].to_s
abort "proxy_test.rb: set KAFKACTL_PROXY=host:port" unless PROXY =~ /\A(.+):(\d+)\z/
PROXY_HOST = Regexp.last_match(1)
PROXY_PORT = Integer(Regexp.last_match(2))
TOPIC_POOL = ENV["KAFKACTL_TEST_TOPICS"].to_s.split(",")

# rafka-rb's exception classes and its error mapping (Rafka.wrap_errors).
module Rafka
  class Error < StandardError; end
  class ConsumeError < Error; end
  class ProduceError < Error; end
  class CommandError < Error; end

  def self.wrap_errors
    yield
  rescue Redis::CommandError => e
    if e.message.start_with?("PROD ")
      raise ProduceError, e.message[5..]
    elsif e.message.start_with?("CONS ")
      raise ConsumeError, e.message[5..]
    else
      raise CommandError, e.message
    end
  end

  # A consumed message, parsed like rafka-rb's Rafka::Message (with the field names checked).
  Message = Struct.new(:topic, :partition, :offset, :value) do
    def self.parse(reply)
      unless reply.is_a?(Array) && reply.size == 8
        raise ArgumentError, "malformed message (want an 8-element array): #{reply.inspect}"
      end
      fields = Hash[*reply]
      unless fields.keys == %w[topic partition offset value]
        raise ArgumentError, "malformed message field names: #{reply.inspect}"
      end
      unless fields["partition"].is_a?(Integer) && fields["offset"].is_a?(Integer)
        raise ArgumentError, "partition and offset must be RESP integers: #{reply.inspect}"
      end
      new(fields["topic"], fields["partition"], fields["offset"], fields["value"])
    end

    def ack
      "#{topic}:#{partition}:#{offset}"
    end
  end
end

module ProxyHelpers
  READ_TIMEOUT = 10

  # A connection to the proxy; closed in teardown.
  def connect(**opts)
    redis = Redis.new(host: PROXY_HOST, port: PROXY_PORT, timeout: READ_TIMEOUT, **opts)
    (@connections ||= []) << redis
    redis
  end

  def teardown
    (@connections || []).each do |r|
      r.close
    rescue StandardError
      nil
    end
  end

  # A topic of its own for this test: 4 partitions, nothing in it yet.
  def new_topic
    return unique("t") if ENV["KAFKACTL_TEST_TOPICS"].to_s.empty?

    TOPIC_POOL.shift or flunk("KAFKACTL_TEST_TOPICS ran out of topics: give the harness a bigger pool")
  end

  def unique(what)
    "rb_#{name.sub(/\Atest_/, "")[0, 40]}_#{what}_#{SecureRandom.hex(4)}"
  end

  # Waits until the block is truthy, failing after `limit` seconds.
  def wait_until(what, limit: 10)
    deadline = Time.now + limit
    loop do
      result = yield
      return result if result
      flunk "timed out after #{limit}s waiting for #{what}" if Time.now > deadline
      sleep 0.05
    end
  end

  # rafka-rb's Producer: RPUSHX topics:<topic>[:<key>] <value>, DUMP <ms> to flush.
  class Producer
    attr_reader :redis

    def initialize(redis)
      @redis = redis
    end

    def produce(topic, value, key: nil)
      redis_key = +"topics:#{topic}"
      redis_key << ":#{key}" if key
      Rafka.wrap_errors { @redis.rpushx(redis_key, value) }
    end

    def flush(timeout_ms = 10_000)
      Rafka.wrap_errors { Integer(@redis.dump(timeout_ms.to_s)) }
    end
  end

  # rafka-rb's Consumer: `Redis.new(id: "<group>:<name>")` makes the gem send
  # CLIENT SETNAME <group>:<name> when it connects; then BLPOP topics:<topics>[:<json>] <timeout>
  # (retried on "CONS Server shutdown"), and RPUSH acks <topic>:<partition>:<offset>.
  class Consumer
    attr_reader :redis

    def initialize(redis, key)
      @redis = redis
      @key = key
    end

    # The next message or nil; acked unless ack: false.
    def consume(timeout = 5, ack: true)
      msg = nil
      attempts = 0
      begin
        Rafka.wrap_errors do
          reply = @redis.blpop(@key, timeout: timeout)
          msg = Rafka::Message.parse(reply) if reply
        end
      rescue Rafka::ConsumeError => e
        if e.message.start_with?("Server shutdown") && attempts < 3
          attempts += 1
          sleep 0.5
          retry
        end
        raise
      end
      commit(msg) if msg && ack
      msg
    end

    def commit(msg)
      reply = Rafka.wrap_errors { @redis.rpush("acks", msg.ack) }
      raise "RPUSH acks #{msg.ack} replied #{reply.inspect}, want 1" unless reply == 1
      reply
    end

    # Consumes until `count` messages arrived (or `limit` seconds passed).
    def take(count, limit: 20, ack: true)
      got = []
      deadline = Time.now + limit
      while got.size < count && Time.now < deadline
        msg = consume(2, ack: ack)
        got << msg if msg
      end
      got
    end
  end

  def producer
    Producer.new(connect)
  end

  def consumer(group, name, key)
    Consumer.new(connect(id: "#{group}:#{name}"), key)
  end

  # Produces `values` (optionally keyed by a block) and waits until all are delivered.
  def produce_all(topic, values, via: producer)
    values.each do |v|
      key = block_given? ? yield(v) : nil
      assert_equal 1, via.produce(topic, v, key: key), "RPUSHX of #{v.inspect}"
    end
    assert_equal 0, via.flush, "DUMP: every message delivered"
    values
  end

  def values(prefix, count)
    Array.new(count) { |i| "#{prefix}-#{i}-#{SecureRandom.hex(3)}" }
  end

  include Sentinels

  # What `c` delivers before a round of sentinels (sentinels.rb).
  def delivered_before_sentinels(c, topic)
    sentinels = produce_all(topic, sentinel_values) { |v| sentinel_key(v) }
    delivered_before(sentinels, 30) { [c.consume(2)].compact }
  end

  def assert_cons_error(pattern = nil, &block)
    err = assert_raises(Redis::CommandError, &block)
    assert err.message.start_with?("CONS "), "want a CONS error, got #{err.message.inspect}"
    assert_match pattern, err.message if pattern
    mapped = assert_raises(Rafka::ConsumeError) { Rafka.wrap_errors { raise err } }
    assert_equal err.message[5..], mapped.message
    err.message
  end

  def assert_prod_error(pattern = nil, &block)
    err = assert_raises(Redis::CommandError, &block)
    assert err.message.start_with?("PROD "), "want a PROD error, got #{err.message.inspect}"
    assert_match pattern, err.message if pattern
    assert_raises(Rafka::ProduceError) { Rafka.wrap_errors { raise err } }
    err.message
  end

  def assert_generic_error(pattern, &block)
    err = assert_raises(Redis::CommandError, &block)
    refute_match(/\A(CONS|PROD) /, err.message)
    assert_match pattern, err.message
    assert_raises(Rafka::CommandError) { Rafka.wrap_errors { raise err } }
    err.message
  end
end

class ProxyTest < Minitest::Test
  include ProxyHelpers

  # --- produce / consume -------------------------------------------------------------------

  def test_produce_consume_ack_roundtrip
    topic = new_topic
    sent = produce_all(topic, values("v", 10))
    c = consumer(unique("g"), "c1", "topics:#{topic}")
    got = c.take(sent.size)
    assert_equal sent.sort, got.map(&:value).sort, "every produced value consumed once"
    got.each do |m|
      assert_equal topic, m.topic
      assert_includes 0..3, m.partition, "auto-created topics have 4 partitions"
      assert_operator m.offset, :>=, 0
    end
    got.group_by(&:partition).each_value do |msgs|
      assert_equal msgs.map(&:offset).sort, msgs.map(&:offset), "offsets ascend within a partition"
      assert_equal msgs.size, msgs.map(&:offset).uniq.size
    end
    assert_empty delivered_before_sentinels(c, topic).map(&:value), "nothing left after all messages were consumed"
    stats = producer.redis.hgetall("stats")
    assert_operator Integer(stats["consumer.acks"]), :>=, sent.size
  end

  def test_produce_keyed_messages_go_to_one_partition_per_key
    topic = new_topic
    keys = Array.new(12) { |i| "key#{i}" }
    sent = {}
    prod = producer
    3.times do |round|
      keys.each do |k|
        v = "#{k}-#{round}-#{SecureRandom.hex(3)}"
        sent[v] = k
        assert_equal 1, prod.produce(topic, v, key: k)
      end
    end
    assert_equal 0, prod.flush
    c = consumer(unique("g"), "c1", "topics:#{topic}")
    got = c.take(sent.size)
    assert_equal sent.keys.sort, got.map(&:value).sort
    by_key = got.group_by { |m| sent.fetch(m.value) }
    by_key.each do |k, msgs|
      assert_equal 1, msgs.map(&:partition).uniq.size, "key #{k} landed in #{msgs.map(&:partition)}"
      # Same partition, so the produce order of a key is kept.
      assert_equal msgs.sort_by(&:offset).map { |m| m.value.split("-")[1] }, %w[0 1 2]
    end
    assert_operator got.map(&:partition).uniq.size, :>=, 2, "12 keys spread over partitions"
  end

  def test_produce_pipelined_from_one_connection
    topic = new_topic
    vals = values("pipe", 50)
    redis = connect
    replies = redis.pipelined { |pipe| vals.each { |v| pipe.rpushx("topics:#{topic}", v) } }
    assert_equal [1] * vals.size, replies
    assert_equal 0, Integer(redis.dump("10000"))
    got = consumer(unique("g"), "c1", "topics:#{topic}").take(vals.size)
    assert_equal vals.sort, got.map(&:value).sort
  end

  def test_produce_binary_safe_values
    topic = new_topic
    binary = ("head\r\nmid\x00dle\r\n" + (0..255).map(&:chr).join + "\r\n").b
    other = "\x00".b
    empty = ""
    prod = producer
    [binary, other, empty].each { |v| assert_equal 1, prod.produce(topic, v, key: "same") }
    assert_equal 0, prod.flush
    got = consumer(unique("g"), "c1", "topics:#{topic}").take(3)
    assert_equal 3, got.size
    assert_equal binary, got[0].value.b, "CRLF, NUL and every byte value survive"
    assert_equal binary.bytesize, got[0].value.bytesize
    assert_equal other, got[1].value.b
    assert_equal empty, got[2].value, "an empty value comes back as an empty string, not nil"
  end

  def test_produce_dump_without_a_producer_is_zero
    assert_equal 0, Integer(connect.dump("100"))
  end

  # --- consumer groups ---------------------------------------------------------------------

  def test_group_resumes_after_acked_offsets_on_a_new_connection
    topic = new_topic
    group = unique("g")
    first = produce_all(topic, values("a", 20)) { |v| v } # keyed by value: spread over partitions
    c1 = consumer(group, "c1", "topics:#{topic}")
    acked = c1.take(8)
    assert_equal 8, acked.size
    assert_equal "OK", c1.redis.quit
    refute c1.redis.connected?

    second = produce_all(topic, values("b", 5)) { |v| v }
    c2 = consumer(group, "c2", "topics:#{topic}")
    rest = c2.take(first.size + second.size - acked.size, limit: 30)
    rest += delivered_before_sentinels(c2, topic)
    rest_values = rest.map(&:value)
    assert_empty rest_values & acked.map(&:value), "acked messages are not delivered again"
    assert_equal rest_values.uniq.size, rest_values.size, "no duplicates"
    assert_equal (first + second - acked.map(&:value)).sort, rest_values.sort,
                 "the new connection gets exactly what was not acked"
  end

  def test_group_without_acks_redelivers_to_the_next_consumer
    topic = new_topic
    group = unique("g")
    sent = produce_all(topic, values("v", 6))
    c1 = consumer(group, "c1", "topics:#{topic}")
    seen = c1.take(sent.size, ack: false)
    assert_equal sent.sort, seen.map(&:value).sort
    assert_equal "OK", c1.redis.quit
    sleep 1.5 # longer than auto.commit.interval.ms: nothing was stored, so nothing is committed
    c2 = consumer(group, "c2", "topics:#{topic}")
    again = c2.take(sent.size, limit: 30)
    assert_equal seen.map { |m| [m.partition, m.offset, m.value] }.sort,
                 again.map { |m| [m.partition, m.offset, m.value] }.sort,
                 "unacked messages come back at the same partitions and offsets"
  end

  def test_group_same_id_can_be_reused_after_the_connection_closes
    topic = new_topic
    group = unique("g")
    sent = produce_all(topic, values("v", 4))
    c1 = consumer(group, "worker", "topics:#{topic}")
    got = c1.take(2)
    assert_equal 2, got.size
    c1.redis.quit
    # rafka-rb apps often use a fixed id (e.g. the hostname): a restarted worker reconnects with
    # the same one.
    c2 = wait_until("the id #{group}:worker to be free again", limit: 10) do
      c = consumer(group, "worker", "topics:#{topic}")
      c.redis.ping
      c
    rescue Redis::CommandError => e
      raise unless e.message.include?("already taken")
      nil
    end
    assert_equal "#{group}:worker", c2.redis.call(:client, :getname)
    rest = c2.take(sent.size - 2, limit: 30)
    assert_equal (sent - got.map(&:value)).sort, rest.map(&:value).sort
  end

  def test_group_two_consumers_split_the_partitions
    topic = new_topic
    group = unique("g")
    produce_all(topic, ["warmup"]) # creates the topic (4 partitions) before anyone subscribes
    received = { "c1" => [], "c2" => [] }
    lock = Mutex.new
    stop = false
    errors = Queue.new
    threads = received.keys.map do |n|
      c = consumer(group, n, "topics:#{topic}")
      Thread.new do
        until stop
          msg = c.consume(1) # acks every message it gets, like rafka-rb's consume
          lock.synchronize { received[n] << msg } if msg
        end
      rescue StandardError => e
        errors << e
      end
    end
    prod = producer
    begin
      # Phase 1: the second member joins and the group rebalances. Probe until both members
      # have been handed messages, i.e. both hold partitions of the settled group. (Messages
      # around the rebalance may legitimately come twice on the dev broker: its mock
      # coordinator refuses the commit-on-revoke with REBALANCE_IN_PROGRESS.)
      wait_until("both members to be assigned partitions", limit: 40) do
        raise errors.pop unless errors.empty?
        values("probe", 8).each { |v| prod.produce(topic, v, key: v) }
        assert_equal 0, prod.flush
        sleep 0.5
        lock.synchronize { received.values.all?(&:any?) }
      end
      sleep 1
      # Phase 2: with the group stable, every message must be consumed exactly once.
      sent = produce_all(topic, values("w", 40), via: prod) { |v| v }
      wait_until("all #{sent.size} messages consumed", limit: 30) do
        raise errors.pop unless errors.empty?
        lock.synchronize { received.values.flatten.count { |m| m.value.start_with?("w-") } >= sent.size }
      end
      sleep 2 # anything delivered twice would show up now
    ensure
      stop = true
      threads.each { |t| t.join(10) }
    end
    raise errors.pop unless errors.empty?
    phase2 = received.transform_values { |msgs| msgs.select { |m| m.value.start_with?("w-") } }
    assert_equal sent.sort, phase2.values.flatten.map(&:value).sort,
                 "every message consumed exactly once across both members"
    phase2.each { |n, msgs| refute_empty msgs, "#{n} got a share of the messages" }
    parts = phase2.transform_values { |msgs| msgs.map(&:partition).uniq.sort }
    assert_empty parts["c1"] & parts["c2"], "each partition has one owner: #{parts}"
    assert_equal 4, (parts["c1"] + parts["c2"]).size, "40 keys cover the 4 partitions: #{parts}"
  end

  # --- BLPOP key forms ---------------------------------------------------------------------

  def test_blpop_multiple_topics_in_one_key
    a = new_topic
    b = new_topic
    sent_a = produce_all(a, values("a", 4))
    sent_b = produce_all(b, values("b", 4))
    c = consumer(unique("g"), "c1", "topics:#{a},#{b}")
    got = c.take(8)
    assert_equal sent_a.sort, got.select { |m| m.topic == a }.map(&:value).sort
    assert_equal sent_b.sort, got.select { |m| m.topic == b }.map(&:value).sort
    assert_equal 8, got.size
    err = assert_cons_error(/one consumer/) { c.redis.blpop("topics:#{a}", timeout: 1) }
    assert_includes err, a, "a different topic list on the same connection is refused"
  end

  def test_blpop_json_config_latest_sees_only_new_messages
    topic = new_topic
    before = produce_all(topic, values("before", 5))
    key = %(topics:#{topic}:{"auto.offset.reset":"latest"})
    latest = consumer(unique("g"), "c1", key)
    # Produce until the consumer (whose start offset resolves once it is assigned) sees one.
    prod = producer
    after = []
    got = []
    deadline = Time.now + 20
    while got.empty? && Time.now < deadline
      after.concat(produce_all(topic, values("after", 2), via: prod))
      got.concat(latest.take(1, limit: 2))
    end
    # Anything old it wrongly delivered would come before the sentinels of its partition.
    got.concat(delivered_before_sentinels(latest, topic))
    refute_empty got, "the latest consumer sees messages produced after it joined"
    assert_empty got.map(&:value) & before, "a latest consumer ignores what was there before it joined"
    assert got.all? { |m| after.include?(m.value) }, got.map(&:value).inspect
    # The override is for that consumer only: another group without it reads from the start.
    plain = consumer(unique("g"), "c1", "topics:#{topic}")
    everything = plain.take(before.size + after.size + Sentinels::KEYS.size).map(&:value)
    assert_equal (before + after).sort, everything.grep_v(/\Asentinel-/).sort
  end

  def test_blpop_json_config_may_contain_colons
    topic = new_topic
    sent = produce_all(topic, values("v", 2))
    key = %(topics:#{topic}:{"auto.offset.reset":"earliest","client.rack":"rack:1"})
    got = consumer(unique("g"), "c1", key).take(2)
    assert_equal sent.sort, got.map(&:value).sort
  end

  def test_blpop_invalid_json_config_is_a_cons_error
    topic = new_topic
    produce_all(topic, ["x"])
    key = "topics:#{topic}:{not json"
    c = consumer(unique("g"), "c1", key)
    assert_cons_error(/JSON/i) { c.redis.blpop(key, timeout: 1) }
    assert_raises(Rafka::ConsumeError) { c.consume(1) }
    assert_equal "PONG", c.redis.ping, "the connection stays usable"
  end

  def test_blpop_unknown_property_is_a_cons_error_naming_it
    topic = new_topic
    produce_all(topic, ["x"])
    key = %(topics:#{topic}:{"no.such.property":"1"})
    c = consumer(unique("g"), "c1", key)
    assert_cons_error(/no\.such\.property/) { c.redis.blpop(key, timeout: 1) }
    assert_equal "PONG", c.redis.ping
    # Settings the proxy relies on cannot be overridden per consumer either.
    key2 = %(topics:#{topic}:{"enable.auto.offset.store":"true"})
    c2 = consumer(unique("g"), "c2", key2)
    assert_cons_error(/enable\.auto\.offset\.store/) { c2.redis.blpop(key2, timeout: 1) }
  end

  def test_blpop_timeout_returns_nil
    topic = new_topic
    produce_all(topic, ["only"])
    c = consumer(unique("g"), "c1", "topics:#{topic}")
    assert_equal ["only"], c.take(1).map(&:value)
    started = Time.now
    assert_nil c.redis.blpop("topics:#{topic}", timeout: 1)
    elapsed = Time.now - started
    assert_operator elapsed, :>=, 0.9, "BLPOP waited its timeout"
    assert_equal "PONG", c.redis.ping
  end

  # --- identity, errors, generic commands ----------------------------------------------------

  def test_misc_client_setname_and_getname
    group = unique("g")
    a = connect
    assert_equal "OK", a.call(:client, :setname, "#{group}:one")
    assert_equal "#{group}:one", a.call(:client, :getname)
    assert_equal "#{group}:one", a._client.call([:client, :getname]), "the gem's low-level call"
    assert_cons_error(/\ACONS Client name already set/) { a.call(:client, :setname, "#{group}:two") }
    b = connect
    assert_cons_error(/\ACONS id #{Regexp.escape(group)}:one is already taken\z/) do
      b.call(:client, :setname, "#{group}:one")
    end
    assert_cons_error(/\ACONS Cannot parse group\.id\z/) { b.call(:client, :setname, "nocolon") }
    # The gem's id: option sends CLIENT SETNAME on connect, so the error surfaces there.
    dup = connect(id: "#{group}:one")
    assert_cons_error(/already taken/) { dup.ping }
  end

  def test_misc_errors_have_rafka_prefixes
    r = connect
    assert_prod_error(/\APROD RPUSHX accepts 2 arguments, got 1\z/) { r.call(:rpushx, "topics:x") }
    assert_prod_error(/\APROD RPUSHX accepts 2 arguments, got 3\z/) do
      r.call(:rpushx, "topics:x", "a", "b")
    end
    assert_prod_error(/topics:<topic>/) { r.rpushx("notatopic", "v") }
    assert_prod_error(/topics:<topic>/) { r.rpushx("topics:", "v") }
    assert_prod_error(/\APROD /) { r.dump("soon") }
    assert_cons_error(/\ACONS You can only RPUSH to the 'acks' key\z/) { r.rpush("queue", "x") }
    assert_cons_error(/Cannot parse ack/) { r.rpush("acks", "garbage") }
    assert_cons_error(/Negative offset/) { r.rpush("acks", "t:0:-1") }
    assert_cons_error(/No consumer/) { r.rpush("acks", "t:0:1") }
    assert_cons_error(/Identify yourself/) { r.blpop("topics:whatever", timeout: 1) }
    assert_cons_error(/Cannot parse topics/) do
      connect(id: "#{unique("g")}:c").blpop("notopics", timeout: 1)
    end
    assert_generic_error(/\ACommand not supported: FLUSHALL\z/) { r.call(:flushall) }
    assert_generic_error(/\AERR /) { r.keys("*") }
    assert_generic_error(/\AERR /) { r.hgetall("other") }
    assert_equal "PONG", r.ping, "errors do not break the connection"
  end

  def test_misc_stats_keys_ping_quit
    topic = new_topic
    r = connect
    produce_all(topic, values("s", 3), via: Producer.new(r))
    stats = r.hgetall("stats")
    assert_kind_of Hash, stats
    %w[producer.delivery.errors producer.unflushed.messages producer.unknown.events].each do |k|
      assert_includes stats.keys, k
    end
    stats.each { |k, v| assert_match(/\A-?\d+\z/, v, "#{k} is a decimal string") }
    assert_equal "0", stats["producer.delivery.errors"]
    assert_operator Integer(stats["producer.messages.delivered"]), :>=, 3
    assert_equal 1, r.del("stats")
    assert_equal "0", r.hgetall("stats")["producer.messages.delivered"], "DEL stats resets counters"

    keys = r.keys("topics:")
    assert_includes keys, "topics:#{topic}"
    assert keys.all? { |k| k.start_with?("topics:") }, keys.inspect

    assert_equal "PONG", r.ping
    assert_equal "OK", r.quit
    refute r.connected?
  end
end
