#!/usr/bin/env python3
"""Wallboard latency: AMI events to a manager's bus websocket, in the production shape.

Run it with Odoo's own Python (see bench/README.md)::

    /opt/odoo19/venv/bin/python bench/bench_wallboard.py [--db pca_bench_wallboard]
        [--rate 100] [--seconds 60] [--workers 2] [--reuse [--no-update]] [--json]

What it does:

1. Creates the database ``--db`` (dropped first unless ``--reuse``) with the
   addon installed, then in ``odoo shell`` an Asterisk PBX with a token.
2. Starts Odoo as production runs it: ``--workers`` prefork HTTP workers, a
   cron worker and the websocket (gevent) worker, through Odoo's launcher
   script, on 127.0.0.1.
3. Logs in as admin (a Phone manager), opens the bus websocket as the web
   client does and records when each live notification arrives (with the
   time of the latest event it covers, ``last_at``).
4. Starts a fake Asterisk manager (``pbx.testing.fake_ami``: ten queues of
   twenty members for ``QueueStatus``) and the real listener with
   ``odoo.live`` (and the calls webhook) against it, then for ``--seconds``
   pushes ``--rate`` AMI events a second: queue calls joining, ringing an
   agent, answered, talking and hanging up, member status changes; each
   event is stamped (``Timestamp``) with the moment it is sent.
5. For every event that makes a live event (worked out with the listener's own
   tracker on the same stream), the latency is the time from its sending to
   the arrival of the first websocket notification covering it. Prints p50,
   p95, p99 and max, the notifications per second a screen gets, the
   listener's posts and drops, the wallboard's RPC time under the load, and
   the ERROR lines of the server log.

Network only to 127.0.0.1. The script reports, it does not assert: the exit
code is 0 unless the benchmark itself cannot run.
"""

# A script, not addon code: it prints its figures.
# pylint: disable=print-used

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import common  # first: it puts the repository on sys.path for pbx
from bench_webhook import Odoo, free_port, log_lines, prepare_database, wait_ready
from common import say, stop_group

from pbx.asterisk.ami import parse_bytes
from pbx.listener.config import check_listen_config
from pbx.listener.live import LiveTracker
from pbx.listener.service import Listener
from pbx.testing.fake_ami import FakeAmiServer

PBX_NAME = "Bench wallboard PBX"
TRUNKS = ["^PJSIP/provider-"]
QUEUES = [f"queue{n}" for n in range(10)]
AGENTS_PER_QUEUE = 20
LIVE = "phone_call_accounting/live"

SETUP_SCRIPT = """
import json
env = env(context=dict(env.context, tracking_disable=True))
company = env.company
company.write({{"country_id": env.ref("base.nl").id, "phone": "+31 20 794 0100"}})
company.partner_id.tz = "Europe/Amsterdam"
Pbx = env["phone.pbx"].with_context(active_test=False)
pbx = Pbx.search([("name", "=", {pbx_name!r})], limit=1)
if not pbx:
    pbx = Pbx.create({{"name": {pbx_name!r}, "kind": "asterisk_ami",
                      "trunk_patterns": "^PJSIP/provider-"}})
pbx.write({{"token": {token!r}, "active": True}})
env.cr.commit()
print("PCA_SETUP " + json.dumps({{"pbx_id": pbx.id}}))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_odoo_arguments(parser)
    parser.add_argument("--db", default="pca_bench_wallboard")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--no-update", action="store_true", help="with --reuse: no -u first")
    parser.add_argument("--workers", type=int, default=2, help="prefork HTTP workers")
    parser.add_argument("--rate", type=float, default=100.0, help="AMI events per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    return common.complete_odoo_arguments(parser.parse_args(argv))


def launcher(src):
    """Odoo's launcher: the prefork master starts the websocket worker as
    ``python sys.argv[0] gevent``, which ``python -m odoo`` cannot be."""
    for relative in ("odoo-bin", "setup/odoo"):
        path = Path(src) / relative
        if path.is_file():
            return str(path)
    sys.exit(f"no odoo-bin or setup/odoo launcher in {src}")


def serve(args, odoo, port, gevent_port, logfile):
    command = [
        args.odoo_python,
        launcher(args.odoo_src),
        f"--addons-path={odoo.addons_path}",
        f"--data-dir={args.data_dir}",
        "-d",
        args.db,
        f"--db-filter=^{args.db}$",
        f"--workers={args.workers}",
        "--max-cron-threads=1",
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        f"--gevent-port={gevent_port}",
        f"--logfile={logfile}",
        "--log-level=info",
    ]
    return subprocess.Popen(
        command,
        env=odoo.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_port(port, process, timeout=120):
    """Whether something listens on ``port`` (the websocket worker) before ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


