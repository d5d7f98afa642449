# frozen_string_literal: true

# KafkaConsumer: the handler side of kafkactl's handler protocol (docs/handler-protocol.md).
#
# `kafkactl worker NAME:N` owns Kafka, offsets, retries, systemd and metrics. It runs the
# consumer's `command` as one long-lived child process (the handler) and talks to it over the
# handler's stdin/stdout, one JSON object per line. This file is that handler's side, for Ruby,
# using the standard library only. Consumers look like the seed's:
#
#   require_relative "kafka_consumer"
#
#   class PriceDropsConsumer < KafkaConsumer
#     set_topic "product_changes"
#
#     def process(msg)          # msg.topic, .partition, .offset, .key, .value, .headers, .timestamp
#       product_change = JSON.parse(msg.value)
#       ...
#     end
#   end
#
# Running the file that defines the consumer (`ruby price_drops_consumer.rb`) runs it: when the
# program's main script defines exactly one KafkaConsumer subclass, the library runs it once the
# script has been loaded. `KafkaConsumer.run(PriceDropsConsumer)` or `PriceDropsConsumer.run!`
# does it explicitly (e.g. from `bin/rails runner`), and turns the automatic run off.
#
# What a consumer gets:
# - `process(msg)` once per message; or override `process_batch(msgs)` (the default calls
#   `process` for each message, in order) to handle a whole batch (manifest `batch.max_size`).
# - A batch that raises is answered `fail` with "ErrorClass: message": the worker retries it
#   with backoff and then stops or dead-letters (manifest `retry`). Errors that retrying cannot
#   fix answer `retryable: false`: raise KafkaConsumer::PermanentError (or a subclass), or list
#   the classes with `non_retryable JSON::ParserError, "PG::UniqueViolation"`, or override
#   `retryable?(error)`.
# - Hooks: `before_process`, `after_process` and `around_process`, each given a block or a
#   method name, run around every `process(msg)` call. They live here, in the handler, and not in
#   the worker, because hooks are application code: they need the application's objects (DB
#   connections, ActiveRecord, tracing and error-tracking clients, caches), and those exist only
#   in the handler process. The worker is a separate program in another language; it could only
#   run a hook by sending it here anyway.
# - stdout belongs to the protocol. `run` keeps the real stdout for replies and points the
#   process's stdout (STDOUT, $stdout, file descriptor 1, so child processes too) at stderr,
#   which the worker forwards to the journal: `puts` in a consumer is a log line, not a protocol
#   violation. stdin is likewise taken and replaced with /dev/null. Print nothing to stdout
#   while the app boots, before `run` starts (log to stderr).
# - KAFKACTL_HANDLED_LOG=FILE (opt-in): every successfully processed message appends the line
#   "topic partition offset" to FILE before its batch is acked. kafkactl's worker tests use it
#   to count deliveries (at-least-once: a line may repeat, but none may be missing).
#
# Protocol handling: `init` is answered `ready`; each `batch` is answered `ack` or `fail`;
# `shutdown` is answered `bye` and the process exits 0; end of stdin (the worker went away)
# exits 0. Every reply is flushed at once. Input the library cannot understand (not JSON, an
# unknown type, a batch before init) is a bug on the other side: it is logged and the process
# exits 2, and the worker restarts the handler.

require "json"

