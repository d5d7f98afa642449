# frozen_string_literal: true

# Tests of the Ruby handler library (examples/ruby/kafka_consumer.rb) and its example consumer,
# from the worker's side: each test spawns a handler as a child process and speaks the handler
# protocol (docs/handler-protocol.md) to it over pipes, checking every reply line the way the
# worker's decoder does (src/worker/protocol.rs).
#
#   ruby tests/handlers/ruby_handler_test.rb [-v] [-n /pattern/]
#
# Standard library and minitest only (Debian's ruby package ships minitest). Run by
# tests/handler_libraries.rs.

require "minitest/autorun"
require "json"
require "open3"
require "tmpdir"
require "fileutils"

ROOT = File.expand_path("../..", __dir__)
LIBRARY = File.join(ROOT, "examples/ruby/kafka_consumer.rb")

# A consumer that does what each message's value says, and records what it saw in TRACE_LOG.
SCRIPTED_CONSUMER = <<~'RUBY'
  require ENV.fetch("KAFKA_CONSUMER_LIB")

  class ScriptedConsumer < KafkaConsumer
    set_topic "test_topic"
    non_retryable ArgumentError, "Some::UnloadedError"

    around_process do |msg, run|
      trace "around-outer-in #{msg.offset}"
      run.call
      trace "around-outer-out #{msg.offset}"
    end
    around_process :inner_around
    before_process { |msg| trace "before #{msg.offset}" }
    before_process :second_before
    after_process { |msg| trace "after #{msg.offset}" }

    def inner_around(msg)
      trace "around-inner-in #{msg.offset}"
      yield
      trace "around-inner-out #{msg.offset}"
    end

    def second_before(msg)
      trace "before2 #{msg.offset} #{init.consumer}:#{init.instance}"
    end

    def process(msg)
      trace "process #{msg.offset}"
      case msg.value
      when "raise" then raise "boom at offset #{msg.offset}"
      when "permanent" then raise KafkaConsumer::PermanentError, "cannot ever parse #{msg.offset}"
      when "argument" then raise ArgumentError, "listed as non-retryable"
      when "invalid-utf8" then raise "bad bytes \xff\xfe here".b
      when "huge-error" then raise "x" * 100_000
      when "not-implemented" then raise NotImplementedError, "a ScriptError"
      when "puts"
        puts "puts from process"
        print "print without a newline"
        $stdout.write("$stdout.write\n")
        STDOUT.puts "STDOUT.puts"
        p :p_from_process
        system("echo from a child process")
        $stdout.flush
      when "echo"
        record = {
          key: msg.key&.then { |k| [k].pack("m0") },
          value: msg.value&.then { |v| [v].pack("m0") },
          key_encoding: msg.key&.encoding&.to_s,
          value_encoding: msg.value&.encoding&.to_s,
          headers: msg.headers.map { |(n, v)| [n, [v].pack("m0")] },
          timestamp_ms: msg.timestamp_ms,
          timestamp: msg.timestamp&.to_r&.*(1000)&.to_i,
          topic: msg.topic, partition: msg.partition,
        }
        trace "echo #{JSON.generate(record)}"
      end
    end

    private

    def trace(line)
      File.open(ENV.fetch("TRACE_LOG"), "a") { |f| f.puts(line) }
    end
  end
RUBY

# Two consumer classes in one script: the automatic run refuses to guess, `run!` chooses.
EXPLICIT_RUN = <<~'RUBY'
  require ENV.fetch("KAFKA_CONSUMER_LIB")

  class FirstConsumer < KafkaConsumer
    def process(_msg) = raise("the wrong consumer ran")
  end

  class SecondConsumer < KafkaConsumer
    def process_batch(msgs)
      warn "second consumer got #{msgs.size}"
    end
  end

  SecondConsumer.run! if ENV["RUN_EXPLICITLY"]
RUBY

NO_PROCESS = <<~'RUBY'
  require ENV.fetch("KAFKA_CONSUMER_LIB")

  class LazyConsumer < KafkaConsumer
    set_topic "t"
  end
