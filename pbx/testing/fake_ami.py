"""A fake Asterisk manager on 127.0.0.1 that replays AMI captures.

For tests and the listener benchmark; never for production. It greets with
``Asterisk Call Manager/5.0.1``, answers ``Login`` (``Response: Success``,
ActionID echoed; ``Error`` on a wrong secret), ``Ping`` (``Ping: Pong``) and
``Logoff`` (``Goodbye``, then hangs up), refuses any other action, and after
a successful login streams the captured messages. It can be told to drop
connections (now, or when the stream reaches a given message), to stop
answering Pings, to pace the stream, and to hold a response back (an action
header ``Delay: SECONDS``) so responses arrive out of order. It answers
``QueueStatus`` and ``QueueSummary`` as Asterisk does (``Response: Success``,
then ``QueueParams``/``QueueMember``/``QueueEntry`` or ``QueueSummary``
events carrying the ActionID, then ``QueueStatusComplete`` or
``QueueSummaryComplete``) from the ``queues`` it is given, which a test may
change while it runs. :class:`FakeOriginateAmiServer` answers ``Originate``
too (click to dial).

By default the stream position is shared: a client that reconnects gets the
messages after the last one sent, as if none were lost while it was away.
With ``per_connection=True`` every connection gets the whole stream (the
benchmark runs one client after another).

Standalone, for the benchmark or by hand::

    python -m pbx.testing.fake_ami FILE.ami ... [--port 5038] [--repeat N] [--close-at-end]
"""

import argparse
import bisect
import contextlib
import itertools
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from ..asterisk.ami import Parser, parse_bytes

BANNER = b"Asterisk Call Manager/5.0.1\r\n"
_MESSAGE_END = re.compile(rb"(?:[ \t]*\r?\n){2,}")
_ID_HEADER = re.compile(rb"^(\w*(?:Uniqueid|Linkedid): )([^\r\n]*)", re.MULTILINE)


def split_messages(data):
    """The messages of a wire capture as bytes, each ended by ``\\r\\n\\r\\n``."""
    return [part + b"\r\n\r\n" for part in _MESSAGE_END.split(data) if part.strip()]


def load_messages(paths, repeat=1):
    """Messages of the capture files, concatenated, ``repeat`` times.

    From the second repetition on, every ``...Uniqueid``/``...Linkedid``
    value gets a ``~N`` suffix, so each repetition is a new set of calls
    rather than late events of finished ones.
    """
    once = [message for path in paths for message in split_messages(Path(path).read_bytes())]
    messages = list(once)
    for turn in range(1, repeat):
        suffix = b"~%d" % turn
        messages += [_ID_HEADER.sub(lambda m, s=suffix: m[1] + m[2] + s, m) for m in once]
    return messages


def add_channel_variables(messages, variables):
    """Add ``ChanVariable: NAME=value`` lines, as manager.conf ``channelvars`` does.

    ``variables(message)`` gets each parsed :class:`pbx.asterisk.ami.Message` with a
    channel snapshot and returns ``(name, value)`` pairs to add.
    """
    result = []
    for raw in messages:
        (message,) = parse_bytes(raw)
        pairs = variables(message) if message.get("Uniqueid") else ()
        if pairs:
            extra = "".join(f"ChanVariable: {name}={value}\r\n" for name, value in pairs)
            raw = raw[:-2] + extra.encode() + b"\r\n"
        result.append(raw)
    return result


