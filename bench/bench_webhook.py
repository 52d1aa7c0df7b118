#!/usr/bin/env python3
"""Load benchmark of the calls webhook through a real multi-worker Odoo 19 server.

Run it with Odoo's own Python (see bench/README.md)::

    /opt/odoo19/venv/bin/python bench/bench_webhook.py [--db pca_bench_webhook]
        [--workers 1,2,4] [--clients 8] [--batch 20] [--seconds 60] [--reuse [--no-update]]
        [--json]

What it does:

1. Creates the database ``--db`` (dropped first unless ``--reuse``) by running
   ``python -m odoo -i phone_call_accounting --stop-after-init`` (no demo
   data), the addon reached through a temporary ``phone_call_accounting``
   symlink, then sets it up in ``python -m odoo shell``: a Dutch company that
   creates unknown callers, 20 agents on extensions 201-220, ``--known``
   clients with their own mobile numbers and one PBX of kind "webhook" in the
   native format with a token made here.
2. For each worker count starts ``python -m odoo --workers=N
   --max-cron-threads=0`` on 127.0.0.1 and a free port, warms every worker up,
   then lets ``--clients`` threads post batches of ``--batch`` calls to
   ``/phone_call_accounting/pbx/<id>/calls`` with ``Authorization: Bearer``
   for ``--seconds``: most calls from known clients, about 30 % from numbers
   the database does not know yet (several clients often send the same new
   number at once), about 10 % redeliveries of calls already sent.
3. Stops the server (SIGTERM to the process it started), counts the partners
   created twice for one number and the `` ERROR `` lines of the server log,
   and prints calls/s, requests/s, p50/p95 request latency and the errors.

Network only to 127.0.0.1. The script reports, it does not assert: the exit
code is 0 unless the benchmark itself cannot run.
"""

# A script, not addon code: it prints its figures.
# pylint: disable=print-used

import argparse
import collections
import contextlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import common  # first: it puts the repository on sys.path for pbx
from common import EXTENSIONS, MODULE, MULT, REPO, TZ, pct, say

from pbx.demo import STATUS_WEIGHTS, call_item, pick