RUBY

# One handler child process, driven like the worker drives it.
class Handler
  REPLY_TIMEOUT = 15

  # The reply shapes src/worker/protocol.rs accepts (it denies unknown fields).
  SHAPES = {
    "ready" => { required: %w[type version], optional: [] },
    "ack" => { required: %w[type id], optional: [] },
    "fail" => { required: %w[type id error], optional: %w[retryable] },
    "bye" => { required: %w[type], optional: [] },
  }.freeze

  attr_reader :pid

  def initialize(argv, env)
    @stdin, @stdout, @stderr, @waiter = Open3.popen3(env, *argv, chdir: ROOT)
    @pid = @waiter.pid
    [@stdin, @stdout, @stderr].each(&:binmode)
    @stdin.sync = true
    @stderr_reader = Thread.new { @stderr.read }
    @pending = +"".b
  end

  def send_message(object)
    send_raw(JSON.generate(object) + "\n")
  end

  def send_raw(bytes)
    @stdin.write(bytes)
    @stdin.flush
  end

  def init(consumer: "scripted", instance: 1, topics: ["test_topic"])
    send_message(type: "init", version: 1, consumer: consumer, instance: instance,
         group: "myapp-#{consumer}", topics: topics)
    reply = read_reply
    raise "expected ready, got #{reply.inspect}" unless reply == { "type" => "ready", "version" => 1 }

    reply
  end

  # Sends a batch of [key, value, extra fields] messages; returns the reply.
  def batch(id, messages)
    send_message(type: "batch", id: id, messages: messages)
    read_reply
  end

  # The next stdout line, checked like the worker checks it.
  def read_reply(timeout: REPLY_TIMEOUT)
    line = read_line(timeout)
    raise "the handler closed its stdout (exit #{wait.inspect}); stderr:\n#{stderr}" if line.nil?
    raise "reply line of #{line.bytesize} bytes: over 64 KiB" if line.bytesize > 64 * 1024

    reply = JSON.parse(line.chomp)
    raise "reply is not an object: #{line.inspect}" unless reply.is_a?(Hash)

    shape = SHAPES[reply["type"]] or raise "unknown reply type in #{line.inspect}"
    missing = shape[:required] - reply.keys
    unknown = reply.keys - shape[:required] - shape[:optional]
    raise "reply #{line.inspect} misses #{missing}" unless missing.empty?
    raise "reply #{line.inspect} has unknown fields #{unknown}" unless unknown.empty?

    reply
  rescue JSON::ParserError
    raise "a stdout line that is not JSON: #{line.inspect}; stderr:\n#{stderr_so_far}"
  end

  def close_stdin
    @stdin.close unless @stdin.closed?
  end

  # Waits for the exit; returns the Process::Status, or nil on timeout (after killing it).
  def wait(timeout: REPLY_TIMEOUT)
    return @status if @status
    return @status = @waiter.value if @waiter.join(timeout)

    Process.kill("KILL", @pid)
    @waiter.value
    nil
  end

  # Whatever the handler wrote to stdout after the last reply read, up to its exit.
  def rest_of_stdout
    wait
    @pending + @stdout.read
  end

  def stderr
    wait
    @stderr_text ||= @stderr_reader.value.to_s
  end

  def stderr_so_far
    @stderr_reader.alive? ? "(still running)" : @stderr_reader.value.to_s
  end

  def kill
    close_stdin
    Process.kill("KILL", @pid) if @waiter.alive?
    @waiter.join
  rescue Errno::ESRCH
    nil
  end

  private

  def read_line(timeout)
    deadline = Time.now + timeout
    until (newline = @pending.index("\n"))
      left = deadline - Time.now
      raise "no reply within #{timeout}s; stderr so far:\n#{stderr_so_far}" if left <= 0

      next unless IO.select([@stdout], nil, nil, left)

      chunk = @stdout.read_nonblock(65_536, exception: false)
      return nil if chunk.nil? && @pending.empty?
      return @pending.slice!(0..) if chunk.nil?

      @pending << chunk unless chunk == :wait_readable
    end
    @pending.slice!(0..newline)
  end
