# frozen_string_literal: true

# The seed's PriceDropsConsumer, run by `kafkactl worker price_drops:N` through the manifest's
# `command: ruby examples/ruby/price_drops_consumer.rb` (examples/kafka_consumers.yml). Running
# this file runs the consumer: it speaks the handler protocol on stdin/stdout until the worker
# says shutdown.
#
# Only the require line differs from the seed's consumer. The seed's listing stops after
# `JSON.parse`; the lines after it (find a price drop, persist it) are filled in from its
# description: "consumes product change events, detects price drops and persists them".

require_relative "kafka_consumer"

# The app stand-in: in the Rails app PriceDrop is an ActiveRecord model. Here `create!` appends
# the drop as a JSON line to the file named by PRICE_DROPS_LOG, or logs it to stderr.
class PriceDrop
  def self.create!(attributes)
    line = JSON.generate(attributes)
    path = ENV["PRICE_DROPS_LOG"].to_s
    if path.empty?
      warn "price drop: #{line}"
    else
      File.open(path, "a") { |f| f.puts(line) }
    end
  end
end

# kafka/price_drops_consumer.rb
# PriceDropConsumer consumes product change events, detects price drops and
# persists them to the database.
class PriceDropsConsumer < KafkaConsumer
  # consumers call `.set_topic` to control the topic that's going
  # to be consumed
  set_topic "product_changes"

  # a consumer must implement `#process`, which receives a message from the
  # topic and does something with it
  # @param msg [Rafka::Message]
  def process(msg)
    product_change = JSON.parse(msg.value)

    old_price = product_change["old_price"]
    new_price = product_change["new_price"]
    return unless old_price && new_price && new_price < old_price

    PriceDrop.create!(product_id: product_change["id"], old_price: old_price, new_price: new_price)
  end
end
