"""Tests of the Python handler library (examples/python/kafka_consumer.py) and its example
consumer, from the worker's side: each test spawns a handler as a child process and speaks the
handler protocol (docs/handler-protocol.md) to it over pipes, checking every reply line the way
the worker's decoder does (src/worker/protocol.rs).

    python3 tests/handlers/python_handler_test.py [-v] [TestClass.test_name]

Standard library only. Run by tests/handler_libraries.rs.
"""

import base64
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBRARY_DIR = os.path.join(ROOT, "examples", "python")
PYTHON = sys.executable or "python3"

# A consumer that does what each message's value says, and records what it saw in TRACE_LOG.
SCRIPTED_CONSUMER = r'''
import base64, json, os, subprocess, sys

from kafka_consumer import (KafkaConsumer, PermanentError, after_process, around_process,
                            before_process, run)


class ListedError(Exception):
    pass


class ScriptedConsumer(KafkaConsumer):
    topic = "test_topic"
    non_retryable = (ValueError, "__main__.ListedError")

    @around_process
    def outer(self, msg, go_on):
        self.trace(f"around-outer-in {msg.offset}")
        go_on()
        self.trace(f"around-outer-out {msg.offset}")

    @around_process
    def inner(self, msg, go_on):
        self.trace(f"around-inner-in {msg.offset}")
        go_on()
        self.trace(f"around-inner-out {msg.offset}")

    @before_process
    def before(self, msg):
        self.trace(f"before {msg.offset}")

    @before_process
    def before2(self, msg):
        self.trace(f"before2 {msg.offset} {self.init.consumer}:{self.init.instance}")

    @after_process
    def after(self, msg):
        self.trace(f"after {msg.offset}")

    def process(self, msg):
        self.trace(f"process {msg.offset}")
        v = msg.value
        if v == b"raise":
            raise RuntimeError(f"boom at offset {msg.offset}")
        if v == b"permanent":
            raise PermanentError(f"cannot ever parse {msg.offset}")
        if v == b"value-error":
            raise ValueError("listed as non-retryable")
        if v == b"listed-by-name":
            raise ListedError("listed by name")
        if v == b"surrogate":
            raise RuntimeError("bad text \udcff here")
        if v == b"huge-error":
            raise RuntimeError("x" * 100000)
        if v == b"puts":
            print("print from process")
            sys.stdout.write("sys.stdout.write\n")
            sys.__stdout__.write("sys.__stdout__.write\n")
            sys.__stdout__.flush()
            os.write(1, b"os.write to fd 1\n")
            subprocess.run(["echo", "from a child process"], check=True)
        if v == b"echo":
            b64 = lambda b: None if b is None else base64.b64encode(b).decode()
            record = {
                "key": b64(msg.key),
                "value": b64(msg.value),
                "key_type": type(msg.key).__name__,
                "headers": [[n, b64(h)] for n, h in msg.headers],
                "timestamp_ms": msg.timestamp_ms,
                "timestamp": None if msg.timestamp is None else round(msg.timestamp.timestamp() * 1000),
                "topic": msg.topic,
                "partition": msg.partition,
            }
            self.trace("echo " + json.dumps(record))

    def trace(self, line):
        with open(os.environ["TRACE_LOG"], "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    ScriptedConsumer.run()
'''

BATCH_CONSUMER = r'''
import sys
from kafka_consumer import KafkaConsumer, run


class BatchConsumer(KafkaConsumer):
    def process_batch(self, msgs):
        print(f"batch consumer got {len(msgs)}", file=sys.stderr)


run(BatchConsumer)
'''

NO_PROCESS = r'''
from kafka_consumer import KafkaConsumer, run


class LazyConsumer(KafkaConsumer):
    topic = "t"


run(LazyConsumer)
'''

REPLY_TIMEOUT = 15

# The reply shapes src/worker/protocol.rs accepts (it denies unknown fields).
SHAPES = {
    "ready": ({"type", "version"}, set()),
    "ack": ({"type", "id"}, set()),
    "fail": ({"type", "id", "error"}, {"retryable"}),
    "bye": ({"type"}, set()),
}


def b64(data):
    return None if data is None else base64.b64encode(data).decode()


