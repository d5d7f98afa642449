# frozen_string_literal: true

# A stand-in for the rafka-rb gem (skroutz/rafka-rb), for tests and benchmarks on machines
# where the gem cannot be installed (its registry is not reachable from CI). It is NOT
# rafka-rb: it reimplements the part of rafka-rb's public surface that clients/ruby/rafka/batch.rb
# patches, with rafka-rb's documented behaviour (README and API docs of rafka-rb 0.2+, where
# consume_batch appeared, and the error handling of its later releases):
#
# - Rafka::Consumer.new(topic:, group:, id: random, host: "localhost", port: 6380,
#   auto_commit: true, librdkafka: {}, redis: {}) -> a redis-rb connection named
#   "<group>:<id>" (redis-rb sends CLIENT SETNAME on connect), no socket timeout, and the BLPOP
#   key "topics:<topic>[:<librdkafka as JSON>]" (#blpop_arg). A topic may be an Array or
#   "a,b" (rafka-rb's README).
# - #consume(timeout = 5) -> Rafka::Message or nil: one BLPOP; acked (RPUSH acks t:p:o) with
#   auto_commit unless the block raised.
# - #consume_batch(timeout: 1.0, batch_size: 0, batching_max_sec: 0) -> Array of
#   Rafka::Message: one BLPOP per message until batch_size messages and/or batching_max_sec
#   passed; yields the Array; acks it with auto_commit unless the block raised (rafka-rb's
#   `ensure` also acks what was fetched when a BLPOP fails half way: reproduced here, it is
#   the behaviour the drop-in is compared with). ArgumentError when neither bound is given.
# - #commit(*msgs) -> {topic => {partition => highest offset}}, one RPUSH acks per partition.
# - Errors: Rafka.wrap_errors maps Redis::CommandError "PROD ..." to ProduceError, "CONS ..."
#   to ConsumeError (both CommandError subclasses), anything else to CommandError, with the
#   prefix cut off; Rafka.with_retry retries "CONS Server shutdown" (every second, 15 times).
# - Rafka::Message.new(reply) takes the server's 8-element reply; MalformedMessageError
#   otherwise.
#
# Internals the drop-in relies on are kept where rafka-rb keeps them: @redis, @blpop_arg,
# @rafka_opts[:auto_commit]. rafka-rb drives BLPOP through redis-rb's low-level client with
# the socket timeout lifted (Redis#client on redis-rb 3, which rafka-rb targets; this file
# uses Redis#_client, the same object on the redis-rb 4 that Debian ships).

require "json"
require "redis"
require "securerandom"

module Rafka
  REDIS_DEFAULTS = { host: "localhost", port: 6380 }.freeze
  RETRIABLE_ERRORS = ["CONS Server shutdown"].freeze

  class Error < StandardError; end

  # Generic server error.
  class CommandError < Error; end
  class ProduceError < CommandError; end
  class ConsumeError < CommandError; end

  # A reply that is not a message.
  class MalformedMessageError < Error
    def initialize(reply)
      @reply = reply
      super("The message #{reply.inspect} could not be parsed")
    end
  end

  def self.wrap_errors
    yield
  rescue Redis::CommandError => e
    text = e.message
    raise ProduceError, text[5..] if text.start_with?("PROD ")
    raise ConsumeError, text[5..] if text.start_with?("CONS ")

    raise CommandError, text
  end

  def self.with_retry(max_retries = 15)
    attempts = 0
    begin
      yield
    rescue Redis::CommandError => e
      raise unless RETRIABLE_ERRORS.include?(e.message) && attempts < max_retries

      attempts += 1
      sleep 1
      retry
    end
  end

  # One consumed message.
  class Message
    attr_reader :topic, :partition, :offset, :value

    def initialize(reply)
      raise MalformedMessageError, reply unless reply.is_a?(Array) && reply.size == 8

      @topic = reply[1]
      begin
        @partition = Integer(reply[3])
        @offset = Integer(reply[5])
      rescue ArgumentError, TypeError
        raise MalformedMessageError, reply
      end
      @value = reply[7]
    end
  end

  # rafka-rb's consumer.
  class Consumer
    REQUIRED_OPTS = %i[group topic].freeze

    attr_reader :redis, :blpop_arg

    def initialize(opts = {})
      opts = opts.dup
      REQUIRED_OPTS.each { |o| raise "#{o.inspect} option not provided" if opts[o].nil? }
      opts[:id] = "#{opts[:group]}:#{opts[:id] || SecureRandom.hex}"
      opts[:auto_commit] = true if opts[:auto_commit].nil?
      librdkafka = opts.delete(:librdkafka) || {}
      redis = opts.delete(:redis) || {}
      @rafka_opts = opts
      redis_opts = REDIS_DEFAULTS.merge(redis).merge(opts.slice(:host, :port, :id))
      # No socket timeout: it would cut BLPOPs short (rafka-rb does the same).
      @redis = Redis.new(redis_opts.merge(timeout: 0))
      topics = opts[:topic].is_a?(Array) ? opts[:topic].join(",") : opts[:topic]
      @blpop_arg = +"topics:#{topics}"
      @blpop_arg << ":#{librdkafka.to_json}" unless librdkafka.empty?
    end

    def consume(timeout = 5)
      raised = false
      msg = consume_one(timeout)
      return nil unless msg

      begin
        yield(msg) if block_given?
      rescue StandardError => e
        raised = true
        raise e
      end
      msg
    ensure
      commit(msg) if @rafka_opts[:auto_commit] && msg && !raised
    end

    def consume_batch(timeout: 1.0, batch_size: 0, batching_max_sec: 0)
      if batch_size.zero? && batching_max_sec.zero?
        raise ArgumentError, "one of batch_size or batching_max_sec must be greater than 0"
      end

      raised = false
      started = Time.now
      msgs = []
      loop do
        break if batch_size.positive? && msgs.size >= batch_size
        break if batching_max_sec.positive? && Time.now - started >= batching_max_sec

        msg = consume_one(timeout)
        msgs << msg if msg
      end
      begin
        yield(msgs) if block_given?
      rescue StandardError => e
        raised = true
        raise e
      end
      msgs
    ensure
      commit(*msgs) if @rafka_opts[:auto_commit] && !raised
    end

    def commit(*msgs)
      offsets = prepare_for_commit(*msgs)
      offsets.each do |topic, by_partition|
        by_partition.each do |partition, offset|
          Rafka.wrap_errors { @redis.rpush("acks", "#{topic}:#{partition}:#{offset}") }
        end
      end
      offsets
    end

    private

    def prepare_for_commit(*msgs)
      offsets = Hash.new { |h, topic| h[topic] = Hash.new(0) }
      msgs.each do |m|
        offsets[m.topic][m.partition] = m.offset if m.offset >= offsets[m.topic][m.partition]
      end
      offsets
    end

    def consume_one(timeout)
      reply = nil
      Rafka.wrap_errors do
        Rafka.with_retry do
          client = @redis._client
          reply = client.without_socket_timeout { client.call([:blpop, [@blpop_arg], timeout]) }
        end
      end
      reply && Message.new(reply)
    end
  end
end
