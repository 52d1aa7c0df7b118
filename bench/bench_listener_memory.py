#!/usr/bin/env python3
"""Memory of the AMI listener: ~100 calls in progress at once, 1,000,000 events.

Run it from the repository root::

    /opt/odoo19/venv/bin/python bench/bench_listener_memory.py [--events 1000000]
        [--concurrent 100] [--reconnects 3] [--tracemalloc 0]

What it does:

1. Turns each of the twelve shared real captures (``../shared/fixtures/ami``)
   into a template in which every ``...Uniqueid``/``...Linkedid`` value gets
   a ``~N`` suffix and every channel name (``Channel``, ``DestChannel``,
   ``LocalOneChannel``...) six hex digits after its own hex suffix (before a
   Local ``;1``/``;2``), so copy N of a capture is a call of its own (its
   external id is the original one plus ``~N``). Before measuring it checks
   that a renamed copy assembles to the same calls as the capture, and that a
   small interleaved trace does too.
2. Interleaves ``--concurrent`` copies one message at a time, round robin;
   when a copy ends the next capture's copy takes its place, until at least
   ``--events`` events were written (then the copies under way finish). So
   about ``--concurrent`` calls are in progress at any moment.
3. Serves that trace from the fake AMI server (:class:`pbx.testing.fake_ami.FakeAmiServer`,
   rendering the messages as it streams them) in a separate process over
   127.0.0.1, and hangs up gracefully ``--reconnects`` times mid-trace; the
   stream goes on where it stopped on the listener's next connection.
4. Runs the real :class:`pbx.listener.service.Listener` (manager, assembler,
   SQLite spool with synchronous=FULL, delivery thread with the real urllib
   webhook client) in a child process, delivering to a stub of Odoo's calls
   webhook on 127.0.0.1 in this process (upsert answers, every call counted
   by external id). Between 40% and 60% of the events the stub answers 503,
   so calls pile up in the spool, then it accepts them again.
5. Samples the listener process's RSS (``/proc/PID/status`` VmRSS, the
   figure psutil gives; psutil is not a declared requirement) each time the
   child reports its progress, about every 0.5 s, until every event was read
   and every call delivered, and a few seconds more.

Figures: RSS after start (listener built, before the first event), peak,
at the end of each 250k events, steady state (median of the samples of the
last quarter of the events), growth over the second half (median of the last
quarter minus median of the second; the first half fills bounded caches, shown
for information as growth from the first quarter), events/s, calls delivered
vs expected, open calls at the end.
MB are 10^6 bytes. Targets (issue 13, item 3): steady RSS <= 60 MB, growth
<= 5 MB, every call delivered exactly once. They are reported, never
asserted; the exit code is 0 once the benchmark ran.

``--tracemalloc FRAMES`` (or ``PCA_BENCH_TRACEMALLOC=FRAMES`` in the child's
environment) makes the child trace allocations and print, at the end, what
grew most between the first quarter of the events and the end. Tracing is
slow: use it with fewer ``--events``.
"""

# A script that prints its figures.
# pylint: disable=print-used

import argparse
import collections
import contextlib
import json
import os
import re
import select
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import common
from common import print_table, say

from pbx.asterisk.ami import parse_bytes
from pbx.asterisk.assembler import assemble
from pbx.testing.captures import CAPTURES_DIR, TRUNKS
from pbx.testing.fake_ami import FakeAmiServer, split_messages

TARGET_STEADY_MB = 60.0
TARGET_GROWTH_MB = 5.0
MB = 1_000_000
USERNAME, SECRET = "bench", "bench"
STATUS_SECONDS = 0.5
REFUSE_FROM, REFUSE_UNTIL = 0.40, 0.60
TRACEMALLOC_ENV = "PCA_BENCH_TRACEMALLOC"
_HEX_SUFFIX = re.compile(rb"-[0-9a-fA-F]+(?=(?:;[12])?$)")


# -- the trace --------------------------------------------------------------


def template_of(message):
    """A capture message as a bytes %-template: ``%(id)s`` after every id value,
    ``%(ch)s`` after the hex suffix of every channel name."""
    lines = []
    for line in message.split(b"\r\n"):
        key, sep, value = line.partition(b": ")
        line = line.replace(b"%", b"%%")
        if sep and value and key.endswith((b"Uniqueid", b"Linkedid")):
            line += b"%(id)s"
        elif sep and key.endswith(b"Channel"):
            found = _HEX_SUFFIX.search(value.replace(b"%", b"%%"))
            if found:
                at = len(key) + len(sep) + found.end()
                line = line[:at] + b"%(ch)s" + line[at:]
        lines.append(line)
    return b"\r\n".join(lines)