def msg(offset, value, key=None, topic="test_topic", partition=0, **extra):
    m = {"topic": topic, "partition": partition, "offset": offset}
    if key is not None:
        m["key"] = b64(key)
    if value is not None:
        m["value"] = b64(value)
    m.update(extra)
    return m


class Handler:
    """One handler child process, driven like the worker drives it."""

    def __init__(self, argv, env):
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pending = b""
        self._stderr = []
        self._stderr_reader = threading.Thread(target=lambda: self._stderr.append(self.proc.stderr.read()))
        self._stderr_reader.start()

    def send(self, obj):
        self.send_raw((json.dumps(obj) + "\n").encode())

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def init(self, consumer="scripted", instance=1, topics=("test_topic",)):
        self.send({"type": "init", "version": 1, "consumer": consumer, "instance": instance,
                   "group": f"myapp-{consumer}", "topics": list(topics)})
        reply = self.read_reply()
        if reply != {"type": "ready", "version": 1}:
            raise AssertionError(f"expected ready, got {reply!r}")

    def batch(self, batch_id, messages):
        self.send({"type": "batch", "id": batch_id, "messages": messages})
        return self.read_reply()

    def read_reply(self, timeout=REPLY_TIMEOUT):
        line = self._read_line(timeout)
        if not line:
            raise AssertionError(f"the handler closed its stdout (exit {self.wait()}); stderr:\n{self.stderr()}")
        if len(line) > 64 * 1024:
            raise AssertionError(f"reply line of {len(line)} bytes: over 64 KiB")
        try:
            reply = json.loads(line)
        except ValueError:
            raise AssertionError(f"a stdout line that is not JSON: {line!r}") from None
        if not isinstance(reply, dict) or reply.get("type") not in SHAPES:
            raise AssertionError(f"not a reply: {line!r}")
        required, optional = SHAPES[reply["type"]]
        keys = set(reply)
        if not required <= keys or keys - required - optional:
            raise AssertionError(f"reply {line!r} does not have exactly the fields {required} (+ {optional})")
        return reply

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no reply within {timeout}s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                line, self.pending = self.pending, b""
                return line
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line + b"\n"

    def close_stdin(self):
        if not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def wait(self, timeout=REPLY_TIMEOUT):
        """The exit status, or None after killing a handler that did not exit in time."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def rest_of_stdout(self):
        self.wait()
        rest = self.pending + self.proc.stdout.read()
        self.pending = b""
        return rest

    def stderr(self):
        self.wait()
        self._stderr_reader.join()
        return self._stderr[0].decode(errors="replace") if self._stderr else ""

    def kill(self):
        self.close_stdin()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._stderr_reader.join()
        self.proc.stdout.close()
        self.proc.stderr.close()


class PythonHandlerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kafka-handler-test")
        self.handlers = []

    def tearDown(self):
        for h in self.handlers:
            h.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def script(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def spawn(self, argv, **env):
        full = dict(os.environ)
        full.update({
            "PYTHONPATH": LIBRARY_DIR,
            "TRACE_LOG": self.path("trace.log"),
            "KAFKACTL_HANDLED_LOG": self.path("handled.log"),
        })
        for k, v in env.items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = v
        h = Handler(argv, full)
        self.handlers.append(h)
        return h

    def scripted(self, **env):
        return self.spawn([PYTHON, self.script("scripted_consumer.py", SCRIPTED_CONSUMER)], **env)

    def lines(self, name):
        try:
            with open(self.path(name)) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def last_echo(self):
        echoes = [l for l in self.lines("trace.log") if l.startswith("echo ")]
        return json.loads(echoes[-1][len("echo "):])

    def assert_clean_exit(self, h, after=""):
        status = h.wait()
        self.assertEqual(status, 0, f"exit status {status} {after}; stderr:\n{h.stderr()}")

    def test_init_is_answered_ready_and_a_binary_batch_is_acked(self):
        h = self.scripted()
        h.init()
        key = b"key\n\x00\xff\r\n"
        value = b'{"line":1}\nsecond line\x00\xfe\xff\n'
        header = b"\x00\n\xff"
        batch_id = 2**53 + 1  # not representable as a double: must come back exact
        reply = h.batch(batch_id, [
            msg(10, value, key=key, partition=3, timestamp_ms=1523450393123,
                headers=[["source", b64(header)], ["empty", ""]]),
            msg(11, b"fine", key=b"k2"),
            {"topic": "test_topic", "partition": 3, "offset": 12},  # a tombstone without a key
        ])
        self.assertEqual(reply, {"type": "ack", "id": batch_id})
        processed = [l for l in self.lines("trace.log") if l.startswith("process ")]
        self.assertEqual(processed, ["process 10", "process 11", "process 12"], "batch order")

        reply = h.batch(3, [msg(13, b"echo", key=key, headers=[["source", b64(header)]],
                                timestamp_ms=1523450393123)])
        self.assertEqual(reply, {"type": "ack", "id": 3})
        echo = self.last_echo()
        self.assertEqual(echo["key"], b64(key))
        self.assertEqual(echo["key_type"], "bytes")
        self.assertEqual(echo["headers"], [["source", b64(header)]])
        self.assertEqual(echo["timestamp_ms"], 1523450393123)
        self.assertEqual(echo["timestamp"], 1523450393123, "timestamp is a datetime with ms precision")
        self.assertEqual([echo["topic"], echo["partition"]], ["test_topic", 0])

        h.send({"type": "shutdown", "reason": "sigterm"})
        self.assertEqual(h.read_reply(), {"type": "bye"})
        self.assert_clean_exit(h, "after shutdown")

    def test_pipelined_batches_are_answered_in_order(self):
        # batch.in_flight: the worker writes several batches before reading a reply. The
        # module must answer each, in order, without waiting for anything but its next line.
        h = self.scripted()
        h.init()
        ids = list(range(1, 21))
        for i in ids:
            h.send({"type": "batch", "id": i, "messages": [msg(i, b"raise" if i == 7 else b"fine")]})
        replies = [h.read_reply() for _ in ids]
        self.assertEqual([r["id"] for r in replies], ids, "one reply per batch, in the order sent")
        self.assertEqual([r["type"] for r in replies if r["type"] != "ack"], ["fail"])
        self.assertEqual(replies[6]["type"], "fail")
        processed = [l for l in self.lines("trace.log") if l.startswith("process ")]
        self.assertEqual(processed, [f"process {o}" for o in ids])
        h.send({"type": "shutdown", "reason": "sigterm"})
        self.assertEqual(h.read_reply(), {"type": "bye"})
        self.assert_clean_exit(h, "after shutdown")

    def test_binary_values_reach_process_byte_for_byte(self):
        h = self.scripted()
        h.init()
        all_bytes = bytes(range(256)) * 4
        big = random.Random(7).randbytes(1 << 20) if hasattr(random.Random, "randbytes") else os.urandom(1 << 20)
        for i, data in enumerate([all_bytes, big]):
            # the consumer echoes only values equal to "echo": compare through the key
            self.assertEqual(h.batch(100 + i, [msg(20 + i, b"echo", key=data)]), {"type": "ack", "id": 100 + i})
            self.assertEqual(base64.b64decode(self.last_echo()["key"]), data)
        h.close_stdin()
        self.assert_clean_exit(h, "after EOF")

    def test_an_exception_is_a_retryable_fail_with_its_class_and_message(self):
        h = self.scripted()
        h.init()
        reply = h.batch(5, [msg(1, b"fine"), msg(2, b"raise"), msg(3, b"fine")])
        self.assertEqual(reply, {"type": "fail", "id": 5, "error": "RuntimeError: boom at offset 2", "retryable": True})
        processed = [l for l in self.lines("trace.log") if l.startswith("process ")]
        self.assertEqual(processed, ["process 1", "process 2"], "the batch stops at the failure")
        # The handler lives on: the retried batch, now fine, is acked.
        self.assertEqual(h.batch(6, [msg(2, b"fine")]), {"type": "ack", "id": 6})
        h.close_stdin()
        self.assert_clean_exit(h)
        stderr = h.stderr()
        self.assertIn("test_topic/0@2 (in a batch of 3) failed (retryable): RuntimeError: boom at offset 2", stderr)
        self.assertIn("in process", stderr, "the traceback is logged to stderr")

    def test_permanent_errors_and_listed_errors_are_not_retryable(self):
        h = self.scripted()
        h.init()
        reply = h.batch(1, [msg(1, b"permanent")])
        self.assertEqual(reply, {"type": "fail", "id": 1, "error": "kafka_consumer.PermanentError: cannot ever parse 1",
                                 "retryable": False})
        reply = h.batch(2, [msg(2, b"value-error")])
        self.assertEqual(reply, {"type": "fail", "id": 2, "error": "ValueError: listed as non-retryable", "retryable": False})
        reply = h.batch(3, [msg(3, b"listed-by-name")])
        self.assertEqual(reply, {"type": "fail", "id": 3, "error": "ListedError: listed by name", "retryable": False})
        self.assertEqual(h.batch(4, [msg(4, b"raise")])["retryable"], True)
        h.close_stdin()
        self.assert_clean_exit(h)

    def test_error_text_is_valid_utf8_and_bounded(self):
        h = self.scripted()
        h.init()
        reply = h.batch(1, [msg(1, b"surrogate")])
        self.assertEqual(reply["type"], "fail")
        self.assertRegex(reply["error"], r"^RuntimeError: bad text .* here$")
        reply = h.batch(2, [msg(2, b"huge-error")])
        self.assertEqual(reply["type"], "fail")
        self.assertLessEqual(len(reply["error"].encode()), 4096)
        self.assertTrue(reply["error"].endswith("..."))
        h.close_stdin()
        self.assert_clean_exit(h)

    def test_hooks_run_in_order_around_each_process_call(self):
        h = self.scripted()
        h.init(consumer="scripted", instance=4)
        self.assertEqual(h.batch(1, [msg(7, b"fine"), msg(8, b"fine")]), {"type": "ack", "id": 1})
        expected = []
        for o in (7, 8):
            expected += [f"around-outer-in {o}", f"around-inner-in {o}", f"before {o}", f"before2 {o} scripted:4",
                         f"process {o}", f"after {o}", f"around-inner-out {o}", f"around-outer-out {o}"]
        self.assertEqual(self.lines("trace.log"), expected)

        open(self.path("trace.log"), "w").close()
        self.assertEqual(h.batch(2, [msg(9, b"raise")])["type"], "fail")
        self.assertEqual(self.lines("trace.log"),
                         ["around-outer-in 9", "around-inner-in 9", "before 9", "before2 9 scripted:4", "process 9"],
                         "after hooks and the rest of around hooks do not run when process raises")
        h.close_stdin()
        self.assert_clean_exit(h)

    def test_output_in_process_goes_to_stderr_not_into_the_protocol(self):
        h = self.scripted()
        h.init()
        self.assertEqual(h.batch(1, [msg(1, b"puts")]), {"type": "ack", "id": 1})
        h.send({"type": "shutdown", "reason": "test"})
        self.assertEqual(h.read_reply(), {"type": "bye"})
        self.assert_clean_exit(h)
        self.assertEqual(h.rest_of_stdout(), b"", "nothing but replies on stdout")
        stderr = h.stderr()
        for text in ["print from process", "sys.stdout.write", "sys.__stdout__.write", "os.write to fd 1",
                     "from a child process"]:
            self.assertIn(text, stderr)

    def test_shutdown_is_answered_bye_and_exits_0(self):
        h = self.scripted()
        h.init()
        h.send({"type": "shutdown", "reason": "sigterm"})
        self.assertEqual(h.read_reply(), {"type": "bye"})
        self.assert_clean_exit(h, "after shutdown")
        self.assertEqual(h.rest_of_stdout(), b"")
        self.assertIn("shutting down (sigterm)", h.stderr())

    def test_end_of_stdin_exits_0(self):
        h = self.scripted()
        h.init()
        self.assertEqual(h.batch(1, [msg(1, b"fine")])["type"], "ack")
        h.close_stdin()
        self.assert_clean_exit(h, "after EOF")
        self.assertEqual(h.rest_of_stdout(), b"")

        before_init = self.scripted()
        before_init.close_stdin()
        self.assert_clean_exit(before_init, "after EOF before init")
        self.assertEqual(before_init.rest_of_stdout(), b"")

    def test_handled_log_has_one_line_per_acked_message(self):
        h = self.scripted()
        h.init()
        h.batch(1, [msg(1, b"fine", partition=2), msg(2, b"fine", partition=2)])
        h.batch(2, [msg(3, b"fine", partition=2), msg(4, b"raise", partition=2)])  # failed: not handled
        h.batch(3, [msg(3, b"fine", partition=2), msg(4, b"fine", partition=2)])  # the retry
        h.batch(4, [msg(0, b"fine", topic="other", partition=0)])
        h.close_stdin()
        self.assert_clean_exit(h)
        self.assertEqual(self.lines("handled.log"),
                         ["test_topic 2 1", "test_topic 2 2", "test_topic 2 3", "test_topic 2 4", "other 0 0"])

    def test_handled_log_is_off_without_the_env(self):
        h = self.scripted(KAFKACTL_HANDLED_LOG=None)
        h.init()
        self.assertEqual(h.batch(1, [msg(1, b"fine")])["type"], "ack")
        h.close_stdin()
        self.assert_clean_exit(h)
        self.assertFalse(os.path.exists(self.path("handled.log")))

    def test_input_that_is_not_the_protocol_exits_2(self):
        for line, message in [
            (b"not json\n", "not JSON"),
            (b'{"type":"dance"}\n', 'unknown message type "dance"'),
            (b"[1,2]\n", "expected a JSON object"),
            (b'{"type":"batch","id":1,"messages":[]}\n', "a batch before init"),
        ]:
            with self.subTest(line=line):
                h = self.scripted()
                h.send_raw(line)
                self.assertEqual(h.wait(), 2, h.stderr())
                self.assertIn(message, h.stderr())
                self.assertEqual(h.rest_of_stdout(), b"")

    def test_undecodable_base64_fails_the_batch_without_retry(self):
        h = self.scripted()
        h.init()
        reply = h.batch(1, [{"topic": "test_topic", "partition": 0, "offset": 1, "value": "not base64!"}])
        self.assertEqual([reply["type"], reply["id"], reply["retryable"]], ["fail", 1, False])
        self.assertIn("ProtocolError", reply["error"])
        h.close_stdin()
        self.assert_clean_exit(h)

    def test_process_batch_gets_the_whole_batch(self):
        h = self.spawn([PYTHON, self.script("batch.py", BATCH_CONSUMER)])
        h.init()
        self.assertEqual(h.batch(1, [msg(1, b"x"), msg(2, b"y")]), {"type": "ack", "id": 1})
        h.close_stdin()
        self.assert_clean_exit(h)
        self.assertIn("batch consumer got 2", h.stderr())

    def test_a_consumer_without_process_is_refused_at_start(self):
        h = self.spawn([PYTHON, self.script("lazy.py", NO_PROCESS)])
        h.close_stdin()
        self.assertNotEqual(h.wait(), 0)
        self.assertIn("LazyConsumer defines neither process(msg) nor process_batch(msgs)", h.stderr())
        self.assertEqual(h.rest_of_stdout(), b"")

    def test_echo_example(self):
        # Run the way a manifest runs it: `python3 examples/python/echo_consumer.py` from the
        # app's directory, without PYTHONPATH.
        h = self.spawn(["python3", "examples/python/echo_consumer.py"], PYTHONPATH=None)
        h.init(consumer="echo", topics=["echo"])
        reply = h.batch(1, [msg(5, b"hello\x00world", key=b"k", topic="echo", partition=1,
                                headers=[["source", b64(b"api")]], timestamp_ms=1523450393000)])
        self.assertEqual(reply, {"type": "ack", "id": 1})
        h.send({"type": "shutdown", "reason": "sigterm"})
        self.assertEqual(h.read_reply(), {"type": "bye"})
        self.assert_clean_exit(h)
        self.assertEqual(h.rest_of_stdout(), b"")
        stderr = h.stderr()
        self.assertIn("echo/1@5 key=b'k' value=b'hello\\x00world' headers=[source=b'api'] "
                      "timestamp=2018-04-11 12:39:53+00:00", stderr)
        self.assertRegex(stderr, r"echo/1@5 handled in [0-9.]+ ms")
        self.assertEqual(self.lines("handled.log"), ["echo 1 5"])


if __name__ == "__main__":
    unittest.main()