def setup_database(args, odoo):
    prepare_database(args, odoo)
    token = secrets.token_urlsafe(32)
    output = odoo.shell(SETUP_SCRIPT.format(pbx_name=PBX_NAME, token=token))
    line = next((x for x in output.splitlines() if x.startswith("PCA_SETUP ")), None)
    if not line:
        sys.stderr.write(output[-3000:])
        sys.exit("odoo shell did not report the PBX")
    return json.loads(line.split(" ", 1)[1])["pbx_id"], token


class Session:
    """The web client's login and JSON-RPC, as tools/production_shape does it."""

    def __init__(self, url, db, login, password):
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(), urllib.request.ProxyHandler({})
        )
        self.rpc("/web/session/authenticate", {"db": db, "login": login, "password": password})
        self.cookie = next(
            f"session_id={cookie.value}"
            for handler in self.opener.handlers
            if isinstance(handler, urllib.request.HTTPCookieProcessor)
            for cookie in handler.cookiejar
            if cookie.name == "session_id"
        )

    def rpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        request = urllib.request.Request(
            self.url + path, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("error"):
            raise RuntimeError(f"{path}: {answer['error']}")
        return answer.get("result")

    def call(self, model, method, *args):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": {}},
        )


class BusListener(threading.Thread):
    """The manager's bus websocket: (arrival epoch, last_at epoch) of every live notification."""

    def __init__(self, gevent_port, cookie, origin, pbx_id):
        super().__init__(daemon=True)
        import websocket

        self.websocket = websocket
        self.socket = websocket.create_connection(
            f"ws://127.0.0.1:{gevent_port}/websocket", cookie=cookie, origin=origin, timeout=30
        )
        self.socket.send(
            json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}})
        )
        self.pbx_id = pbx_id
        self.arrivals = []
        self.stopping = False

    def run(self):
        self.socket.settimeout(0.5)
        while not self.stopping:
            try:
                frame = self.socket.recv()
            except self.websocket.WebSocketTimeoutException:
                continue
            except (OSError, self.websocket.WebSocketException):
                return
            arrived = time.time()
            for notification in json.loads(frame) if frame else []:
                message = notification.get("message", {})
                payload = message.get("payload") or {}
                if message.get("type") == LIVE and payload.get("pbx_id") == self.pbx_id:
                    last = datetime.fromisoformat(payload["last_at"].replace("Z", "+00:00"))
                    self.arrivals.append((arrived, last.timestamp()))

    def stop(self):
        self.stopping = True
        with contextlib.suppress(Exception):
            self.socket.close()


def queue_status():
    """The fake PBX's queues for QueueStatus: ten queues of twenty free agents."""
    queues = {}
    for q, name in enumerate(QUEUES):
        members = []
        for a in range(AGENTS_PER_QUEUE):
            extension = str(300 + q * AGENTS_PER_QUEUE + a)
            members.append(
                {
                    "MemberName": f"Agent {extension}",
                    "Interface": f"PJSIP/{extension}",
                    "StateInterface": f"PJSIP/{extension}",
                    "Status": "1",
                    "Paused": "0",
                }
            )
        queues[name] = {"members": members, "callers": []}
    return queues