class KafkaConsumer
  # The handler protocol version this library speaks.
  PROTOCOL_VERSION = 1

  # Longest error text sent in a `fail` reply (the worker accepts reply lines up to 64 KiB).
  MAX_ERROR_BYTES = 4096

  # Raise it (or a subclass) from `process` when retrying cannot help: the batch is answered
  # `fail` with `retryable: false`.
  class PermanentError < StandardError; end

  # The worker sent something this library does not understand.
  class ProtocolError < StandardError; end

  # A Kafka message. `key` and `value` are binary (ASCII-8BIT) strings, or nil when absent (a
  # tombstone has no value); `headers` is an Array of [name, binary value] pairs in order;
  # `timestamp` is a Time (nil when the broker gave none), `timestamp_ms` the same in ms.
  Message = Struct.new(:topic, :partition, :offset, :key, :value, :headers, :timestamp,
                       :timestamp_ms, keyword_init: true) do
    # The value of the last header called `name`, or nil.
    def header(name)
      pair = headers.reverse_each.find { |(n, _)| n == name }
      pair && pair[1]
    end

    def to_s
      "#{topic}/#{partition}@#{offset}"
    end

    # The broker's timestamp as a Time, or nil; built on first use, as most consumers never
    # ask and Time.at(Rational) costs more than decoding the message.
    def timestamp
      self[:timestamp] ||= timestamp_ms && Time.at(Rational(timestamp_ms, 1000))
    end
  end

  # Who the handler works for, from the worker's `init`.
  Init = Struct.new(:consumer, :instance, :group, :topics, keyword_init: true)

  # Errors that become a `fail` reply. Anything else (SystemExit, signals, NoMemoryError) ends
  # the process; the worker sees its stdout close and restarts it.
  HANDLED_ERRORS = [StandardError, ScriptError, SystemStackError].freeze

  HOOK_KINDS = %i[before after around].freeze

  # The script Ruby was started with, as an absolute path (captured before an app renames $0).
  MAIN_SCRIPT = File.expand_path($PROGRAM_NAME)

  class << self
    # The topic this consumer reads (the seed's API). kafkactl subscribes to the manifest's
    # `topic`; a mismatch is logged at init.
    def set_topic(topic)
      @topic = topic.to_s
    end

    def topic
      @topic || (superclass.respond_to?(:topic) ? superclass.topic : nil)
    end

    # Runs before every `process(msg)`: `before_process { |msg| ... }` or
    # `before_process :method_name`. Hooks run in the consumer instance (instance_exec), so they
    # can use its methods and instance variables.
    def before_process(method_name = nil, &block)
      add_hook(:before, method_name, block)
    end

    # Runs after every `process(msg)` that did not raise.
    def after_process(method_name = nil, &block)
      add_hook(:after, method_name, block)
    end

    # Wraps every `process(msg)` together with its before and after hooks:
    # `around_process { |msg, run| trace(msg) { run.call } }`, or a method `def m(msg, run)`
    # that may also `yield`. Not calling `run` skips the message (it is still acked). The first
    # around hook declared is the outermost.
    def around_process(method_name = nil, &block)
      add_hook(:around, method_name, block)
    end

    # Hooks of a kind, the superclass's first, then in declaration order.
    # Whether no hook applies to this class (the fast path of `process_batch`).
    def hookless?
      HOOK_KINDS.all? { |kind| process_hooks(kind).empty? }
    end

    def process_hooks(kind)
      inherited = superclass.respond_to?(:process_hooks) ? superclass.process_hooks(kind) : []
      inherited + own_hooks[kind]
    end

    # Error classes (or class names, for classes that may not be loaded) that answer
    # `retryable: false`.
    def non_retryable(*classes)
      own_non_retryable.concat(classes.flatten)
    end

    def non_retryable_errors
      inherited = superclass.respond_to?(:non_retryable_errors) ? superclass.non_retryable_errors : []
      inherited + own_non_retryable
    end

    # Runs this consumer class as the handler (see KafkaConsumer.run).
    def run!
      KafkaConsumer.run(self)
    end

    # Runs `consumer_class` as the handler until `shutdown` or the end of stdin, then exits 0.
    def run(consumer_class = self)
      KafkaConsumer.autorun = false
      unless consumer_class.is_a?(Class) && consumer_class <= KafkaConsumer
        abort "kafka_consumer: #{consumer_class.inspect} is not a KafkaConsumer subclass"
      end
      consumer_class.check_defined!
      input, output = claim_stdio!
      status = Handler.new(consumer_class.new, input, output).serve
      exit(status)
    end

    # Takes stdin and stdout for the protocol and returns them; from then on the process's
    # stdout (and file descriptor 1, which child processes inherit) is stderr, and its stdin is
    # /dev/null.
    def claim_stdio!
      $stdout.flush
      input = STDIN.dup
      output = STDOUT.dup
      input.binmode
      output.binmode
      output.sync = true
      STDOUT.reopen(STDERR)
      STDOUT.sync = true
      STDIN.reopen(File::NULL)
      $stdout = $stderr
      $stdin = STDIN
      [input, output]
    end

    # Whether loading the main script runs the consumer it defines (see the top of this file).
    attr_writer :autorun

    def autorun?
      @autorun != false
    end

    # Subclasses defined in the main script, candidates for the automatic run.
    def main_script_consumers
      @main_script_consumers ||= []
    end

    def check_defined!
      own = ->(name) { instance_method(name).owner != KafkaConsumer }
      return if own.call(:process) || own.call(:process_batch)

      abort "kafka_consumer: #{name} defines neither process(msg) nor process_batch(msgs)"
    end

    private

    def inherited(subclass)
      super
      location = caller_locations(1, 1)&.first
      path = location && (location.absolute_path || location.path)
      KafkaConsumer.main_script_consumers << subclass if path && File.expand_path(path) == MAIN_SCRIPT
    end

    def add_hook(kind, method_name, block)
      if method_name.nil? == block.nil?
        raise ArgumentError, "#{kind}_process takes a method name or a block (one of the two)"
      end

      own_hooks[kind] << (block || method_name.to_sym)
    end

    def own_hooks
      @own_hooks ||= HOOK_KINDS.to_h { |k| [k, []] }
    end

    def own_non_retryable
      @own_non_retryable ||= []
    end
  end

  # Set from the worker's `init` before the first message.
  attr_accessor :init

  # The message `with_hooks` is running (after a failure: the one that failed), or nil.
  attr_reader :current_message

  def topic
    self.class.topic
  end

  def to_s
    init ? "#{init.group}:#{init.instance}" : self.class.name.to_s
  end

  # Handles one message. Consumers define it.
  def process(_msg)
    raise NotImplementedError, "#{self.class} must define process(msg)"
  end

  # Handles a batch (one message, or up to the manifest's `batch.max_size`, in partition order).
  # The default runs `process` with its hooks for each message. A consumer that overrides this
  # handles the batch itself; the hooks run only where it calls `with_hooks(msg) { ... }`.
  def process_batch(msgs)
    # Without hooks, skip building the hook chain per message: it was most of the library's
    # cost per message (scripts/bench-worker.sh).
    if self.class.hookless?
      msgs.each do |msg|
        @current_message = msg
        process(msg)
      end
    else
      msgs.each { |msg| with_hooks(msg) { process(msg) } }
    end
  end

  # Runs the block with the around, before and after hooks for `msg`.
  def with_hooks(msg, &body)
    @current_message = msg
    klass = self.class
    inner = lambda do
      klass.process_hooks(:before).each { |hook| call_hook(hook, msg) }
      result = body.call
      klass.process_hooks(:after).each { |hook| call_hook(hook, msg) }
      result
    end
    klass.process_hooks(:around).reverse.inject(inner) do |nested, hook|
      -> { call_hook(hook, msg, nested) }
    end.call
  end

  # Whether the worker should retry a batch that raised `error`.
  def retryable?(error)
    return false if error.is_a?(PermanentError)

    names = error.class.ancestors.map(&:name)
    self.class.non_retryable_errors.none? do |c|
      c.is_a?(Module) ? error.is_a?(c) : names.include?(c.to_s)
    end
  end

  private

  def call_hook(hook, msg, nested = nil)
    args = nested ? [msg, nested] : [msg]
    if hook.is_a?(Symbol)
      method = method(hook)
      arity = method.arity
      args = args.first(arity) if arity >= 0
      method.call(*args, &nested)
    else
      instance_exec(*args, &hook)
    end
  end

  # The protocol loop: reads the worker's lines from `input`, answers on `output`.
  class Handler
    def initialize(consumer, input, output)
      @consumer = consumer
      @input = input
      @output = output
      @handled_log = open_handled_log
    end

    # Serves until shutdown or end of input; returns the exit status.
    def serve
      loop do
        line = @input.gets
        return 0 if line.nil?
        next if line.strip.empty?

        request = parse(line)
        case request["type"]
        when "init" then on_init(request)
        when "batch" then on_batch(request)
        when "shutdown"
          log "shutting down (#{request['reason']})"
          reply(type: "bye")
          return 0
        else
          raise ProtocolError, "unknown message type #{request['type'].inspect}"
        end
      end
    rescue ProtocolError => e
      log "protocol error: #{e.message}"
      2
    rescue Errno::EPIPE
      log "the worker closed the handler's stdout; exiting"
      0
    end

    private

    def parse(line)
      request = JSON.parse(line)
      raise ProtocolError, "expected a JSON object, got #{line[0, 120].inspect}" unless request.is_a?(Hash)

      request
    rescue JSON::ParserError => e
      raise ProtocolError, "a line that is not JSON (#{e.message[0, 200]})"
    end

    def on_init(request)
      version = request["version"]
      log "the worker speaks protocol version #{version.inspect}, this library #{PROTOCOL_VERSION}" if version != PROTOCOL_VERSION
      @consumer.init = Init.new(consumer: request["consumer"], instance: request["instance"],
                                group: request["group"], topics: Array(request["topics"]))
      topic = @consumer.topic
      if topic && !@consumer.init.topics.include?(topic)
        log "#{@consumer.class} reads #{topic.inspect} (set_topic) but the manifest gives " \
            "#{@consumer.init.topics.inspect}; kafkactl delivers the manifest's topics"
      end
      reply(type: "ready", version: PROTOCOL_VERSION)
    end

    def on_batch(request)
      raise ProtocolError, "a batch before init" unless @consumer.init

      id = request["id"]
      raise ProtocolError, "a batch without an integer id" unless id.is_a?(Integer)

      messages = begin
        Array(request["messages"]).map { |m| decode(m) }
      rescue ArgumentError, TypeError, KeyError, NoMethodError => e
        # The worker's encoding is broken; retrying the same bytes cannot help.
        return reply(type: "fail", id: id, error: text("#{ProtocolError}: #{e.message}"), retryable: false)
      end

      begin
        @consumer.instance_variable_set(:@current_message, nil)
        @consumer.process_batch(messages)
      rescue *HANDLED_ERRORS => e
        retryable = @consumer.retryable?(e)
        log "#{describe(messages)} failed (#{retryable ? 'retryable' : 'not retryable'}): " \
            "#{e.class}: #{e.message}\n  #{Array(e.backtrace).first(15).join("\n  ")}"
        return reply(type: "fail", id: id, error: error_text(e), retryable: retryable)
      end

      record_handled(messages)
      # The one reply per message at batch size 1, written without building a Hash for
      # JSON.generate (a fifth of the library's time per message; `id` is an Integer, checked
      # above, so the line is valid JSON).
      write_line(%({"type":"ack","id":#{id}}\n))
    end

    def decode(wire)
      ts = wire["timestamp_ms"]
      Message.new(
        topic: wire.fetch("topic"),
        partition: wire.fetch("partition"),
        offset: wire.fetch("offset"),
        key: bytes(wire["key"]),
        value: bytes(wire["value"]),
        headers: Array(wire["headers"]).map { |(name, value)| [name, bytes(value)] },
        timestamp: nil, # made from timestamp_ms when first asked for (Message#timestamp)
        timestamp_ms: ts
      )
    end

    # Strict base64 (standard alphabet, padded), as binary.
    def bytes(field)
      field&.unpack1("m0")
    end

    def describe(messages)
      return "an empty batch" if messages.empty?
      return messages.first.to_s if messages.size == 1

      current = @consumer.current_message
      current ? "#{current} (in a batch of #{messages.size})" : "a batch of #{messages.size} from #{messages.first}"
    end

    def error_text(error)
      message = error.message.to_s
      klass = error.class.name || error.class.inspect
      text(message.empty? || message == klass ? klass : "#{klass}: #{message}")
    end

    # Valid UTF-8 of at most MAX_ERROR_BYTES bytes, whatever the exception message held.
    def text(string)
      s = string.dup
      s = s.encoding == Encoding::UTF_8 || s.encoding == Encoding::BINARY ? s.force_encoding(Encoding::UTF_8) : s.encode(Encoding::UTF_8, invalid: :replace, undef: :replace)
      s = s.scrub("?")
      return s if s.bytesize <= MAX_ERROR_BYTES

      s.byteslice(0, MAX_ERROR_BYTES - 3).scrub("") + "..."
    end

    def reply(object)
      write_line(JSON.generate(object) << "\n")
    end

    def write_line(line)
      @output.write(line)
      @output.flush
      nil
    end

    def open_handled_log
      path = ENV["KAFKACTL_HANDLED_LOG"].to_s
      return nil if path.empty?

      File.open(path, "ab").tap { |f| f.sync = true }
    end

    # One write per batch, to a file opened for appending: lines from several instances do not
    # interleave.
    def record_handled(messages)
      return unless @handled_log && !messages.empty?

      @handled_log.write(messages.map { |m| "#{m.topic} #{m.partition} #{m.offset}\n" }.join)
    end

    def log(line)
      $stderr.puts("[kafka_consumer] #{@consumer}: #{line}")
    end
  end
end

# The automatic run: after the main script has loaded, run the one consumer class it defines.
at_exit do
  next if $! || !KafkaConsumer.autorun?

  candidates = KafkaConsumer.main_script_consumers
  next if candidates.empty?

  if candidates.size > 1
    abort "kafka_consumer: #{$PROGRAM_NAME} defines #{candidates.map(&:name).join(', ')}; " \
          "call KafkaConsumer.run(TheConsumer) to choose"
  end
  KafkaConsumer.run(candidates.first)
end

if File.expand_path(__FILE__) == KafkaConsumer::MAIN_SCRIPT
  abort "kafka_consumer.rb is a library: define a KafkaConsumer subclass in a file that " \
        "requires it and run that file (see the top of #{__FILE__})"
end
