# frozen_string_literal: true

# The trivial handler of scripts/bench-worker.sh: a KafkaConsumer (examples/ruby) whose
# `process` does nothing, so the benchmark measures the worker and the protocol, not the app.
require_relative "../../examples/ruby/kafka_consumer"

class NoopConsumer < KafkaConsumer
  set_topic "bench_worker"

  def process(_msg); end
end