def timeline(rate, seconds, seed):
    """[(offset in seconds, headers)] of queue traffic, about ``rate`` events a second
    all along: calls start before the window (their later events fall in it) and
    only the events within ``seconds`` are kept."""
    rng = random.Random(seed)
    events = []
    per_call = 13  # the events each call below makes
    lead = 45.0  # longer than a call lasts
    calls = int(rate * (seconds + lead) / per_call)
    for n in range(calls):
        start = n * per_call / rate - lead
        queue = rng.randrange(len(QUEUES))
        extension = str(300 + queue * AGENTS_PER_QUEUE + rng.randrange(AGENTS_PER_QUEUE))
        uniqueid = f"1800000000.{2 * n}"
        agent_id = f"1800000000.{2 * n + 1}"
        caller = {
            "Channel": f"PJSIP/provider-{n:08x}",
            "CallerIDNum": f"06{rng.randrange(10**8):08d}",
            "CallerIDName": "<unknown>",
            "Uniqueid": uniqueid,
            "Linkedid": uniqueid,
            "Exten": "0201234567",
        }
        agent = {
            "Channel": f"PJSIP/{extension}-{n:08x}",
            "CallerIDNum": extension,
            "Uniqueid": agent_id,
            "Linkedid": uniqueid,
            "Exten": "s",
        }
        dest = {f"Dest{k}": v for k, v in agent.items()}
        member = {
            "Queue": QUEUES[queue],
            "MemberName": f"Agent {extension}",
            "Interface": f"PJSIP/{extension}",
            "StateInterface": f"PJSIP/{extension}",
            "Paused": "0",
        }
        wait = rng.uniform(1, 12)
        talk = rng.uniform(5, 25)
        q = {"Queue": QUEUES[queue]}
        plan = [
            (0, "Newchannel", caller),
            (0.1, "QueueCallerJoin", caller | q | {"Position": "1", "Count": "1"}),
            (wait, "Newchannel", agent),
            (wait, "DialBegin", caller | dest | {"DialString": f"PJSIP/{extension}"}),
            (wait, "QueueMemberStatus", member | {"Status": "6"}),
            (wait + 2, "DialEnd", caller | dest | {"DialStatus": "ANSWER"}),
            (wait + 2, "QueueCallerLeave", caller | q | {"Position": "1", "Count": "0"}),
            (wait + 2, "AgentConnect", caller | dest | member | {"HoldTime": str(int(wait))}),
            (wait + 2, "BridgeEnter", agent),
            (wait + 2.1, "QueueMemberStatus", member | {"Status": "2"}),
            (wait + 2 + talk, "Hangup", agent | {"Cause": "16"}),
            (wait + 2 + talk, "Hangup", caller | {"Cause": "16"}),
            (wait + 2.1 + talk, "QueueMemberStatus", member | {"Status": "1"}),
        ]
        for offset, name, headers in plan:
            if 0 <= start + offset < seconds:
                events.append((start + offset, n, name, headers))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(offset, {"Event": name, **headers}) for offset, _, name, headers in events]


