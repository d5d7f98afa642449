# frozen_string_literal: true

# "Nothing else arrives", proven instead of waited for (proxy_test.rb, batch_dropin_test.rb):
# one sentinel message per key of KEYS, fixed keys that land on every partition of the
# harness's 4-partition topics. Delivery is in offset order within a partition, so whatever
# was still due to a consumer comes before its partition's sentinel, and a consumer that has
# stalled fails ("every sentinel arrived") instead of looking empty.
module Sentinels
  PARTITIONS = 4
  KEYS = Array.new(16) { |i| "sentinel-#{i}" }

  # One round of sentinel values; each starts with its key (sentinel_key).
  def sentinel_values
    KEYS.map { |k| "#{k}-#{SecureRandom.hex(3)}" }
  end

  def sentinel_key(value)
    value[/\Asentinel-\d+/]
  end

  # Takes messages from the block (given how many sentinels are still due, it returns an
  # Array, maybe empty) until every one of `sentinels` came; returns the other messages.
  def delivered_before(sentinels, limit)
    seen = []
    others = []
    deadline = Time.now + limit
    while seen.size < sentinels.size && Time.now < deadline
      yield(sentinels.size - seen.size).each { |m| (sentinels.include?(m.value) ? seen : others) << m }
    end
    assert_equal sentinels.sort, seen.map(&:value).sort, "every sentinel arrived"
    assert_equal (0...PARTITIONS).to_a, seen.map(&:partition).uniq.sort, "the sentinels cover every partition"
    others
  end
end