end

module HandlerTestHelpers
  def setup
    @dir = Dir.mktmpdir("kafka-handler-test")
    @handlers = []
  end

  def teardown
    @handlers.each(&:kill)
    FileUtils.remove_entry(@dir) if @dir
  end

  def path(name)
    File.join(@dir, name)
  end

  def script(name, text)
    File.write(path(name), text)
    path(name)
  end

  def spawn_handler(argv, env = {})
    base = {
      "KAFKA_CONSUMER_LIB" => LIBRARY,
      "TRACE_LOG" => path("trace.log"),
      "KAFKACTL_HANDLED_LOG" => path("handled.log"),
    }
    handler = Handler.new(argv, base.merge(env))
    @handlers << handler
    handler
  end

  def scripted
    spawn_handler(["ruby", script("scripted_consumer.rb", SCRIPTED_CONSUMER)])
  end

  def b64(bytes)
    bytes && [bytes].pack("m0")
  end

  def msg(offset, value, key: nil, topic: "test_topic", partition: 0, **extra)
    m = { topic: topic, partition: partition, offset: offset }
    m[:key] = b64(key) if key
    m[:value] = b64(value) unless value.nil?
    m.merge(extra)
  end

  def lines(name)
    File.exist?(path(name)) ? File.readlines(path(name), chomp: true) : []
  end

  def assert_clean_exit(handler, after: nil)
    status = handler.wait
    refute_nil status, "the handler did not exit #{after}; stderr:\n#{handler.stderr_so_far}"
    assert status.success?, "the handler exited #{status.inspect} #{after}; stderr:\n#{handler.stderr}"
  end
end