PBX_NAME = "Bench webhook PBX"
PARTNER_REF = "pca-bench-webhook"
# Known clients: +31 6 1xxxxxxx (a bijection of their row number). New callers:
# +31 6 8xxxxxxx, counted on from the highest one the database already has.
KNOWN_PREFIX = "+3161"
NEW_PREFIX = "+3168"
SPACE = 10_000_000
DUPLICATES_SQL = (
    "SELECT phone_sanitized, count(*) FROM res_partner "
    "WHERE phone_caller_number IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_odoo_arguments(parser)
    parser.add_argument("--db", default="pca_bench_webhook")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument(
        "--no-update",
        action="store_true",
        help="with --reuse, do not run -u phone_call_accounting first",
    )
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--batch", type=int, default=20, help="calls per request")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration per worker count")
    parser.add_argument("--known", type=int, default=5000, help="known clients in the database")
    parser.add_argument("--new-share", type=float, default=0.30)
    parser.add_argument("--redelivery-share", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = common.complete_odoo_arguments(parser.parse_args(argv))
    args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    return args


def ensure_psycopg2(args):
    """Re-run under Odoo's python when the running one has no psycopg2."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        common.rerun_with_odoo_python(args, "psycopg2 is missing; pass --odoo-python")


def db_connect(dbname, autocommit=False):
    import psycopg2

    cnx = psycopg2.connect(dbname=dbname)
    cnx.autocommit = autocommit
    return cnx


def query(dbname, sql, params=None):
    cnx = db_connect(dbname)
    try:
        with cnx.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        cnx.close()


def db_exists(dbname):
    return bool(query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]))


def drop_db(dbname):
    cnx = db_connect("postgres", autocommit=True)
    try:
        with cnx.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    finally:
        cnx.close()


# ----------------------------------------------------------------------
# Odoo in subprocesses
# ----------------------------------------------------------------------


class Odoo:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.addons_path = common.link_addon(args, work)
        self.env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                filter(None, [args.odoo_src, str(REPO), os.environ.get("PYTHONPATH")])
            ),
        )

    def base_command(self, *extra):
        return [
            self.args.odoo_python,
            "-m",
            "odoo",
            *extra,
            f"--addons-path={self.addons_path}",
            f"--data-dir={self.args.data_dir}",
            "-d",
            self.args.db,
            f"--db-filter=^{self.args.db}$",
        ]

    def install(self, mode="-i"):
        """Install (``-i``) or upgrade (``-u``) the addon, as the other benchmarks do."""
        command = [
            *self.base_command(),
            mode,
            MODULE,
            "--stop-after-init",
            *common.ODOO_BATCH_OPTIONS,
        ]
        common.run_odoo_once(command, self.env, f"odoo {mode} {MODULE} on {self.args.db}")

    def shell(self, script):
        command = [
            *self.base_command("shell"),
            *common.ODOO_BATCH_OPTIONS,
        ]
        result = subprocess.run(
            command, env=self.env, input=script, capture_output=True, text=True, check=False
        )
        if result.returncode:
            sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
            sys.exit(f"odoo shell failed with exit code {result.returncode}")
        return result.stdout

    def serve(self, workers, port, gevent_port, logfile):
        command = [
            *self.base_command(),
            f"--workers={workers}",
            "--max-cron-threads=0",
            "--http-interface=127.0.0.1",
            f"--http-port={port}",
            f"--gevent-port={gevent_port}",
            "--limit-time-real=120",
            f"--logfile={logfile}",
        ]
        return subprocess.Popen(
            command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )


# Run in `odoo shell` on the benchmark's own database, whose cursor is the script's:
# it commits its set-up in chunks so that the servers started next see it.
SETUP_SCRIPT = """
import json
env = env(context=dict(env.context, tracking_disable=True))
company = env.company
nl = env.ref("base.nl")
company.write({{"country_id": nl.id, "phone": "+31 20 794 0100",
               "phone_auto_create_partner": True}})
company.partner_id.tz = {tz!r}
Users = env["res.users"].with_context(active_test=False)
group = env.ref("phone_call_accounting.group_phone_user")
have = set(Users.search([("phone_extension", "in", {extensions!r})]).mapped("phone_extension"))
for extension in {extensions!r}:
    if extension not in have:
        Users.create({{"name": "Agent " + extension, "login": "bench-webhook-" + extension,
                      "phone_extension": extension, "tz": {tz!r},
                      "group_ids": [(4, group.id)]}})
Partner = env["res.partner"]
present = Partner.search_count([("ref", "=", {ref!r})])
known = {known_numbers!r}
vals = [{{"name": "Webhook Client %d" % (i + 1), "ref": {ref!r}, "phone": number,
         "country_id": nl.id}} for i, number in enumerate(known) if i >= present]
for low in range(0, len(vals), 1000):
    Partner.create(vals[low:low + 1000])
    env.cr.commit()
Pbx = env["phone.pbx"].with_context(active_test=False)
pbx = Pbx.search([("name", "=", {pbx_name!r})], limit=1)
if not pbx:
    pbx = Pbx.create({{"name": {pbx_name!r}, "kind": "webhook", "webhook_format": "native"}})
pbx.write({{"token": {token!r}, "active": True, "kind": "webhook", "webhook_format": "native"}})
env.cr.commit()
print("PCA_SETUP " + json.dumps({{"pbx_id": pbx.id, "known": len(known), "added": len(vals)}}))
"""


def known_number(i):
    return f"{KNOWN_PREFIX}{(i * MULT) % SPACE:07d}"


def prepare_database(args, odoo):
    """The database ``args.db`` with the addon: made (dropped first unless
    ``--reuse``), or updated to the checkout's code unless ``--no-update``."""
    exists = db_exists(args.db)
    if exists and not args.reuse:
        say(f"dropping database {args.db}")
        drop_db(args.db)
        exists = False
    if not exists:
        odoo.install()
    elif not args.no_update:
        # The code measured is the checkout's: the database follows it.
        odoo.install("-u")


def setup_database(args, odoo):
    prepare_database(args, odoo)
    token = secrets.token_urlsafe(32)
    known = [known_number(i) for i in range(1, args.known + 1)]
    script = SETUP_SCRIPT.format(
        tz=TZ,
        extensions=EXTENSIONS,
        ref=PARTNER_REF,
        known_numbers=known,
        pbx_name=PBX_NAME,
        token=token,
    )
    say("setting the database up in odoo shell")
    t0 = time.perf_counter()
    output = odoo.shell(script)
    line = next((x for x in output.splitlines() if x.startswith("PCA_SETUP ")), None)
    if not line:
        sys.stderr.write(output[-3000:])
        sys.exit("odoo shell did not report the PBX")
    info = json.loads(line.split(" ", 1)[1])
    say(
        f"set up in {time.perf_counter() - t0:.0f} s: PBX {info['pbx_id']}, "
        f"{info['known']:,} known clients ({info['added']:,} added)"
    )
    return info["pbx_id"], token, known


# ----------------------------------------------------------------------
# The load
# ----------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port, process, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        # Not listening yet: ask again.
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/web/health")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return True
        time.sleep(0.5)
    return False


class Traffic:
    """Calls as PBXes post them, shared by the client threads."""

    def __init__(self, args, known, run_tag, first_new):
        self.args = args
        self.known = known
        self.run_tag = run_tag
        self.lock = threading.Lock()
        self.next_new = first_new
        self.recent_new = collections.deque(maxlen=6)
        self.sent = collections.deque(maxlen=2000)
        self.serial = 0
        self.kinds = collections.Counter()

    def new_number(self, rng):
        # Half fresh numbers, half numbers just handed to another client: two
        # workers often meet the same unknown caller at the same time.
        with self.lock:
            if self.recent_new and rng.random() < 0.5:
                return rng.choice(self.recent_new)
            number = f"{NEW_PREFIX}{self.next_new:07d}"
            self.next_new += 1
            self.recent_new.append(number)
            return number

    def batch(self, rng):
        calls = []
        now = datetime.now(timezone.utc).replace(microsecond=0)
        for _ in range(self.args.batch):
            draw = rng.random()
            with self.lock:
                redeliver = self.sent and draw < self.args.redelivery_share
                if redeliver:
                    call = dict(rng.choice(self.sent))
                else:
                    self.serial += 1
                    serial = self.serial
            if redeliver:
                # A PBX sending again: sometimes the same item, sometimes corrected.
                if call["talk_seconds"] and rng.random() < 0.5:
                    call["talk_seconds"] = call["talk_seconds"] + rng.randint(1, 30)
                calls.append(call)
                self.kinds["redelivery"] += 1
                continue
            if draw < self.args.redelivery_share + self.args.new_share:
                client = self.new_number(rng)
                self.kinds["new number"] += 1
            else:
                client = rng.choice(self.known)
                self.kinds["known number"] += 1
            direction = "incoming" if rng.random() < 0.75 else "outgoing"
            start = now - timedelta(seconds=rng.randint(60, 3600))
            call = call_item(
                rng,
                f"wh-{self.run_tag}-{serial}",
                start,
                direction,
                pick(rng, STATUS_WEIGHTS),
                client,
                rng.choice(EXTENSIONS),
                EXTENSIONS,
            )
            calls.append(call)
            with self.lock:
                self.sent.append(call)
        return calls


class Client(threading.Thread):
    def __init__(self, number, port, path, token, traffic, stop_at, warmup_batches):
        super().__init__(daemon=True)
        self.rng = random.Random(traffic.args.seed * 1000 + number)
        self.port = port
        self.path = path
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Connection": "close",
        }
        self.traffic = traffic
        self.stop_at = stop_at
        self.warmup_batches = warmup_batches
        self.latencies = []
        self.calls = 0
        self.errors = []
        self.results = collections.Counter()
        self.reasons = collections.Counter()
        self.measure_start = None
        self.measure_end = None

    def post(self, body):
        t0 = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=150)
            conn.request("POST", self.path, body=body, headers=self.headers)
            response = conn.getresponse()
            data = response.read()
            conn.close()
        except OSError as exc:
            return time.perf_counter() - t0, None, repr(exc).encode()
        return time.perf_counter() - t0, response.status, data

    def run(self):
        for _ in range(self.warmup_batches):
            body = json.dumps({"calls": self.traffic.batch(self.rng)}).encode()
            _elapsed, status, data = self.post(body)
            if status != 200:
                self.errors.append(("warm-up", status, data[:2000], body[:4000]))
        self.measure_start = time.perf_counter()
        while time.perf_counter() < self.stop_at[0]:
            calls = self.traffic.batch(self.rng)
            body = json.dumps({"calls": calls}).encode()
            elapsed, status, data = self.post(body)
            if status != 200:
                self.errors.append(("load", status, data[:2000], body[:4000]))
                continue
            self.latencies.append(elapsed)
            self.calls += len(calls)
            try:
                for result in json.loads(data)["results"]:
                    self.results[result["result"]] += 1
                    if result["result"] == "rejected":
                        reason = re.sub(r"\d+", "N", str(result.get("reason")))
                        self.reasons[reason[:200]] += 1
            except (ValueError, KeyError, TypeError):
                self.errors.append(("load", "unreadable 200", data[:2000], body[:4000]))
        self.measure_end = time.perf_counter()


