"""KafkaConsumer: the handler side of kafkactl's handler protocol (docs/handler-protocol.md).

`kafkactl worker NAME:N` owns Kafka, offsets, retries, systemd and metrics. It runs the
consumer's `command` as one long-lived child process (the handler) and talks to it over the
handler's stdin/stdout, one JSON object per line. This module is that handler's side for
Python 3, standard library only; examples/ruby/kafka_consumer.rb is the same for Ruby, with the
same behaviour.

    from kafka_consumer import KafkaConsumer, before_process, run

    class EchoConsumer(KafkaConsumer):
        topic = "echo"

        def process(self, msg):  # msg.topic, .partition, .offset, .key, .value, .headers, .timestamp
            print(msg.value)     # stdout is the protocol's: print goes to stderr (the journal)

    if __name__ == "__main__":
        run(EchoConsumer)        # or EchoConsumer.run()

What a consumer gets:
- `process(msg)` once per message; or override `process_batch(msgs)` (the default calls
  `process` for each message, in order) to handle a whole batch (manifest `batch.max_size`).
- A batch that raises is answered `fail` with "ErrorClass: message": the worker retries it with
  backoff and then stops or dead-letters (manifest `retry`). Errors that retrying cannot fix
  answer `retryable: false`: raise `PermanentError` (or a subclass), or list the classes in
  `non_retryable = (json.JSONDecodeError, "psycopg2.errors.UniqueViolation")`, or override
  `retryable(error)`.
- Hooks: methods decorated with `@before_process`, `@after_process` or `@around_process` run
  around every `process(msg)` call. They live here, in the handler, and not in the worker,
  because hooks are application code: they need the application's objects (DB connections, ORM
  sessions, tracing and error-tracking clients), and those exist only in the handler process.
- stdout belongs to the protocol. `run` keeps the real stdout for replies and points the
  process's stdout (sys.stdout and file descriptor 1, so child processes too) at stderr, which
  the worker forwards to the journal: `print` in a consumer is a log line, not a protocol
  violation. stdin is likewise taken and replaced with /dev/null. Print nothing to stdout
  before `run` starts.
- KAFKACTL_HANDLED_LOG=FILE (opt-in): every successfully processed message appends the line
  "topic partition offset" to FILE before its batch is acked. kafkactl's worker tests use it to
  count deliveries (at-least-once: a line may repeat, but none may be missing).

Protocol handling: `init` is answered `ready`; each `batch` is answered `ack` or `fail`;
`shutdown` is answered `bye` and the process exits 0; end of stdin (the worker went away)
exits 0. Every reply is flushed at once. Input this module cannot understand (not JSON, an
unknown type, a batch before init) is a bug on the other side: it is logged and the process
exits 2, and the worker restarts the handler.
"""

import base64
import binascii
import datetime
import json
import os
import sys
import traceback

__all__ = [
    "KafkaConsumer",
    "Message",
    "Init",
    "PermanentError",
    "ProtocolError",
    "before_process",
    "after_process",
    "around_process",
    "run",
]

# The handler protocol version this module speaks.
PROTOCOL_VERSION = 1

# Longest error text sent in a `fail` reply (the worker accepts reply lines up to 64 KiB).
MAX_ERROR_BYTES = 4096


class PermanentError(Exception):
    """Raise it (or a subclass) from `process` when retrying cannot help: the batch is answered
    `fail` with `retryable: false`."""


class ProtocolError(Exception):
    """The worker sent something this module does not understand."""


class Message:
    """A Kafka message. `key` and `value` are bytes, or None when absent (a tombstone has no
    value); `headers` is a list of (name, bytes) pairs in order; `timestamp` is an aware UTC
    datetime (None when the broker gave none), `timestamp_ms` the same in ms."""

    __slots__ = ("topic", "partition", "offset", "key", "value", "headers", "timestamp_ms")

    def __init__(self, topic, partition, offset, key=None, value=None, headers=(), timestamp_ms=None):
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = list(headers)
        self.timestamp_ms = timestamp_ms

    @property
    def timestamp(self):
        if self.timestamp_ms is None:
            return None
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return epoch + datetime.timedelta(milliseconds=self.timestamp_ms)

    def header(self, name):
        """The value of the last header called `name`, or None."""
        for n, v in reversed(self.headers):
            if n == name:
                return v
        return None

    def __str__(self):
        return f"{self.topic}/{self.partition}@{self.offset}"

    def __repr__(self):
        return f"<Message {self} key={self.key!r} value={self.value!r}>"


class Init:
    """Who the handler works for, from the worker's `init`."""

    __slots__ = ("consumer", "instance", "group", "topics")

    def __init__(self, consumer, instance, group, topics):
        self.consumer = consumer
        self.instance = instance
        self.group = group
        self.topics = topics


_HOOK_ATTR = "_kafkactl_hook"


def before_process(method):
    """Decorates a method `(self, msg)` that runs before every `process(msg)`."""
    setattr(method, _HOOK_ATTR, "before")
    return method