class _Connection:
    def __init__(self, server, sock, number):
        self.server = server
        self.sock = sock
        self.number = number
        self.lock = threading.Lock()
        self.alive = True
        self.streaming = False
        self.cursor = 0

    def send(self, data):
        with self.lock:
            if not self.alive:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.close()
                return False

    def close(self, graceful=False):
        """Hang up; ``graceful`` sends what is queued and a FIN, then waits for the client."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR if graceful else socket.SHUT_RDWR)
        if not graceful:
            self.sock.close()

    def serve(self):
        parser = Parser()
        try:
            self.send(self.server.banner)
            while self.alive:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                for action in parser.feed(data):
                    self.server.handle(self, action)
        finally:
            self.close()
            self.server.forget(self)


class FakeAmiServer:
    """Replay ``messages`` (wire bytes, one per message) to AMI clients.

    ``delay`` paces the stream (seconds between messages); otherwise messages
    go out in writes of about ``chunk_size`` bytes. ``drop_at`` lists stream
    positions (message counts) at which the connection is dropped.
    ``close_at_end`` hangs up once everything is sent. Attributes that tests
    read or change while it runs: ``answer_pings``, ``actions`` (list of
    ``(connection number, Message)``), ``connections`` (accepted so far),
    ``logins``, ``sent`` (stream position), ``history`` (``(time.monotonic(),
    what, connection number)`` with what in accept, login, hangup (by the
    server), closed).
    """

    def __init__(
        self,
        messages=(),
        *,
        host="127.0.0.1",
        port=0,
        username="listener",
        secret="secret",
        delay=0.0,
        chunk_size=65536,
        drop_at=(),
        answer_pings=True,
        close_at_end=False,
        per_connection=False,
        banner=BANNER,
        queues=None,
    ):
        self.messages = list(messages)
        self._ends = list(itertools.accumulate(len(m) for m in self.messages))
        self.username, self.secret = username, secret
        self.delay = delay
        self.chunk_size = chunk_size
        self.drop_at = sorted(drop_at)
        self.answer_pings = answer_pings
        self.close_at_end = close_at_end
        self.per_connection = per_connection
        self.banner = banner
        # {queue name: {"members": [{header: value}], "callers": [{header: value}]}}
        self.queues = queues if queues is not None else {}
        self.actions = []
        self.connections = 0
        self.logins = 0
        self.sent = 0
        self.history = []
        self._live = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = False
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._threads = []

    # -- life cycle --------------------------------------------------------

    def start(self):
        self._spawn(self._accept_loop, "fake-ami-accept")
        return self

    def stop(self):
        self._stopping = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.drop()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def drop(self):
        """Hang up every open connection now (the listening socket stays)."""
        with self._lock:
            live = list(self._live)
        for connection in live:
            self.note("hangup", connection)
            connection.close()

    def push(self, messages):
        """Send ``messages`` (wire bytes, one per message) at once to every
        logged-in connection, as events happening now; how many got them."""
        with self._lock:
            live = [connection for connection in self._live if connection.streaming]
        data = b"".join(messages)
        return sum(1 for connection in live if connection.send(data))

    def note(self, what, connection):
        with self._changed:
            self.history.append((time.monotonic(), what, connection.number))
            self._changed.notify_all()

    def times(self, what):
        """Moments (time.monotonic()) at which ``what`` happened, in order."""
        with self._lock:
            return [moment for moment, name, _ in self.history if name == what]

    def wait_for(self, predicate, timeout=10.0):
        """Wait until ``predicate()`` is true (checked on every change and every 50 ms)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
        return True

    def _spawn(self, target, name, *args):
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _notify(self, **changes):
        with self._changed:
            for key, value in changes.items():
                setattr(self, key, getattr(self, key) + value)
            self._changed.notify_all()

    def _accept_loop(self):
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._changed:
                self.connections += 1
                connection = _Connection(self, sock, self.connections)
                self._live.add(connection)
                self.history.append((time.monotonic(), "accept", connection.number))
                self._changed.notify_all()
            self._spawn(connection.serve, f"fake-ami-{connection.number}")

    def forget(self, connection):
        with self._changed:
            self._live.discard(connection)
            self.history.append((time.monotonic(), "closed", connection.number))
            self._changed.notify_all()

    # -- actions -----------------------------------------------------------

    def handle(self, connection, action):
        with self._changed:
            self.actions.append((connection.number, action))
            self._changed.notify_all()
        name = (action.get("Action") or "").lower()
        headers = [("ActionID", action.get("ActionID"))] if action.get("ActionID") else []
        if name == "ping" and not self.answer_pings:
            return
        if name == "login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                reply = [("Response", "Success"), *headers, ("Message", "Authentication accepted")]
            else:
                reply = [("Response", "Error"), *headers, ("Message", "Authentication failed")]
        elif name == "ping":
            reply = [("Response", "Success"), *headers, ("Ping", "Pong")]
            reply.append(("Timestamp", f"{time.time():.6f}"))
        elif name == "logoff":
            reply = [("Response", "Goodbye"), *headers, ("Message", "Thanks for all the fish.")]
        elif name in ("queuestatus", "queuesummary"):
            reply = [("Response", "Success"), *headers, ("EventList", "start")]
            reply.append(
                ("Message", f"Queue {'status' if name == 'queuestatus' else 'summary'} will follow")
            )
        else:
            reply = [("Response", "Error"), *headers, ("Message", "Invalid/unknown command")]
        data = "".join(f"{key}: {value}\r\n" for key, value in reply).encode() + b"\r\n"
        delay = float(action.get("Delay") or 0)
        if delay:
            timer = threading.Timer(delay, connection.send, (data,))
            timer.daemon = True
            timer.start()
        else:
            connection.send(data)
        if name == "queuestatus":
            connection.send(self._queue_status(headers))
        elif name == "queuesummary":
            connection.send(self._queue_summary(headers))
        if name == "logoff":
            connection.close(graceful=True)
        elif name == "login" and reply[0][1] == "Success" and not connection.streaming:
            connection.streaming = True
            self.note("login", connection)
            self._notify(logins=1)
            self._spawn(self._stream, f"fake-ami-stream-{connection.number}", connection)

    # -- queues --------------------------------------------------------------

    def _queue_status(self, headers):
        """The events that answer a QueueStatus: each queue's parameters, members
        and callers, then QueueStatusComplete; each carries the ActionID."""
        events = []
        with self._lock:
            queues = {name: dict(queue) for name, queue in self.queues.items()}
        for name, queue in queues.items():
            members, callers = queue.get("members", []), queue.get("callers", [])
            params = {"Queue": name, "Max": "0", "Strategy": "ringall"}
            params.update(Calls=str(len(callers)), Holdtime="0", TalkTime="0", Completed="0")
            params.update(Abandoned="0", ServiceLevel="20", ServicelevelPerf="0.0", Weight="0")
            events.append([("Event", "QueueParams"), *headers, *params.items()])
            for member in members:
                events.append(
                    [("Event", "QueueMember"), *headers, ("Queue", name), *member.items()]
                )
            for position, caller in enumerate(callers, 1):
                entry = [("Queue", name), ("Position", str(position)), *caller.items()]
                events.append([("Event", "QueueEntry"), *headers, *entry])
        complete = [("EventList", "Complete"), ("ListItems", str(len(events)))]
        events.append([("Event", "QueueStatusComplete"), *headers, *complete])
        return b"".join(_encode(event) for event in events)

    def _queue_summary(self, headers):
        """The events that answer a QueueSummary: one per queue, then QueueSummaryComplete."""
        events = []
        with self._lock:
            queues = {name: dict(queue) for name, queue in self.queues.items()}
        for name, queue in queues.items():
            members, callers = queue.get("members", []), queue.get("callers", [])
            available = sum(1 for m in members if m.get("Status") == "1" and m.get("Paused") != "1")
            summary = {"Queue": name, "LoggedIn": str(len(members)), "Available": str(available)}
            summary.update(Callers=str(len(callers)), HoldTime="0", TalkTime="0")
            summary["LongestHoldTime"] = "0"
            events.append([("Event", "QueueSummary"), *headers, *summary.items()])
        complete = [("EventList", "Complete"), ("ListItems", str(len(events)))]
        events.append([("Event", "QueueSummaryComplete"), *headers, *complete])
        return b"".join(_encode(event) for event in events)

    # -- streaming ---------------------------------------------------------

    def _stream(self, connection):
        while connection.alive and not self._stopping:
            with self._changed:
                start = connection.cursor if self.per_connection else self.sent
                stop = self._chunk_end(start)
                if start >= len(self.messages):
                    if self.close_at_end:
                        self.history.append((time.monotonic(), "hangup", connection.number))
                        connection.close(graceful=True)
                    return
                if start == stop:
                    # A drop point: hang up once (after what was sent); a
                    # client that reconnects gets the rest.
                    self.drop_at.remove(stop)
                    self.history.append((time.monotonic(), "hangup", connection.number))
                    connection.close(graceful=True)
                    return
                # Claim the messages before sending, so two connections
                # never send the same ones.
                if self.per_connection:
                    connection.cursor = stop
                else:
                    self.sent = stop
                self._changed.notify_all()
            if not connection.send(b"".join(self.messages[start:stop])):
                return
            if self.delay:
                time.sleep(self.delay)

    def _chunk_end(self, start):
        """End of the next write: one message when paced, else about chunk_size bytes."""
        if self.delay or not self.chunk_size:
            stop = start + 1
        else:
            target = (self._ends[start - 1] if start else 0) + self.chunk_size
            stop = bisect.bisect_left(self._ends, target, lo=start) + 1
        stop = min(stop, len(self.messages))
        for point in self.drop_at:
            if point >= start:
                return min(stop, point)
        return stop