def log_lines(logfile, marker):
    try:
        text = Path(logfile).read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if marker in line]


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_workers(args, odoo, work, workers, pbx_id, token, known):
    port, gevent_port = free_port(), free_port()
    # Kept after the run (beside the data dir, outside the checkout) to read the log again.
    logfile = Path(args.data_dir).parent / f"webhook-workers-{workers}.log"
    logfile.unlink(missing_ok=True)
    before = query(
        args.db,
        "SELECT count(*), max(phone_caller_number) FILTER (WHERE phone_caller_number LIKE %s) "
        "FROM res_partner",
        [NEW_PREFIX + "%"],
    )[0]
    partners_before, highest_new = before
    first_new = int(highest_new[len(NEW_PREFIX) :]) + 1 if highest_new else 0
    calls_before = query(args.db, "SELECT count(*) FROM phone_call")[0][0]
    say(f"{workers} worker(s): starting odoo on 127.0.0.1:{port}")
    process = odoo.serve(workers, port, gevent_port, logfile)
    try:
        if not wait_ready(port, process):
            for line in log_lines(logfile, "")[-40:]:
                print(line)
            sys.exit(f"odoo with {workers} workers did not answer on port {port}")
        run_tag = f"{int(time.time())}-{workers}"
        traffic = Traffic(args, known, run_tag, first_new)
        path = f"/phone_call_accounting/pbx/{pbx_id}/calls"
        stop_at = [float("inf")]
        clients = [
            Client(n, port, path, token, traffic, stop_at, warmup_batches=2)
            for n in range(args.clients)
        ]
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        for client in clients:
            client.start()
        # Warm-up (each worker loads the registry on its first request) is not timed:
        # the clock starts when the last client is done with it.
        while any(c.measure_start is None and c.is_alive() for c in clients):
            time.sleep(0.05)
        started = max(c.measure_start or t0 for c in clients)
        stop_at[0] = started + args.seconds
        say(
            f"{workers} worker(s): warm-up {started - t0:.1f} s, "
            f"loading for {args.seconds:g} s with {args.clients} clients"
        )
        for client in clients:
            client.join()
        load_after = os.getloadavg()[0]
    finally:
        stop_server(process)
    ended = max(c.measure_end for c in clients)
    elapsed = ended - started
    latencies = [x for c in clients for x in c.latencies]
    errors = [e for c in clients for e in c.errors]
    results = sum((c.results for c in clients), collections.Counter())
    calls = sum(c.calls for c in clients)
    reasons = sum((c.reasons for c in clients), collections.Counter())
    duplicates = query(args.db, DUPLICATES_SQL)
    partners_after = query(args.db, "SELECT count(*) FROM res_partner")[0][0]
    calls_after = query(args.db, "SELECT count(*) FROM phone_call")[0][0]
    error_lines = log_lines(logfile, " ERROR ") + log_lines(logfile, " CRITICAL ")
    # Odoo's request retry (a caller created concurrently, a serialization failure).
    retries = len(log_lines(logfile, " tries left, try again in "))
    warnings = collections.Counter(
        re.sub(r"\d+", "N", line.split(": ", 1)[-1])[:160]
        for line in log_lines(logfile, " WARNING ")
    )
    figure = {
        "workers": workers,
        "clients": args.clients,
        "batch": args.batch,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "calls": calls,
        "calls_per_s": calls / elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p95_ms": pct(latencies, 95) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
        "errors": len(errors),
        "duplicates": len(duplicates),
        "error_log_lines": len(error_lines),
        "results": dict(results),
        "rejected_reasons": dict(reasons.most_common(10)),
        "mix": dict(traffic.kinds),
        "retries": retries,
        "partners_created": partners_after - partners_before,
        "calls_stored": calls_after - calls_before,
        "load_average": [round(load_before, 1), round(load_after, 1)],
    }
    say(
        f"{workers} worker(s): {calls:,} calls in {len(latencies):,} requests, "
        f"{figure['calls_per_s']:,.0f} calls/s, results {dict(results)}, "
        f"{figure['partners_created']:,} partners created, load {load_before:.1f} -> "
        f"{load_after:.1f}"
    )
    for kind, status, data, body in errors[:5]:
        print(f"  error ({kind}): status {status}: {data.decode(errors='replace')}")
        print(f"    request body: {body.decode(errors='replace')}")
    for reason, count in reasons.most_common(5):
        print(f"  rejected x{count}: {reason}")
    for number, count in duplicates[:20]:
        print(f"  duplicate partners: {number} x{count}")
    for line in error_lines[:40]:
        print(f"  log: {line}")
    for message, count in warnings.most_common(5):
        print(f"  log warning x{count}: {message}")
    return figure