def wire(headers, stamp):
    lines = [f"Event: {headers['Event']}", "Privilege: call,all", f"Timestamp: {stamp:.6f}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k != "Event"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def latencies_of(stamps, arrivals):
    """Seconds from each event's sending (``stamps``, epoch) to the first notification
    covering it (``arrivals``: (arrival epoch, last_at epoch) in arrival order), and
    how many no notification covered."""
    latencies, missing, index = [], 0, 0
    for stamp in stamps:
        while index < len(arrivals) and arrivals[index][1] + 0.0011 < stamp:
            index += 1
        covering = next((a for a in arrivals[index:] if a[1] + 0.0011 >= stamp), None)
        if covering is None:
            missing += 1
        else:
            latencies.append(covering[0] - stamp)
    return latencies, missing


def run(args, odoo, work, pbx_id, token):
    port, gevent_port = free_port(), free_port()
    logfile = Path(args.data_dir).parent / "wallboard.log"
    logfile.unlink(missing_ok=True)
    say(f"starting odoo --workers={args.workers} with the websocket worker on 127.0.0.1:{port}")
    process = serve(args, odoo, port, gevent_port, logfile)
    ami = listener = bus = None
    try:
        if not wait_ready(port, process) or not wait_port(gevent_port, process):
            sys.exit(f"odoo did not serve HTTP and the websocket; see {logfile}")
        url = f"http://127.0.0.1:{port}"
        session = Session(url, args.db, "admin", "admin")
        bus = BusListener(gevent_port, session.cookie, url, pbx_id)
        bus.start()
        ami = FakeAmiServer(queues=queue_status()).start()
        config = check_listen_config(
            {
                "trunks": TRUNKS,
                "country": "NL",
                "stale_seconds": 3600,
                "ami": {
                    "host": "127.0.0.1",
                    "port": ami.port,
                    "username": "listener",
                    "secret": "secret",
                },
                "odoo": {"url": url, "pbx_id": pbx_id, "token": token, "live": True},
                "spool": str(work / "spool.sqlite"),
            }
        )
        listener = Listener(config).start()
        if not listener.wait_connected():
            sys.exit("the listener did not connect to the fake AMI server")
        deadline = time.monotonic() + 60
        while not bus.arrivals and time.monotonic() < deadline:
            time.sleep(0.05)  # the snapshot posted on connect, through every layer
        if not bus.arrivals:
            sys.exit("no live notification reached the websocket within 60 s")
        # Warm every worker up, then the load.
        for _ in range(2 * args.workers):
            session.call("phone.queue", "wallboard_data")
        plan = timeline(args.rate, args.seconds, args.seed)
        tracker = LiveTracker(TRUNKS)  # what the listener makes of each event
        stamps = []
        rpc_times = []
        stop_rpc = threading.Event()

        def screen():
            # A wall screen under the load: refreshes as the client throttles it.
            while not stop_rpc.wait(0.4):
                started = time.perf_counter()
                session.call("phone.queue", "wallboard_data")
                rpc_times.append(time.perf_counter() - started)

        screen_thread = threading.Thread(target=screen, daemon=True)
        screen_thread.start()
        say(f"pushing {len(plan):,} AMI events at {args.rate:g}/s for {args.seconds:g} s")
        load_before = os.getloadavg()[0]
        begin = time.time() + 0.5
        first_arrival = len(bus.arrivals)
        late = []
        for offset, headers in plan:
            moment = begin + offset
            pause = moment - time.time()
            if pause > 0:
                time.sleep(pause)
            stamp = time.time()
            late.append(stamp - moment)
            data = wire(headers, stamp)
            ami.push([data])
            (message,) = parse_bytes(data)
            if tracker.feed(message):
                stamps.append(float(f"{stamp:.3f}"))
        load_after = os.getloadavg()[0]
        time.sleep(3)
        stop_rpc.set()
        screen_thread.join(5)
    finally:
        if listener is not None:
            listener.stop(delivery_seconds=5)
        if ami is not None:
            ami.stop()
        if bus is not None:
            bus.stop()
        stop_group(process)
    arrivals = bus.arrivals[first_arrival:]
    latencies, missing = latencies_of(stamps, arrivals)
    duration = args.seconds
    errors = log_lines(logfile, " ERROR ") + log_lines(logfile, " CRITICAL ")
    figure = {
        "workers": args.workers,
        "rate": args.rate,
        "seconds": duration,
        "ami_events": len(plan),
        "live_events": len(stamps),
        "measured": len(latencies),
        "not_seen": missing,
        "p50_ms": round(common.pct(latencies, 50) * 1000),
        "p95_ms": round(common.pct(latencies, 95) * 1000),
        "p99_ms": round(common.pct(latencies, 99) * 1000),
        "max_ms": round(max(latencies) * 1000) if latencies else None,
        "notifications": len(arrivals),
        "notifications_per_s": round(len(arrivals) / duration, 1),
        "listener_posts": listener.live_sender.posts if listener else 0,
        "listener_dropped": listener.live_sender.dropped if listener else 0,
        "push_late_p95_ms": round(common.pct(late, 95) * 1000, 1),
        "wallboard_rpc_p50_ms": round(common.pct(rpc_times, 50) * 1000),
        "wallboard_rpc_p95_ms": round(common.pct(rpc_times, 95) * 1000),
        "error_log_lines": len(errors),
        "retries": len(log_lines(logfile, " tries left, try again in ")),
        "load_average": [round(load_before, 1), round(load_after, 1)],
    }
    return figure, errors


def main(argv=None):
    args = parse_args(argv)
    try:
        import psycopg2  # noqa: F401
        import websocket  # noqa: F401
    except ImportError:
        common.rerun_with_odoo_python(args, "psycopg2 or websocket-client is missing")
    work = Path(tempfile.mkdtemp(prefix="pca-bench-wallboard-"))
    try:
        odoo = Odoo(args, work)
        pbx_id, token = setup_database(args, odoo)
        figure, errors = run(args, odoo, work, pbx_id, token)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{figure['ami_events']:,} AMI events in {figure['seconds']:g} s "
        f"({figure['rate']:g}/s), {figure['live_events']:,} of them live events; "
        f"Odoo --workers={figure['workers']} with the websocket worker"
    )
    print(
        f"event -> manager's websocket: p50 {figure['p50_ms']} ms, p95 {figure['p95_ms']} ms, "
        f"p99 {figure['p99_ms']} ms, max {figure['max_ms']} ms "
        f"({figure['measured']:,} measured, {figure['not_seen']} never seen)"
    )
    print(
        f"{figure['notifications']:,} notifications ({figure['notifications_per_s']}/s a screen), "
        f"{figure['listener_posts']:,} listener posts, {figure['listener_dropped']} dropped; "
        f"wallboard_data p50 {figure['wallboard_rpc_p50_ms']} ms, "
        f"p95 {figure['wallboard_rpc_p95_ms']} ms; "
        f"{figure['error_log_lines']} ERROR lines, {figure['retries']} request retries; "
        f"load average {figure['load_average'][0]} -> {figure['load_average'][1]} "
        f"on {os.cpu_count()} CPUs"
    )
    for line in errors[:10]:
        print("  " + line[:300])
    if args.json:
        print(json.dumps(figure))
    return 0


if __name__ == "__main__":
    sys.exit(main())