def render(template, copy):
    return template % {b"id": b"~%d" % copy, b"ch": b"%06x" % copy}


def load_captures():
    """``[(name, [templates])]`` of the shared captures, sorted by name."""
    files = sorted(CAPTURES_DIR.glob("*.ami"))
    return [
        (path.name, [template_of(m) for m in split_messages(path.read_bytes())]) for path in files
    ]


def schedule(lengths, concurrent, least_events):
    """``(capture, copy, message)`` indexes of the interleaved trace, in order.

    ``concurrent`` copies advance one message each per round; a finished copy
    is replaced by a copy of the next capture until ``least_events`` messages
    (all of them events) were scheduled. Copies are numbered from 1.
    """
    copies = 0
    emitted = 0

    def new_copy():
        nonlocal copies
        copies += 1
        return [(copies - 1) % len(lengths), copies, 0]

    active = [new_copy() for _ in range(concurrent)]
    while active:
        still = []
        for slot in active:
            capture, copy, position = slot
            yield capture, copy, position
            emitted += 1
            slot[2] += 1
            if slot[2] < lengths[capture]:
                still.append(slot)
            elif emitted < least_events:
                still.append(new_copy())
        active = still


def messages_of(captures, concurrent, least_events):
    templates = [messages for _name, messages in captures]
    lengths = [len(messages) for messages in templates]
    for capture, copy, position in schedule(lengths, concurrent, least_events):
        yield render(templates[capture][position], copy)


def fixed_clock():
    moment = [1_700_000_000.0]

    def clock():
        moment[0] += 0.01
        return moment[0]

    return clock


def comparable(call):
    """A call without what interleaving changes: its id suffix, its times and
    durations (its events are further apart)."""
    skip = ("external_id", "start", "end", "ring_seconds", "talk_seconds")
    return {key: value for key, value in call.items() if key not in skip}


def check_trace(captures, concurrent):
    """Expected external ids per capture; problems found renaming or interleaving."""
    problems = []
    expected = []
    for name, templates in captures:
        calls = _calls_of(templates)
        copy = assemble(
            parse_bytes(b"".join(render(t, 7) for t in templates)), TRUNKS, clock=fixed_clock()
        )
        expected.append([call["external_id"] for call in calls])
        if [c["external_id"] + "~7" for c in calls] != [c["external_id"] for c in copy] or [
            comparable(c) for c in calls
        ] != [comparable(c) for c in copy]:
            problems.append(f"{name}: a renamed copy assembles to other calls")
    # A small interleaved trace: every call as its capture alone gives it.
    by_capture = {
        index: {c["external_id"]: comparable(c) for c in _calls_of(templates)}
        for index, (_name, templates) in enumerate(captures)
    }
    lengths = [len(templates) for _name, templates in captures]
    copy_capture = {}
    for capture, copy, _position in schedule(lengths, concurrent, 20_000):
        copy_capture[copy] = capture
    trace = b"".join(messages_of(captures, concurrent, 20_000))
    calls = assemble(parse_bytes(trace), TRUNKS, clock=fixed_clock())
    seen = set()
    for call in calls:
        original, _, copy = call["external_id"].rpartition("~")
        want = by_capture[copy_capture[int(copy)]].get(original)
        if want != comparable(call):
            problems.append(f"interleaved call {call['external_id']} differs from its capture")
        seen.add(call["external_id"])
    wanted = {
        f"{eid}~{copy}" for copy, capture in copy_capture.items() for eid in expected[capture]
    }
    if seen != wanted:
        problems.append(f"interleaved trace: {len(seen ^ wanted)} calls missing or extra")
    return expected, problems


def _plain(templates):
    """The capture as it was: the templates without their marks."""
    return b"".join(
        t.replace(b"%(id)s", b"").replace(b"%(ch)s", b"").replace(b"%%", b"%") for t in templates
    )


def _calls_of(templates):
    return assemble(parse_bytes(_plain(templates)), TRUNKS, clock=fixed_clock())