def print_table(figures, context):
    headers = (
        "Workers",
        "Calls/s",
        "Requests/s",
        "p50 ms",
        "p95 ms",
        "Requests",
        "Calls",
        "Errors",
        "Duplicate partners",
        "ERROR log lines",
    )
    rows = [
        (
            f["workers"],
            f"{f['calls_per_s']:,.0f}",
            f"{f['requests_per_s']:,.1f}",
            f"{f['p50_ms']:,.0f}",
            f"{f['p95_ms']:,.0f}",
            f"{f['requests']:,}",
            f"{f['calls']:,}",
            f["errors"],
            f["duplicates"],
            f["error_log_lines"],
        )
        for f in figures
    ]
    common.print_table(context, headers, rows, right=True)


def main():
    args = parse_args()
    ensure_psycopg2(args)
    work = Path(tempfile.mkdtemp(prefix="pca-bench-webhook-"))
    try:
        odoo = Odoo(args, work)
        pbx_id, token, known = setup_database(args, odoo)
        figures = [
            run_workers(args, odoo, work, workers, pbx_id, token, known)
            for workers in args.worker_counts
        ]
        sys.path.insert(0, args.odoo_src)
        from odoo import release

        pg = query(args.db, "SELECT version()")[0][0].split(",")[0]
        mix = sum((collections.Counter(f["mix"]) for f in figures), collections.Counter())
        total = sum(mix.values()) or 1
        context = (
            f"phone_call_accounting webhook under load, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
            f"database {args.db}; Odoo {release.version}, {pg}, {os.cpu_count()} CPUs; "
            f"addon {common.addon_label(args.addon_dir)}; {args.clients} clients, "
            f"{args.batch} calls a request, {args.seconds:g} s per worker count; mix "
            + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in sorted(mix.items()))
        )
        print_table(figures, context)
        for f in figures:
            print(
                f"{f['workers']} worker(s): results {f['results']}, {f['retries']} requests "
                f"retried on a fresh snapshot, "
                f"{f['partners_created']:,} partners created, {f['calls_stored']:,} calls "
                f"stored, load average {f['load_average'][0]} -> {f['load_average'][1]}"
            )
        if args.json:
            print(json.dumps({"context": context, "figures": figures}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
