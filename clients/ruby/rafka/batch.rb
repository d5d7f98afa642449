# frozen_string_literal: true

# rafka/batch.rb: kafkactl's batch drop-in for rafka-rb.
#
# Makes rafka-rb's Rafka::Consumer#consume_batch fetch a whole batch in one round trip and ack
# it in one command when the server is `kafkactl proxy`, and leaves rafka-rb's own
# consume_batch in charge against a real Rafka. Nothing else in the app changes.
#
#   require "rafka"          # rafka-rb, first
#   require "rafka/batch"    # this file (put clients/ruby on $LOAD_PATH, or copy the file
#                            # into your app and require_relative it)
#
#   consumer = Rafka::Consumer.new(topic: "greetings", group: "myapp", id: "worker-1")
#   consumer.consume_batch(batch_size: 100) do |msgs|  # unchanged application code
#     msgs.each { |m| handle(m.value) }
#   end                                                # acked here, once the block returned
#
# What it does, per consumer object:
# - The first consume_batch sends `BLMPOP <timeout> 1 <rafka-rb's BLPOP key> LEFT COUNT <n>`.
#   kafkactl proxy answers with up to n messages that are already waiting (it blocks only for
#   the first one); Rafka answers "Command not supported...". The answer is cached on the
#   consumer: against Rafka every later call goes straight to rafka-rb's own consume_batch
#   (one BLPOP per message), so the probe costs one round trip once.
# - With the proxy, the batch is filled with as many BLMPOPs as it takes (usually one) under
#   rafka-rb's rules: until batch_size messages are there and/or batching_max_sec has passed,
#   each call waiting at most `timeout` seconds.
# - The ack is one `RPUSH acks <t:p:o> [<t:p:o> ...]` holding, as rafka-rb's #commit does, the
#   highest offset per topic/partition of the batch. #commit is replaced the same way (one
#   command instead of one per partition), only on consumers that found the proxy: Rafka would
#   ack only the first argument of a multi-ack RPUSH.
#
# Same contract as rafka-rb's consume_batch: the same arguments and defaults (timeout: 1.0,
# batch_size: 0, batching_max_sec: 0; neither given is rafka-rb's own ArgumentError), yields
# and returns the Array of Rafka::Message, commits after the block returns when the consumer
# has auto_commit (the default), never when the block raised; server errors come through
# Rafka.wrap_errors (ConsumeError for "CONS ...", CommandError otherwise), and "CONS Server
# shutdown" is retried by Rafka.with_retry when the installed rafka-rb has it.
#
# Reading the reply: redis-rb 4's pure-Ruby driver cuts every RESP item off the front of its
# 16 KB read buffer (String#slice!), which costs ~20 ms for a 100-message reply on a small
# machine, more than the BLMPOP saves. For BLMPOP replies only, and only on the consumer's own
# connection when it is redis-rb 4's Ruby driver, this file reads the reply from that same
# buffer with a cursor (same values, same error objects, the buffer left as redis-rb expects
# it); everything else, and every other driver (hiredis parses in C), goes through redis-rb as
# usual. Rafka::KafkactlBatch.fast_read = false turns it off.
#
# Where it deliberately differs from rafka-rb's consume_batch (both are fixes for message
# loss, neither changes a successful batch):
# - If fetching fails half way through a batch (a ConsumeError on a later BLMPOP), the
#   messages fetched so far are NOT acked: they were never handed to the block. rafka-rb's
#   `ensure` acks them.
# - Any exception from the block prevents the ack, including ones that are not a
#   StandardError (Interrupt, SignalException): rafka-rb rescues only StandardError there, so
#   a Ctrl-C inside the block acks a batch that was not processed. (`break` out of the block
#   still acks, as in rafka-rb: the block did not raise.)
#
# What it assumes about rafka-rb (checked against rafka-rb's source as of its batch support,
# 0.2+; every assumption is checked when a consumer first calls consume_batch, and if one does
# not hold the consumer simply keeps rafka-rb's own implementation):
# - Rafka::Consumer keeps its redis-rb connection in @redis (also exposed as #redis), its BLPOP
#   key ("topics:<topic>[:<librdkafka JSON>]") in @blpop_arg (#blpop_arg), and its options in
#   @rafka_opts with :auto_commit true/false.
# - Rafka::Message.new takes the server's 8-element reply (topic, partition, offset, value).
# - Rafka.wrap_errors maps Redis::CommandError to Rafka's error classes; Rafka.with_retry, if
#   defined, retries a block on retriable server errors.
# - rafka-rb's consume_batch/commit are public methods of Rafka::Consumer (prepending a module
#   puts this code in front of them; `super` is rafka-rb's own code).
# - The redis-rb connection is used as rafka-rb uses it for BLPOP: the low-level client
#   (Redis#_client on redis-rb 4, Redis#client on 3) with the socket timeout lifted for the
#   blocking call, and without redis-rb's retry-on-reconnect.
# - The fast reply reader assumes redis-rb 4's Redis::Connection::Ruby (@sock, a
#   Redis::Connection::SocketMixin socket with a binary @buffer and #_read_from_socket); it
#   checks each of these on the connection and is skipped when one does not hold.
#
# Needs Ruby >= 2.7 and redis-rb 3.x or 4.x (as rafka-rb does); the batch path needs a
# kafkactl proxy with BLMPOP and multi-ack RPUSH (kafkactl's README, "Beyond Rafka").