def _encode(pairs):
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


class FakeOriginateAmiServer(FakeAmiServer):
    """A fake Asterisk manager that also answers ``Originate`` (click-to-dial tests).

    :class:`FakeAmiServer` refuses every action it does not know; this one
    answers ``Originate`` as Asterisk does with ``Async: true`` (``Response:
    Success``, ``Message: Originate successfully queued``, the ActionID
    echoed) and keeps every Originate it gets in ``originates`` so a test can
    check the exact fields. ``originate_reply`` scripts the answer:
    ``"success"``, ``"error"`` (``Response: Error`` with
    ``originate_message``) or ``"silent"`` (no answer at all, for timeouts).
    """

    def __init__(self, *args, originate_reply="success", originate_message=None, **options):
        super().__init__(*args, **options)
        self.originate_reply = originate_reply
        self.originate_message = originate_message
        self.originates = []

    def handle(self, connection, action):
        if (action.get("Action") or "").lower() != "originate":
            return super().handle(connection, action)
        with self._changed:
            self.actions.append((connection.number, action))
            self.originates.append(action)
            self._changed.notify_all()
        if self.originate_reply == "silent":
            return None
        headers = [("ActionID", action.get("ActionID"))] if action.get("ActionID") else []
        if self.originate_reply == "error":
            reply = [
                ("Response", "Error"),
                *headers,
                ("Message", self.originate_message or "Originate failed"),
            ]
        else:
            reply = [
                ("Response", "Success"),
                *headers,
                ("Message", self.originate_message or "Originate successfully queued"),
            ]
        data = "".join(f"{key}: {value}\r\n" for key, value in reply).encode() + b"\r\n"
        connection.send(data)
        return None

    def wait_originates(self, count=1, timeout=5.0):
        """Wait until ``count`` Originates arrived; True if they did."""
        return self.wait_for(lambda: len(self.originates) >= count, timeout)


def closed_port():
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    server = FakeAmiServer()
    port = server.port
    server.stop()
    time.sleep(0.01)
    return port


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pbx.testing.fake_ami", description="Replay AMI captures to AMI clients."
    )
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--username", default="listener")
    parser.add_argument("--secret", default="secret")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between messages")
    parser.add_argument("--close-at-end", action="store_true")
    parser.add_argument(
        "--per-connection", action="store_true", help="every connection gets the whole stream"
    )
    args = parser.parse_args(argv)
    server = FakeAmiServer(
        load_messages(args.files, args.repeat),
        port=args.port,
        username=args.username,
        secret=args.secret,
        delay=args.delay,
        close_at_end=args.close_at_end,
        per_connection=args.per_connection,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    sys.stdout.write(f"{server.port} messages={len(server.messages)}\n")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