def after_process(method):
    """Decorates a method `(self, msg)` that runs after every `process(msg)` that did not raise."""
    setattr(method, _HOOK_ATTR, "after")
    return method


def around_process(method):
    """Decorates a method `(self, msg, run)` that wraps every `process(msg)` together with its
    before and after hooks; it calls `run()` to go on. Not calling it skips the message (which
    is still acked). The first around hook declared is the outermost."""
    setattr(method, _HOOK_ATTR, "around")
    return method


class KafkaConsumer:
    """Base class of consumers: set `topic`, define `process(msg)`."""

    # The topic this consumer reads. kafkactl subscribes to the manifest's `topic`; a mismatch
    # is logged at init.
    topic = None

    # Exception classes (or "module.Class" names, for classes that may not be imported) that
    # answer `retryable: false`.
    non_retryable = ()

    PermanentError = PermanentError

    # Hook method names by kind, base classes' first, then in definition order.
    _hooks = {"before": (), "after": (), "around": ()}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        kinds = {}
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                kind = getattr(attr, _HOOK_ATTR, None)
                if kind is not None:
                    kinds[name] = kind
        cls._hooks = {
            kind: tuple(name for name, k in kinds.items() if k == kind)
            for kind in ("before", "after", "around")
        }

    def __init__(self):
        # Set from the worker's `init` before the first message.
        self.init = None
        # The message `with_hooks` is running (after a failure: the one that failed), or None.
        self.current_message = None

    def __str__(self):
        if self.init is not None:
            return f"{self.init.group}:{self.init.instance}"
        return type(self).__name__

    def process(self, msg):
        """Handles one message. Consumers define it."""
        raise NotImplementedError(f"{type(self).__name__} must define process(msg)")

    def process_batch(self, msgs):
        """Handles a batch (one message, or up to the manifest's `batch.max_size`, in partition
        order). The default runs `process` with its hooks for each message. A consumer that
        overrides this handles the batch itself; the hooks run only where it calls
        `self.with_hooks(msg, fn)`."""
        for msg in msgs:
            self.with_hooks(msg, self.process)

    def with_hooks(self, msg, fn):
        """Calls `fn(msg)` with the around, before and after hooks for `msg`."""
        self.current_message = msg
        hooks = type(self)._hooks

        def inner():
            for name in hooks["before"]:
                getattr(self, name)(msg)
            result = fn(msg)
            for name in hooks["after"]:
                getattr(self, name)(msg)
            return result

        call = inner
        for name in reversed(hooks["around"]):
            call = _wrap(getattr(self, name), msg, call)
        return call()

    def retryable(self, error):
        """Whether the worker should retry a batch that raised `error`."""
        if isinstance(error, PermanentError):
            return False
        names = set()
        for klass in type(error).__mro__:
            names.add(klass.__qualname__)
            names.add(f"{klass.__module__}.{klass.__qualname__}")
        for listed in self.non_retryable:
            if isinstance(listed, type):
                if isinstance(error, listed):
                    return False
            elif str(listed) in names:
                return False
        return True

    @classmethod
    def run(cls):
        """Runs this consumer class as the handler (see `run`)."""
        run(cls)


def _wrap(hook, msg, nested):
    return lambda: hook(msg, nested)


def run(consumer_class):
    """Runs `consumer_class` as the handler until `shutdown` or the end of stdin, then exits
    (0; 2 after input that is not the protocol)."""
    if not (isinstance(consumer_class, type) and issubclass(consumer_class, KafkaConsumer)):
        sys.exit(f"kafka_consumer: {consumer_class!r} is not a KafkaConsumer subclass")
    if (
        consumer_class.process is KafkaConsumer.process
        and consumer_class.process_batch is KafkaConsumer.process_batch
    ):
        sys.exit(
            f"kafka_consumer: {consumer_class.__name__} defines neither process(msg) "
            "nor process_batch(msgs)"
        )
    proto_in, proto_out = claim_stdio()
    handler = Handler(consumer_class(), proto_in, proto_out)
    try:
        status = handler.serve()
    finally:
        handler.close()
    sys.exit(status)


def claim_stdio():
    """Takes stdin and stdout for the protocol and returns them (binary); from then on the
    process's stdout (and file descriptor 1, which child processes inherit) is stderr, and its
    stdin is /dev/null."""
    sys.stdout.flush()
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    return proto_in, proto_out