# -- the fake AMI server (separate process) ----------------------------------


class TraceServer(FakeAmiServer):
    """:class:`FakeAmiServer` streaming messages from an iterator, rendered as sent.

    The stream position is shared (a reconnecting client gets what follows).
    At each of ``drop_at`` (message counts) it hangs up once, gracefully: a
    FIN after the data sent, then it reads (and ignores) what the client
    still sends until the client closes. The base class's graceful close
    stops reading, so a Ping arriving afterwards draws an RST, which can
    discard events the client had not read yet (a slow client loses them).
    """

    def __init__(self, source, **options):
        super().__init__((), **options)
        self._source = source
        self._hanging_up = set()

    def handle(self, connection, action):
        if connection not in self._hanging_up:
            return super().handle(connection, action)
        return None

    def forget(self, connection):
        self._hanging_up.discard(connection)
        return super().forget(connection)

    def _stream(self, connection):
        while connection.alive and not self._stopping:
            with self._changed:
                if self.drop_at and self.sent >= self.drop_at[0]:
                    self.drop_at.pop(0)
                    self.history.append((time.monotonic(), "hangup", connection.number))
                    self._hanging_up.add(connection)
                    with connection.lock, contextlib.suppress(OSError):
                        connection.sock.shutdown(socket.SHUT_WR)
                    return
                limit = self.drop_at[0] if self.drop_at else None
                chunk, size = [], 0
                while size < self.chunk_size and (limit is None or self.sent < limit):
                    message = next(self._source, None)
                    if message is None:
                        break
                    chunk.append(message)
                    size += len(message)
                    self.sent += 1
                self._changed.notify_all()
            if not chunk:
                return  # the trace is over; the connection stays open (Pings)
            if not connection.send(b"".join(chunk)):
                return