module Rafka
  # kafkactl's batch path for Rafka::Consumer; see the top of this file.
  module KafkactlBatch
    # The proxy's BLMPOP COUNT limit.
    MAX_COUNT = 10_000
    # COUNT per BLMPOP when only batching_max_sec bounds the batch.
    OPEN_COUNT = 1_000
    # A server that does not know BLMPOP: Rafka ("Command not supported[: BLMPOP]") or a Redis.
    UNSUPPORTED = /\A(?:ERR )?(?:Command not supported|unknown command)/i.freeze

    # Raised inside the batch path when the server turns out not to support BLMPOP.
    class Unsupported < StandardError; end

    @fast_read = true
    class << self
      # Whether BLMPOP replies are read with FastReply where the connection allows it.
      attr_accessor :fast_read

      # Arms the fast reader for the next reply on `conn`; false when conn is not a
      # connection this file knows how to read from.
      def arm_fast_read(conn)
        return false unless fast_read && defined?(Redis::Connection::Ruby) && conn.is_a?(Redis::Connection::Ruby)

        sock = conn.instance_variable_get(:@sock)
        buf = sock.instance_variable_get(:@buffer) if sock
        return false unless defined?(Redis::Connection::SocketMixin) && sock.is_a?(Redis::Connection::SocketMixin) &&
                            buf.is_a?(String) && buf.encoding == Encoding::BINARY &&
                            sock.respond_to?(:_read_from_socket)

        conn.singleton_class.prepend(FastRead) unless conn.singleton_class.include?(FastRead)
        conn.instance_variable_set(:@kafkactl_fast_read, true)
        true
      end
    end

    # Prepended to one Redis::Connection::Ruby object: its next #read, once armed, parses the
    # reply with FastReply.
    module FastRead
      def read
        return super unless @kafkactl_fast_read

        @kafkactl_fast_read = false
        FastReply.new(@sock).reply
      rescue Errno::EAGAIN
        raise Redis::TimeoutError
      end
    end

    # One RESP reply read from redis-rb 4's socket buffer with a cursor, as
    # Redis::Connection::Ruby#read would return it (bulk strings in Encoding.default_external,
    # error replies as Redis::CommandError objects).
    class FastReply
      CRLF = "\r\n"

      def initialize(sock)
        @sock = sock
        @buf = sock.instance_variable_get(:@buffer)
        @pos = 0
      end

      def reply
        value = parse
        @buf.slice!(0, @pos) # what follows (a pipelined reply) stays for redis-rb
        value
      end

      private

      def more
        @buf << @sock._read_from_socket(16_384)
      end

      MESSAGE_HEAD = /\G\$5\r\ntopic\r\n\$(\d+)\r\n/n.freeze
      MESSAGE_REST = /\G\r\n\$9\r\npartition\r\n:(-?\d+)\r\n\$6\r\noffset\r\n:(-?\d+)\r\n\$5\r\nvalue\r\n\$(\d+)\r\n/n.freeze

      # The body of an 8-element array in the shape of a Rafka message (after its "*8" line),
      # matched in two steps instead of eight items; nil (nothing consumed) when the shape
      # differs or the buffer does not hold all of it yet, and the generic parser takes over.
      def message
        head = MESSAGE_HEAD.match(@buf, @pos) or return nil
        topic_at = head.end(0)
        topic_len = head[1].to_i
        rest = MESSAGE_REST.match(@buf, topic_at + topic_len) or return nil
        value_at = rest.end(0)
        value_len = rest[3].to_i
        return nil if @buf.bytesize < value_at + value_len + 2

        enc = Encoding.default_external
        @pos = value_at + value_len + 2
        [(+"topic").force_encoding(enc), @buf.byteslice(topic_at, topic_len).force_encoding(enc),
         (+"partition").force_encoding(enc), rest[1].to_i,
         (+"offset").force_encoding(enc), rest[2].to_i,
         (+"value").force_encoding(enc), @buf.byteslice(value_at, value_len).force_encoding(enc)]
      end

      # One item; its header line is read with a single allocation (type byte + rest).
      def parse
        more while (crlf = @buf.index(CRLF, @pos)).nil?
        type = @buf.getbyte(@pos)
        rest = @buf.byteslice(@pos + 1, crlf - @pos - 1)
        @pos = crlf + 2
        case type
        when 42 # *
          n = rest.to_i
          return nil if n.negative?

          (n == 8 && message) || Array.new(n) { parse }
        when 36 # $
          len = rest.to_i
          return nil if len.negative?

          more while @buf.bytesize - @pos < len + 2
          bulk = @buf.byteslice(@pos, len)
          @pos += len + 2
          bulk.force_encoding(Encoding.default_external)
        when 58 then rest.to_i # :
        when 43 then rest # +
        when 45 then Redis::CommandError.new(rest.strip) # -
        else raise Redis::ProtocolError, type.chr
        end
      end
    end

    # Prepended to Rafka::Consumer.
    module ConsumerMethods
      def consume_batch(*args, **kwargs, &block)
        # Anything this file does not handle exactly like rafka-rb goes to rafka-rb: positional
        # arguments, unknown keywords, non-integer or non-positive bounds (rafka-rb raises its
        # own ArgumentError or does what it does), and servers without BLMPOP.
        return super unless args.empty? && kafkactl_batch_args?(kwargs) && kafkactl_batch_ready?

        timeout = kwargs.fetch(:timeout, 1.0)
        batch_size = kwargs.fetch(:batch_size, 0)
        batching_max_sec = kwargs.fetch(:batching_max_sec, 0)

        begin
          msgs = kafkactl_fill_batch(timeout, batch_size, batching_max_sec)
        rescue Unsupported
          # The server does not know BLMPOP: from now on this consumer is rafka-rb's. Nothing
          # was taken from the server in this call, so rafka-rb starts the batch afresh.
          @kafkactl_blmpop = false
          return super
        end

        raised = false
        begin
          yield(msgs) if block
        rescue Exception # rubocop:disable Lint/RescueException -- any exception means "not processed"
          raised = true
          raise
        ensure
          # A `break` out of the block did not raise: the batch is acked, as in rafka-rb.
          commit(*msgs) if !raised && kafkactl_auto_commit? && !msgs.empty?
        end
        msgs
      end

      # rafka-rb's #commit (highest offset per topic/partition, returned as
      # {topic => {partition => offset}}), sent as one RPUSH when the server is kafkactl proxy.
      def commit(*msgs)
        return super unless @kafkactl_blmpop == true

        offsets = Hash.new { |h, topic| h[topic] = Hash.new(0) }
        msgs.each do |m|
          offsets[m.topic][m.partition] = m.offset if m.offset >= offsets[m.topic][m.partition]
        end
        acks = offsets.flat_map { |topic, po| po.map { |partition, offset| "#{topic}:#{partition}:#{offset}" } }
        Rafka.wrap_errors { @redis.rpush("acks", acks) } unless acks.empty?
        offsets
      end

      private

      def kafkactl_batch_args?(kwargs)
        return false unless (kwargs.keys - %i[timeout batch_size batching_max_sec]).empty?

        batch_size = kwargs.fetch(:batch_size, 0)
        max_sec = kwargs.fetch(:batching_max_sec, 0)
        timeout = kwargs.fetch(:timeout, 1.0)
        batch_size.is_a?(Integer) && batch_size >= 0 &&
          max_sec.is_a?(Numeric) && max_sec >= 0 &&
          (batch_size.positive? || max_sec.positive?) &&
          timeout.is_a?(Numeric) && timeout >= 0
      end

      # Whether this consumer may take the batch path: rafka-rb's internals are where this file
      # expects them, and the server has not been found to lack BLMPOP.
      def kafkactl_batch_ready?
        return false if @kafkactl_blmpop == false

        @kafkactl_batch_shape = kafkactl_check_shape if @kafkactl_batch_shape.nil?
        @kafkactl_batch_shape
      end

      def kafkactl_check_shape
        defined?(@redis) && @redis &&
          (@redis.respond_to?(:_client) || @redis.respond_to?(:client)) &&
          kafkactl_key.is_a?(String) &&
          defined?(@rafka_opts) && @rafka_opts.is_a?(Hash) && @rafka_opts.key?(:auto_commit) &&
          Rafka.respond_to?(:wrap_errors) && defined?(Rafka::Message) ? true : false
      end

      def kafkactl_key
        defined?(@blpop_arg) ? @blpop_arg : nil
      end

      def kafkactl_auto_commit?
        @rafka_opts[:auto_commit] ? true : false
      end

      # rafka-rb's batching loop, one BLMPOP per round instead of one BLPOP per message.
      def kafkactl_fill_batch(timeout, batch_size, batching_max_sec)
        started = Time.now
        msgs = []
        loop do
          break if batch_size.positive? && msgs.size >= batch_size
          break if batching_max_sec.positive? && (Time.now - started >= batching_max_sec)

          count = batch_size.positive? ? [batch_size - msgs.size, MAX_COUNT].min : OPEN_COUNT
          begin
            got = kafkactl_blmpop(timeout, count)
          rescue Unsupported
            # Mid-batch (the server was replaced by one without BLMPOP): the messages taken so
            # far cannot be acked on the new connection anyway; fail the call like any
            # consume error, leaving them unacked (they come again after the rebalance).
            raise if msgs.empty?

            @kafkactl_blmpop = false
            raise Rafka::ConsumeError, "the server stopped supporting BLMPOP in the middle of a batch"
          end
          msgs.concat(got) if got
        end
        msgs
      end

      # One BLMPOP: an Array of Rafka::Message, or nil when `timeout` passed without any.
      def kafkactl_blmpop(timeout, count)
        reply = nil
        Rafka.wrap_errors do
          kafkactl_with_retry do
            begin
              client = @redis.respond_to?(:_client) ? @redis._client : @redis.client
              command = [:blmpop, timeout, 1, kafkactl_key, "LEFT", "COUNT", count]
              reply = client.without_socket_timeout do
                conn = client.respond_to?(:connection) ? client.connection : nil
                armed = KafkactlBatch.arm_fast_read(conn)
                begin
                  client.call(command)
                ensure
                  conn.instance_variable_set(:@kafkactl_fast_read, false) if armed
                end
              end
            rescue Redis::CommandError => e
              raise Unsupported, e.message if UNSUPPORTED.match?(e.message)

              raise
            end
          end
        end
        @kafkactl_blmpop = true
        return nil if reply.nil?

        unless reply.is_a?(Array) && reply.size == 2 && reply[1].is_a?(Array)
          raise Rafka::MalformedMessageError, reply if defined?(Rafka::MalformedMessageError)

          raise Rafka::ConsumeError, "malformed BLMPOP reply: #{reply.inspect[0, 200]}"
        end
        reply[1].map { |m| Rafka::Message.new(m) }
      end

      def kafkactl_with_retry(&block)
        Rafka.respond_to?(:with_retry) ? Rafka.with_retry(&block) : yield
      end
    end
  end

  Consumer.prepend(KafkactlBatch::ConsumerMethods)
end