class Handler:
    """The protocol loop: reads the worker's lines from `proto_in`, answers on `proto_out`."""

    def __init__(self, consumer, proto_in, proto_out):
        self.consumer = consumer
        self.input = proto_in
        self.output = proto_out
        path = os.environ.get("KAFKACTL_HANDLED_LOG", "")
        self.handled_log = open(path, "ab", buffering=0) if path else None

    def serve(self):
        """Serves until shutdown or end of input; returns the exit status."""
        try:
            while True:
                line = self.input.readline()
                if not line:
                    return 0
                if not line.strip():
                    continue
                request = self.parse(line)
                kind = request.get("type")
                if kind == "init":
                    self.on_init(request)
                elif kind == "batch":
                    self.on_batch(request)
                elif kind == "shutdown":
                    self.log(f"shutting down ({request.get('reason')})")
                    self.reply({"type": "bye"})
                    return 0
                else:
                    raise ProtocolError(f"unknown message type {json.dumps(kind)}")
        except ProtocolError as e:
            self.log(f"protocol error: {e}")
            return 2
        except BrokenPipeError:
            self.log("the worker closed the handler's stdout; exiting")
            return 0

    def close(self):
        for stream in (self.handled_log, self.input, self.output):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def parse(self, line):
        try:
            request = json.loads(line)
        except ValueError as e:
            raise ProtocolError(f"a line that is not JSON ({str(e)[:200]})") from None
        if not isinstance(request, dict):
            raise ProtocolError(f"expected a JSON object, got {line[:120]!r}")
        return request

    def on_init(self, request):
        version = request.get("version")
        if version != PROTOCOL_VERSION:
            self.log(f"the worker speaks protocol version {version!r}, this module {PROTOCOL_VERSION}")
        self.consumer.init = Init(
            consumer=request.get("consumer"),
            instance=request.get("instance"),
            group=request.get("group"),
            topics=list(request.get("topics") or []),
        )
        topic = self.consumer.topic
        if topic and topic not in self.consumer.init.topics:
            self.log(
                f"{type(self.consumer).__name__} reads {topic!r} (topic) but the manifest gives "
                f"{self.consumer.init.topics!r}; kafkactl delivers the manifest's topics"
            )
        self.reply({"type": "ready", "version": PROTOCOL_VERSION})

    def on_batch(self, request):
        if self.consumer.init is None:
            raise ProtocolError("a batch before init")
        batch_id = request.get("id")
        if not isinstance(batch_id, int) or isinstance(batch_id, bool):
            raise ProtocolError("a batch without an integer id")
        try:
            messages = [decode(m) for m in request.get("messages") or []]
        except (binascii.Error, KeyError, TypeError, ValueError, AttributeError) as e:
            # The worker's encoding is broken; retrying the same bytes cannot help.
            error = _text(f"ProtocolError: {type(e).__name__}: {e}")
            self.reply({"type": "fail", "id": batch_id, "error": error, "retryable": False})
            return

        self.consumer.current_message = None
        try:
            self.consumer.process_batch(messages)
        except Exception as e:  # noqa: BLE001 - every application error answers `fail`
            retryable = bool(self.consumer.retryable(e))
            trace = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            self.log(
                f"{self.describe(messages)} failed ({'retryable' if retryable else 'not retryable'}): "
                f"{error_text(e)}\n{trace}"
            )
            self.reply({"type": "fail", "id": batch_id, "error": error_text(e), "retryable": retryable})
            return

        self.record_handled(messages)
        self.reply({"type": "ack", "id": batch_id})

    def describe(self, messages):
        if not messages:
            return "an empty batch"
        if len(messages) == 1:
            return str(messages[0])
        current = self.consumer.current_message
        if current is not None:
            return f"{current} (in a batch of {len(messages)})"
        return f"a batch of {len(messages)} from {messages[0]}"

    def reply(self, obj):
        self.output.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
        self.output.flush()

    def record_handled(self, messages):
        """One write per batch, to a file opened for appending: lines from several instances
        do not interleave."""
        if self.handled_log is None or not messages:
            return
        lines = "".join(f"{m.topic} {m.partition} {m.offset}\n" for m in messages)
        self.handled_log.write(lines.encode())

    def log(self, line):
        print(f"[kafka_consumer] {self.consumer}: {line}", file=sys.stderr, flush=True)


def decode(wire):
    """A Message from its wire form (base64 fields decoded)."""
    return Message(
        topic=wire["topic"],
        partition=wire["partition"],
        offset=wire["offset"],
        key=_bytes(wire.get("key")),
        value=_bytes(wire.get("value")),
        headers=[(name, _bytes(value)) for name, value in wire.get("headers") or []],
        timestamp_ms=wire.get("timestamp_ms"),
    )


def _bytes(field):
    """Strict base64 (standard alphabet, padded)."""
    if field is None:
        return None
    return base64.b64decode(field, validate=True)


def error_text(error):
    """"ErrorClass: message" for a `fail` reply."""
    klass = type(error)
    name = klass.__qualname__
    if klass.__module__ not in ("builtins", "__main__"):
        name = f"{klass.__module__}.{name}"
    message = str(error)
    return _text(f"{name}: {message}" if message else name)


def _text(string):
    """At most MAX_ERROR_BYTES bytes of UTF-8, whatever the exception message held."""
    data = string.encode("utf-8", errors="replace")
    if len(data) <= MAX_ERROR_BYTES:
        return data.decode("utf-8")
    return data[: MAX_ERROR_BYTES - 3].decode("utf-8", errors="ignore") + "..."


if __name__ == "__main__":
    sys.exit(
        "kafka_consumer.py is a library: define a KafkaConsumer subclass in a script that "
        "imports it and calls run(TheConsumer) (see the top of this file)"
    )