def serve(args):
    captures = load_captures()
    drop_at = [int(x) for x in args.drop_at.split(",") if x]
    server = TraceServer(
        messages_of(captures, args.concurrent, args.events),
        username=USERNAME,
        secret=SECRET,
        drop_at=drop_at,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server.start()
    print(server.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    return 0


# -- the listener (child process) ---------------------------------------------


def listen(args):
    import logging  # the child only

    from pbx.listener.config import check_listen_config
    from pbx.listener.service import Listener

    frames = int(os.environ.get(TRACEMALLOC_ENV) or 0)
    if frames:
        import tracemalloc

        tracemalloc.start(frames)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = check_listen_config(
        {
            "trunks": TRUNKS,
            "stale_seconds": 3600,
            "ami": {"port": args.port, "username": USERNAME, "secret": SECRET},
            "odoo": {
                "url": args.odoo,
                "pbx_id": 1,
                "token": "bench",
                "backoff_min": 0.5,
                "backoff_max": 2.0,
            },
            "spool": args.spool,
        }
    )
    times = {"first": None, "last": None}

    def clock():
        now = time.time()
        if times["first"] is None:
            times["first"] = now
        times["last"] = now
        return now

    listener = Listener(config, clock=clock)
    out = sys.stdout

    def report(kind, **extra):
        with listener._assembler_lock:  # a consistent count
            open_calls = listener.assembler.open_calls
            events = listener.events
        line = {
            "kind": kind,
            "events": events,
            "open": open_calls,
            "spooled": listener.calls_spooled,
            "connections": listener.connections,
            "delivered": listener.deliverer.delivered,
            "first": times["first"],
            "last": times["last"],
            **extra,
        }
        out.write(json.dumps(line) + "\n")
        out.flush()

    report("ready")
    sys.stdin.readline()  # "go"
    listener.start()
    done = threading.Event()
    snapshots = {}

    def status():
        while not done.wait(STATUS_SECONDS):
            report("status")
            if frames:
                events = listener.events
                for name, share in (("25%", 0.25), ("75%", 0.75)):
                    if name not in snapshots and events >= args.total * share:
                        snapshots[name] = tracemalloc.take_snapshot()

    thread = threading.Thread(target=status, name="bench-status", daemon=True)
    thread.start()
    sys.stdin.readline()  # "stop"
    report("end")
    if frames and len(snapshots) == 2:
        write_tracemalloc(snapshots["25%"], snapshots["75%"], frames)
    done.set()
    thread.join()
    listener.stop(delivery_seconds=30)
    out.write(json.dumps({"kind": "stopped"}) + "\n")
    out.flush()
    return 0


def write_tracemalloc(first, second, frames):
    """What the child held at 75% of the events and what grew since 25%, to stderr."""
    out = sys.stderr
    total = sum(stat.size for stat in second.statistics("filename"))
    for title, stats in (
        ("largest allocations at 75% of the events", second.statistics("traceback")[:8]),
        ("what grew most from 25% to 75% of the events", second.compare_to(first, "traceback")[:8]),
    ):
        out.write(f"tracemalloc: {title} (traced at 75%: {total / MB:.1f} MB)\n")
        for stat in stats:
            grew = getattr(stat, "size_diff", None)
            grew = f" ({grew / 1024:+,.0f} KiB)" if grew is not None else ""
            out.write(f"  {stat.size / 1024:,.0f} KiB{grew} in {stat.count:,} blocks\n")
            for line in stat.traceback.format()[-2 * min(frames, 8) :]:
                out.write(f"      {line}\n")
    out.flush()


# -- the webhook stub (this process) ------------------------------------------


class StubWebhook:
    """Odoo's calls webhook on 127.0.0.1: upsert answers, calls counted by external id."""

    def __init__(self):
        self.received = collections.Counter()
        self.refuse = False
        self.requests = collections.Counter()  # HTTP status -> requests
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if stub.refuse:
                    status, data = 503, {"error": "bench: Odoo is down for maintenance"}
                else:
                    calls = json.loads(body)["calls"]
                    with stub.lock:
                        results = []
                        for call in calls:
                            external_id = call["external_id"]
                            seen = stub.received[external_id]
                            stub.received[external_id] += 1
                            result = "updated" if seen else "created"
                            results.append({"external_id": external_id, "result": result})
                    status, data = 200, {"results": results}
                with stub.lock:
                    stub.requests[status] += 1
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# -- measuring ------------------------------------------------------------------


def rss_of(pid):
    """Resident set size of ``pid`` in bytes (``VmRSS``, what psutil reports as rss)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS for {pid}")


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def mb(value):
    return f"{value / MB:.1f} MB" if value is not None else "-"


def verdict(ok):
    return "PASS" if ok else "MISS"


def measure(args):
    say(f"load average {load_average()} (1, 5, 15 min) on {os.cpu_count()} cores")
    captures = load_captures()
    if not captures:
        print(f"no captures in {CAPTURES_DIR}", file=sys.stderr)
        return 2
    expected_per_capture, problems = check_trace(captures, args.concurrent)
    for problem in problems:
        say(f"trace check: {problem}")
    lengths = [len(templates) for _name, templates in captures]
    total = copies = 0
    expected = set()
    for capture, copy, position in schedule(lengths, args.concurrent, args.events):
        total += 1
        if position == 0:
            copies += 1
            expected.update(f"{eid}~{copy}" for eid in expected_per_capture[capture])
    say(
        f"trace: {len(captures)} captures, {copies} copies interleaved {args.concurrent} at "
        f"a time, {total:,} events, {len(expected):,} calls expected; trace check: "
        f"{'ok' if not problems else f'{len(problems)} problems'}"
    )
    drop_at = [round(total * (i + 1) / (args.reconnects + 1)) for i in range(args.reconnects)]

    work = Path(tempfile.mkdtemp(prefix="pca-bench-memory-"))
    stub = StubWebhook()
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "serve",
            "--events",
            str(args.events),
            "--concurrent",
            str(args.concurrent),
            "--drop-at",
            ",".join(map(str, drop_at)),
        ],
        cwd=common.REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = server.stdout.readline().strip()
    if not port:
        server.kill()
        sys.exit("the fake AMI server did not start")
    env = dict(os.environ)
    if args.tracemalloc:
        env[TRACEMALLOC_ENV] = str(args.tracemalloc)
    log_path = work / "listener.log"
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "listen",
                "--port",
                port,
                "--odoo",
                stub.url,
                "--spool",
                str(work / "spool.sqlite"),
                "--total",
                str(total),
            ],
            cwd=common.REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    say(
        f"fake AMI server pid {server.pid} on 127.0.0.1:{port} (hangs up at messages "
        f"{', '.join(f'{x:,}' for x in drop_at) or 'never'}); listener pid {child.pid}; "
        f"webhook stub {stub.url}; spool and log in {work}"
    )
    try:
        result = run_child(args, child, stub, total, expected)
    finally:
        for process in (child, server):
            if process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(10)
        stub.stop()
    log_text = log_path.read_text(errors="replace")
    result["spool"] = spool_counts(work / "spool.sqlite")
    report(args, result, total, expected, stub, log_text, problems)
    return 0


def spool_counts(path):
    """Rows per state in the spool the listener left."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute("SELECT state, COUNT(*) FROM spooled_call GROUP BY state")
            return ", ".join(f"{count:,} {state}" for state, count in rows.fetchall())
    except sqlite3.Error as exc:
        return f"unreadable ({exc})"


def read_line(child, timeout):
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    if not ready:
        return None
    line = child.stdout.readline()
    if not line:
        raise EOFError("the listener process ended")
    return json.loads(line)


def run_child(args, child, stub, total, expected):
    samples = []  # (seconds since go, events, rss, status)
    ready = read_line(child, 60)
    if ready is None:
        sys.exit("the listener did not start")
    start_rss = rss_of(child.pid)
    t0 = time.monotonic()
    child.stdin.write("go\n")
    child.stdin.flush()
    refused = {"from": None, "until": None}
    done_at = None
    last_progress, last_events = time.monotonic(), -1
    status = ready
    while True:
        status = read_line(child, 10) or status
        now = time.monotonic()
        samples.append((now - t0, status["events"], rss_of(child.pid), status))
        events = status["events"]
        if refused["from"] is None and events >= total * REFUSE_FROM:
            stub.refuse, refused["from"] = True, events
            say(f"webhook stub answers 503 from event {events:,}")
        if (
            refused["from"] is not None
            and refused["until"] is None
            and events >= total * REFUSE_UNTIL
        ):
            stub.refuse, refused["until"] = False, events
            say(f"webhook stub accepts again from event {events:,}")
        if events != last_events:
            last_events, last_progress = events, now
            if len(samples) % 40 == 0:
                say(
                    f"{events:,} events, {status['open']} calls open, RSS "
                    f"{mb(samples[-1][2])}, {len(stub.received):,} calls received"
                )
        all_in = events >= total and expected <= set(stub.received)
        if all_in and done_at is None:
            done_at = now
            say(f"every event read and every call delivered; {args.idle:g} s more of samples")
        if done_at is not None and now - done_at >= args.idle:
            break
        if now - last_progress > args.stall and not all_in:
            say(f"no progress for {args.stall:g} s; stopping the measurement")
            break
        if now - t0 > args.timeout:
            say(f"time limit {args.timeout:g} s reached; stopping the measurement")
            break
    end_rss = rss_of(child.pid)
    child.stdin.write("stop\n")
    child.stdin.flush()
    end = None
    stopped = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = read_line(child, 5)
        if line is None:
            continue
        if line["kind"] == "end":
            end = line
        elif line["kind"] == "stopped":
            stopped = line
            break
    child.wait(30)
    return {
        "start_rss": start_rss,
        "end_rss": end_rss,
        "samples": samples,
        "refused": refused,
        "end": end or status,
        "stopped": stopped,
    }


def report(args, result, total, expected, stub, log_text, problems):
    samples = result["samples"]
    streaming = [s for s in samples if 0 < s[1]]
    rss_all = [s[2] for s in samples]
    peak = max(rss_all, default=None)
    quarter = total / 4

    def median_between(low, high):
        values = [rss for _t, events, rss, _s in streaming if low < events <= high]
        return statistics.median(values) if values else None

    first_q = median_between(0, quarter)
    second_q = median_between(quarter, 2 * quarter)
    last_q = median_between(3 * quarter, total)
    # Bounded caches (ids of finished calls, SQLite's page cache) fill during the
    # first half; growth that goes on after it is what would exhaust a listener.
    warm_up = last_q - first_q if first_q is not None and last_q is not None else None
    growth = last_q - second_q if second_q is not None and last_q is not None else None
    end = result["end"]
    seconds = (end["last"] - end["first"]) if end.get("first") and end.get("last") else None
    rate = end["events"] / seconds if seconds else None
    received = stub.received
    once = sum(1 for eid in expected if received.get(eid) == 1)
    twice = sum(1 for eid in expected if received.get(eid, 0) > 1)
    missing = len(expected - set(received))
    extra = len(set(received) - expected)
    all_delivered = once == len(expected) and not extra
    warnings = [line for line in log_text.splitlines() if " WARNING " in line]
    errors = [line for line in log_text.splitlines() if " ERROR " in line or "Traceback" in line]

    rows = [
        ["RSS after start (listener built, no event yet)", mb(result["start_rss"]), "", ""],
        ["RSS peak", mb(peak), "", ""],
    ]
    for step in range(250_000, total + 250_000, 250_000):
        mark = min(step, total)
        after = [s for s in samples if s[1] >= mark]
        rss = after[0][2] if after else None
        rows.append([f"RSS at {mark:,} events", mb(rss), "", ""])
        if mark == total:
            break
    rows += [
        ["RSS at the end (idle, all delivered)", mb(result["end_rss"]), "", ""],
        [
            "steady RSS (median, last quarter of events)",
            mb(last_q),
            f"<= {TARGET_STEADY_MB:g} MB",
            verdict(last_q is not None and last_q <= TARGET_STEADY_MB * MB),
        ],
        [
            "growth from the first quarter (caches filling)",
            f"{warm_up / MB:+.1f} MB" if warm_up is not None else "-",
            "",
            "",
        ],
        [
            "growth over the second half (last - second quarter)",
            f"{growth / MB:+.1f} MB" if growth is not None else "-",
            f"<= {TARGET_GROWTH_MB:g} MB",
            verdict(growth is not None and growth <= TARGET_GROWTH_MB * MB),
        ],
        [
            "events read",
            f"{end['events']:,} of {total:,}",
            "all",
            verdict(end["events"] == total),
        ],
        ["events/s (first to last event)", f"{rate:,.0f}" if rate else "-", "", ""],
        [
            "calls delivered exactly once / expected",
            f"{once:,} / {len(expected):,}",
            "all",
            verdict(all_delivered),
        ],
        [
            "  delivered twice or more / missing / unexpected",
            f"{twice} / {missing} / {extra}",
            "0",
            "",
        ],
        ["open calls at the end", str(end["open"]), "0", verdict(end["open"] == 0)],
        [
            "AMI connections (reconnections forced)",
            f"{end['connections']} ({args.reconnects})",
            "",
            verdict(end["connections"] == args.reconnects + 1),
        ],
        [
            "webhook answers 200 / 503",
            f"{stub.requests[200]:,} / {stub.requests[503]:,}",
            "",
            "",
        ],
        ["samples (RSS)", f"{len(samples)}", "", ""],
    ]
    if problems:
        rows.append(["trace check problems", str(len(problems)), "0", "MISS"])
    print_table(
        f"Listener memory: {total:,} events, {args.concurrent} copies interleaved, "
        f"{args.reconnects} reconnections, 503 from event {result['refused']['from'] or 0:,} to "
        f"{result['refused']['until'] or 0:,}; load average {load_average()} "
        f"({os.cpu_count()} cores); {time.strftime('%Y-%m-%d %H:%M %Z')}; "
        f"{common.addon_label(common.REPO)}",
        ["figure", "value", "target", "verdict"],
        rows,
    )
    print(
        f"listener log: {len(warnings)} warnings, {len(errors)} errors"
        + f"; spool rows after stop: {result['spool']}"
        + ("" if result["stopped"] else "; the listener did not report its stop")
    )
    tail = [line for line in log_text.splitlines() if not line.startswith("20")]
    if tail:
        print("\n".join(tail[-60:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="least events in the trace")
    parser.add_argument("--concurrent", type=int, default=100, help="copies under way at once")
    parser.add_argument("--reconnects", type=int, default=3, help="hang-ups mid-trace")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds sampled after the end")
    parser.add_argument("--stall", type=float, default=60.0, help="give up after no progress")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after seconds")
    parser.add_argument(
        "--tracemalloc", type=int, default=0, help="frames traced in the child (slow)"
    )
    parser.add_argument("--role", choices=("measure", "serve", "listen"), default="measure")
    # Internal: the child processes.
    parser.add_argument("--drop-at", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--odoo", default="", help=argparse.SUPPRESS)
    parser.add_argument("--spool", default="", help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "serve":
        return serve(args)
    if args.role == "listen":
        return listen(args)
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
