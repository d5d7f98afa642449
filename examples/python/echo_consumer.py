#!/usr/bin/env python3
"""EchoConsumer: logs every message it is given, and how long it took.

A manifest entry that runs it (docs/manifest.md):

    - name: echo
      topic: echo
      command: python3 examples/python/echo_consumer.py

`print` goes to stderr, which the worker forwards to the journal: the library keeps stdout for
the handler protocol.
"""

import time

from kafka_consumer import KafkaConsumer, around_process, run


class EchoConsumer(KafkaConsumer):
    topic = "echo"

    @around_process
    def timed(self, msg, go_on):
        started = time.monotonic()
        go_on()
        print(f"{msg} handled in {(time.monotonic() - started) * 1000:.1f} ms")

    def process(self, msg):
        headers = ", ".join(f"{name}={value!r}" for name, value in msg.headers)
        print(f"{msg} key={msg.key!r} value={msg.value!r} headers=[{headers}] timestamp={msg.timestamp}")


if __name__ == "__main__":
    run(EchoConsumer)