class RubyHandlerTest < Minitest::Test
  include HandlerTestHelpers

  def test_init_is_answered_ready_and_a_binary_batch_is_acked
    h = scripted
    h.init
    key = "key\n\x00\xff\r\n".b
    value = "{\"line\":1}\nsecond line\x00\xfe\xff\n".b
    header = "\x00\n\xff".b
    id = 2**53 + 1 # not representable as a double: must come back exact
    reply = h.batch(id, [
      msg(10, value, key: key, partition: 3, timestamp_ms: 1_523_450_393_123, headers: [["source", b64(header)], ["empty", ""]]),
      msg(11, "echo", key: "k2"),
      { topic: "test_topic", partition: 3, offset: 12 }, # a tombstone without a key
    ])
    assert_equal({ "type" => "ack", "id" => id }, reply)

    trace = lines("trace.log").grep(/\Aprocess /)
    assert_equal ["process 10", "process 11", "process 12"], trace, "messages are processed in batch order"

    # Echo the binary message itself.
    h.send_message(type: "batch", id: 3, messages: [msg(13, "echo", key: key, headers: [["source", b64(header)]], timestamp_ms: 1_523_450_393_123)])
    assert_equal({ "type" => "ack", "id" => 3 }, h.read_reply)
    echo = JSON.parse(lines("trace.log").grep(/\Aecho /).last.delete_prefix("echo "))
    assert_equal b64(key), echo["key"]
    assert_equal "ASCII-8BIT", echo["key_encoding"]
    assert_equal [["source", b64(header)]], echo["headers"]
    assert_equal 1_523_450_393_123, echo["timestamp_ms"]
    assert_equal 1_523_450_393_123, echo["timestamp"], "timestamp is a Time with ms precision"
    assert_equal ["test_topic", 0], [echo["topic"], echo["partition"]]

    h.send_message(type: "shutdown", reason: "sigterm")
    assert_equal({ "type" => "bye" }, h.read_reply)
    assert_clean_exit(h, after: "shutdown")
  end

  # batch.in_flight: the worker writes several batches before reading a reply. The library must
  # answer each, in order, without waiting for anything but its next line.
  def test_pipelined_batches_are_answered_in_order
    h = scripted
    h.init
    ids = (1..20).to_a
    ids.each { |id| h.send_message(type: "batch", id: id, messages: [msg(id, id == 7 ? "raise" : "fine")]) }
    replies = ids.map { h.read_reply }
    assert_equal ids, replies.map { |r| r["id"] }, "one reply per batch, in the order sent"
    assert_equal ["fail"], replies.map { |r| r["type"] }.uniq - ["ack"]
    assert_equal "fail", replies[6]["type"]
    assert_equal (1..20).map { |o| "process #{o}" }, lines("trace.log").grep(/\Aprocess /)
    h.send_message(type: "shutdown", reason: "sigterm")
    assert_equal({ "type" => "bye" }, h.read_reply)
    assert_clean_exit(h, after: "shutdown")
  end

  def test_binary_values_reach_process_byte_for_byte
    h = scripted
    h.init
    # Every byte value, newlines and NULs included, in both key and value; and a 1 MiB value.
    all_bytes = (0..255).map(&:chr).join.b * 4
    big = Random.new(7).bytes(1 << 20)
    [all_bytes, big].each_with_index do |bytes, i|
      # the consumer echoes only values equal to "echo", so compare through a key round trip
      reply = h.batch(100 + i, [msg(20 + i, "echo", key: bytes)])
      assert_equal({ "type" => "ack", "id" => 100 + i }, reply)
      echo = JSON.parse(lines("trace.log").grep(/\Aecho /).last.delete_prefix("echo "))
      assert_equal bytes, echo["key"].unpack1("m0"), "key of #{bytes.bytesize} bytes survives"
    end
    h.close_stdin
    assert_clean_exit(h, after: "EOF")
  end

  def test_an_exception_is_a_retryable_fail_with_its_class_and_message
    h = scripted
    h.init
    reply = h.batch(5, [msg(1, "fine"), msg(2, "raise"), msg(3, "fine")])
    assert_equal({ "type" => "fail", "id" => 5, "error" => "RuntimeError: boom at offset 2", "retryable" => true }, reply)
    assert_equal ["process 1", "process 2"], lines("trace.log").grep(/\Aprocess /), "the batch stops at the failure"
    # The handler lives on: the retried batch, now fine, is acked.
    assert_equal({ "type" => "ack", "id" => 6 }, h.batch(6, [msg(2, "fine")]))
    # A ScriptError (NotImplementedError) fails the batch too instead of killing the handler.
    reply = h.batch(7, [msg(4, "not-implemented")])
    assert_equal ["fail", "NotImplementedError: a ScriptError", true], reply.values_at("type", "error", "retryable")
    h.close_stdin
    assert_clean_exit(h, after: "EOF")
    assert_match(%r{test_topic/0@2 \(in a batch of 3\) failed \(retryable\): RuntimeError: boom at offset 2}, h.stderr)
    assert_match(/scripted_consumer\.rb:\d+:in `process'/, h.stderr, "the backtrace is logged to stderr")
  end

  def test_permanent_errors_and_listed_errors_are_not_retryable
    h = scripted
    h.init
    reply = h.batch(1, [msg(1, "permanent")])
    assert_equal({ "type" => "fail", "id" => 1, "error" => "KafkaConsumer::PermanentError: cannot ever parse 1", "retryable" => false }, reply)
    reply = h.batch(2, [msg(2, "argument")])
    assert_equal({ "type" => "fail", "id" => 2, "error" => "ArgumentError: listed as non-retryable", "retryable" => false }, reply)
    reply = h.batch(3, [msg(3, "raise")])
    assert_equal true, reply["retryable"]
    h.close_stdin
    assert_clean_exit(h)
  end

  def test_error_text_is_valid_utf8_and_bounded
    h = scripted
    h.init
    reply = h.batch(1, [msg(1, "invalid-utf8")])
    assert_equal "fail", reply["type"]
    assert reply["error"].valid_encoding?
    assert_match(/\ARuntimeError: bad bytes .* here\z/, reply["error"])
    reply = h.batch(2, [msg(2, "huge-error")])
    assert_equal "fail", reply["type"]
    assert_operator reply["error"].bytesize, :<=, 4096
    assert reply["error"].end_with?("...")
    h.close_stdin
    assert_clean_exit(h)
  end

  def test_hooks_run_in_order_around_each_process_call
    h = scripted
    h.init(consumer: "scripted", instance: 4)
    assert_equal({ "type" => "ack", "id" => 1 }, h.batch(1, [msg(7, "fine"), msg(8, "fine")]))
    expected = [7, 8].flat_map do |o|
      ["around-outer-in #{o}", "around-inner-in #{o}", "before #{o}", "before2 #{o} scripted:4",
       "process #{o}", "after #{o}", "around-inner-out #{o}", "around-outer-out #{o}"]
    end
    assert_equal expected, lines("trace.log")

    File.write(path("trace.log"), "")
    assert_equal "fail", h.batch(2, [msg(9, "raise")])["type"]
    assert_equal ["around-outer-in 9", "around-inner-in 9", "before 9", "before2 9 scripted:4", "process 9"],
                 lines("trace.log"), "after hooks and the rest of around hooks do not run when process raises"
    h.close_stdin
    assert_clean_exit(h)
  end

  def test_output_in_process_goes_to_stderr_not_into_the_protocol
    h = scripted
    h.init
    assert_equal({ "type" => "ack", "id" => 1 }, h.batch(1, [msg(1, "puts")]))
    h.send_message(type: "shutdown", reason: "test")
    assert_equal({ "type" => "bye" }, h.read_reply)
    assert_clean_exit(h)
    assert_equal "", h.rest_of_stdout, "nothing but replies on stdout"
    %w[puts\ from\ process print\ without $stdout.write STDOUT.puts :p_from_process from\ a\ child\ process].each do |text|
      assert_includes h.stderr, text
    end
  end

  def test_shutdown_is_answered_bye_and_exits_0
    h = scripted
    h.init
    h.send_message(type: "shutdown", reason: "sigterm")
    assert_equal({ "type" => "bye" }, h.read_reply)
    assert_clean_exit(h, after: "shutdown")
    assert_equal "", h.rest_of_stdout
    assert_match(/shutting down \(sigterm\)/, h.stderr)
  end

  def test_end_of_stdin_exits_0
    h = scripted
    h.init
    assert_equal "ack", h.batch(1, [msg(1, "fine")])["type"]
    h.close_stdin
    assert_clean_exit(h, after: "EOF")
    assert_equal "", h.rest_of_stdout

    before_init = scripted
    before_init.close_stdin
    assert_clean_exit(before_init, after: "EOF before init")
    assert_equal "", before_init.rest_of_stdout
  end

  def test_handled_log_has_one_line_per_acked_message
    h = scripted
    h.init
    h.batch(1, [msg(1, "fine", partition: 2), msg(2, "fine", partition: 2)])
    h.batch(2, [msg(3, "fine", partition: 2), msg(4, "raise", partition: 2)]) # failed: not handled
    h.batch(3, [msg(3, "fine", partition: 2), msg(4, "fine", partition: 2)]) # the retry
    h.batch(4, [msg(0, "fine", topic: "other", partition: 0)])
    h.close_stdin
    assert_clean_exit(h)
    assert_equal ["test_topic 2 1", "test_topic 2 2", "test_topic 2 3", "test_topic 2 4", "other 0 0"],
                 lines("handled.log")
  end

  def test_handled_log_is_off_without_the_env
    h = spawn_handler(["ruby", script("scripted_consumer.rb", SCRIPTED_CONSUMER)], "KAFKACTL_HANDLED_LOG" => nil)
    h.init
    assert_equal "ack", h.batch(1, [msg(1, "fine")])["type"]
    h.close_stdin
    assert_clean_exit(h)
    refute File.exist?(path("handled.log"))
  end

  def test_input_that_is_not_the_protocol_exits_2
    [
      ["not json\n", /not JSON/],
      ["{\"type\":\"dance\"}\n", /unknown message type "dance"/],
      ["[1,2]\n", /expected a JSON object/],
      ["{\"type\":\"batch\",\"id\":1,\"messages\":[]}\n", /a batch before init/],
    ].each do |line, message|
      h = scripted
      h.send_raw(line)
      status = h.wait
      refute_nil status
      assert_equal 2, status.exitstatus, "after #{line.inspect}; stderr:\n#{h.stderr}"
      assert_match message, h.stderr
      assert_equal "", h.rest_of_stdout
    end
  end

  def test_undecodable_base64_fails_the_batch_without_retry
    h = scripted
    h.init
    reply = h.batch(1, [{ topic: "test_topic", partition: 0, offset: 1, value: "not base64!" }])
    assert_equal ["fail", 1, false], reply.values_at("type", "id", "retryable")
    assert_match(/ProtocolError/, reply["error"])
    h.close_stdin
    assert_clean_exit(h)
  end

  def test_run_bang_chooses_among_several_consumers
    file = script("explicit.rb", EXPLICIT_RUN)
    h = spawn_handler(["ruby", file], "RUN_EXPLICITLY" => "1")
    h.init
    assert_equal({ "type" => "ack", "id" => 1 }, h.batch(1, [msg(1, "x"), msg(2, "y")]))
    h.close_stdin
    assert_clean_exit(h)
    assert_includes h.stderr, "second consumer got 2"

    ambiguous = spawn_handler(["ruby", file])
    ambiguous.close_stdin
    refute ambiguous.wait.success?
    assert_match(/defines FirstConsumer, SecondConsumer; call KafkaConsumer.run/, ambiguous.stderr)
    assert_equal "", ambiguous.rest_of_stdout
  end

  def test_a_consumer_without_process_is_refused_at_start
    h = spawn_handler(["ruby", script("lazy.rb", NO_PROCESS)])
    h.close_stdin
    refute h.wait.success?
    assert_match(/LazyConsumer defines neither process\(msg\) nor process_batch\(msgs\)/, h.stderr)
    assert_equal "", h.rest_of_stdout
  end

  # The example exactly as examples/kafka_consumers.yml runs it.
  def test_price_drops_example_detects_drops
    manifest = File.read(File.join(ROOT, "examples/kafka_consumers.yml"))
    command = manifest[/^\s*command:\s*(.+)$/, 1].strip
    assert_equal "ruby examples/ruby/price_drops_consumer.rb", command

    h = spawn_handler(command.split, "PRICE_DROPS_LOG" => path("drops.log"))
    h.init(consumer: "price_drops", topics: ["product_changes"])
    changes = [
      { id: 1, old_price: 10.0, new_price: 8.5 },
      { id: 2, old_price: 5, new_price: 7 },
      { id: 3 },
    ]
    batch = changes.each_with_index.map do |c, i|
      msg(100 + i, JSON.generate(c), key: "product-#{c[:id]}", topic: "product_changes", partition: 5)
    end
    assert_equal({ "type" => "ack", "id" => 1 }, h.batch(1, batch))
    reply = h.batch(2, [msg(103, "{not json", topic: "product_changes", partition: 5)])
    assert_equal ["fail", 2, true], reply.values_at("type", "id", "retryable")
    assert_match(/\AJSON::ParserError: /, reply["error"])
    h.send_message(type: "shutdown", reason: "sigterm")
    assert_equal({ "type" => "bye" }, h.read_reply)
    assert_clean_exit(h)

    assert_equal [{ "product_id" => 1, "old_price" => 10.0, "new_price" => 8.5 }],
                 lines("drops.log").map { |l| JSON.parse(l) }
    assert_equal ["product_changes 5 100", "product_changes 5 101", "product_changes 5 102"], lines("handled.log")
    assert_equal "", h.rest_of_stdout
  end
end
