#!/usr/bin/env python3
"""Call-centre scale: redeliveries and the Phone menu's reads at 10 million calls.

Run it with Odoo's own Python (see bench/README.md)::

    /opt/odoo19/venv/bin/python bench/bench_scale.py [--db pca_scale]
        [--partners 1000000] [--calls 10000000] [--reuse]

1. Database and partners as ``bench_ingest.py`` makes them (install, then
   SQL partners), resumed when ``--reuse``.
2. Calls for the read side with bulk SQL (``INSERT ... SELECT
   generate_series`` in blocks of 250,000, each committed, so a run resumes),
   spread over the last 365 days, 70 % from generated clients, one client
   ("Bench Heavy Client") with 10,000 calls. The roll-up triggers run for
   every block, as they would for any INSERT. Then ``--ingested`` calls go
   through ``_ingest_calls`` (the redelivery figures re-deliver those).
3. Each figure beside the slower way in the same run, everything rolled back.

Speed targets live here only; the script reports and exits 0.
"""

# A script that prints its figures and commits the data it builds.
# pylint: disable=print-used,invalid-commit,sql-injection

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta

import bench_ingest
import common
from bench_ingest import Bench, ensure_odoo_python, known_national, make_call, run_odoo
from common import EXTENSIONS, MODULE, TZ, pct, say

from pbx import measures

SQL_SOURCE = "bench-sql"
BLOCK = 250_000
HEAVY_REF = "pca-bench-heavy"
HEAVY_CALLS = 10_000
REDELIVERED = 500

TARGETS = {
    "batch": 0.3,  # ms a call, 500 unchanged calls delivered again
    "single": 2.0,  # ms p50, one unchanged call delivered again
    "page": 50.0,
    "day30": 100.0,
    "month365": 300.0,
    "graph": 300.0,
    "pivot": 300.0,
    "count": 20.0,
    "tab": 20.0,
    "queue_month": 300.0,
}
# The bench's call queues: 80 % of the incoming calls queue in one of them.
QUEUES = ("bench-support", "bench-sales", "bench-billing")
# The queue measures the grouped reads ask for (Reporting > Queues and Service Level).
QUEUE_AGGREGATES = [
    "__count",
    *(spec for spec in measures.report_aggregates() if spec.startswith("queue_")),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_odoo_arguments(parser)
    parser.add_argument("--db", default="pca_scale")
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=10_000_000, help="calls made with SQL")
    parser.add_argument(
        "--ingested", type=int, default=5_000, help="calls delivered through _ingest_calls"
    )
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--no-update", action="store_true")
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions of a read")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--figures",
        default="redelivery,ingest,reads,client,queues",
        help="comma-separated subset of: redelivery, ingest, reads, client, queues",
    )
    return common.complete_odoo_arguments(parser.parse_args(argv))


class ScaleBench(Bench):
    def fill_calls(self, partners):
        """Bulk SQL calls up to --calls, over the last 365 days, resumable by block."""
        cr = self.cr
        cr.execute("SELECT count(*) FROM phone_call WHERE source = %s", [SQL_SOURCE])
        have = cr.fetchone()[0]
        wanted = self.args.calls
        if have >= wanted:
            say(f"calls: {have:,} SQL calls present, none to add")
            return
        heavy = self.heavy_client()
        cr.execute(
            "SELECT min(id), max(id), count(*) FROM res_partner WHERE ref = %s",
            [bench_ingest.PARTNER_REF],
        )
        first_partner, last_partner, count = cr.fetchone()
        if last_partner - first_partner + 1 != count or count < partners:
            raise RuntimeError("generated partners' ids are not one run: rebuild the database")
        company = self.env.company.id
        queues = self.queue_ids()
        customer = self.env.ref(f"{MODULE}.phone_client_type_customer").id
        users = self.env["res.users"].search([("phone_extension", "in", EXTENSIONS)])
        user_ids = [users.filtered(lambda u, e=e: u.phone_extension == e).id for e in EXTENSIONS]
        say(f"calls: adding {wanted - have:,} with SQL (have {have:,})")
        t0 = time.perf_counter()
        for low in range(have, wanted, BLOCK):
            high = min(low + BLOCK, wanted)
            cr.execute(
                """
                WITH g AS (
                    SELECT n,
                           -- spread evenly over the last 365 days, newest last
                           (now() at time zone 'UTC') - interval '365 days'
                               + (n::float / %(total)s) * interval '365 days' AS start,
                           hashint4(n::int)::bigint AS h
                      FROM generate_series(%(low)s::bigint, %(high)s::bigint - 1) AS n
                ), c AS (
                    SELECT n, start, h,
                           '+316' || lpad((abs(h) %% 100000000)::text, 8, '0') AS mobile,
                           CASE WHEN abs(h) %% 10 < 6 THEN 'incoming'
                                WHEN abs(h) %% 10 < 9 THEN 'outgoing' ELSE 'internal' END AS dir,
                           CASE WHEN abs(h / 10) %% 100 < 70 THEN 'answered'
                                WHEN abs(h / 10) %% 100 < 90 THEN 'missed'
                                WHEN abs(h / 10) %% 100 < 96 THEN 'busy' ELSE 'failed' END AS st,
                           CASE WHEN n %% 1000 = 7 AND n / 1000 < %(heavy_calls)s
                                THEN %(heavy)s
                                WHEN abs(h / 1000) %% 10 < 7
                                THEN %(first_partner)s + abs(h / 7) %% %(partners)s
                           END AS partner,
                           (%(users)s::int[])[1 + abs(h / 100) %% 20] AS agent,
                           -- 80 %% of the incoming calls queue; waits of 0-89 s
                           abs(h / 1000000) %% 90 AS wait
                      FROM g
                ), q AS (
                    SELECT c.*,
                           CASE WHEN dir = 'incoming' AND abs(h / 10000) %% 10 < 8
                                THEN (%(queues)s::int[])[1 + abs(h / 100000) %% 3] END AS queue,
                           CASE WHEN st = 'answered' THEN 'answered'
                                WHEN abs(h / 3) %% 10 < 6 THEN 'abandoned'
                                WHEN abs(h / 3) %% 10 < 9 THEN 'timeout' ELSE 'other'
                           END AS result
                      FROM c
                )
                INSERT INTO phone_call (
                    source, external_id, company_id, call_start, call_end, call_date, call_time,
                    direction, status, from_number, to_number, client_number, partner_id,
                    client_type_id, extension, user_id, first_extension, forwarded, transferred,
                    ring_seconds, talk_seconds, duration_hours, cost, callback_state,
                    is_too_long, callback_scheduled, review_scheduled, analysis_state,
                    recording_state, create_uid, write_uid, create_date, write_date,
                    queue_id, queue_result, queue_wait_seconds, queue_position,
                    queue_answered_in_time, queue_short_abandon
                )
                SELECT %(source)s, 'sql-' || n, %(company)s, start,
                       start + ((abs(h) %% 600) + 5) * interval '1 second',
                       (start AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date,
                       extract(hour FROM start AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s),
                       dir, st,
                       CASE WHEN dir = 'incoming' THEN mobile
                            ELSE '201' END,
                       CASE WHEN dir = 'outgoing' THEN mobile
                            ELSE '+31207940100' END,
                       CASE WHEN dir <> 'internal' THEN mobile END,
                       CASE WHEN dir <> 'internal' THEN partner END,
                       CASE WHEN dir <> 'internal' AND partner IS NOT NULL THEN %(customer)s END,
                       CASE WHEN st = 'answered' THEN (201 + abs(h / 100) %% 20)::text END,
                       CASE WHEN st = 'answered' THEN agent END,
                       (201 + abs(h / 100) %% 20)::text, false, false,
                       abs(h) %% 25,
                       CASE WHEN st = 'answered' THEN abs(h) %% 600 + 5 ELSE 0 END,
                       CASE WHEN st = 'answered' THEN (abs(h) %% 600 + 5) / 3600.0 ELSE 0 END,
                       CASE WHEN dir = 'outgoing' AND st = 'answered'
                            THEN round((abs(h) %% 600) * 0.001, 2) END,
                       CASE WHEN st = 'missed' AND dir = 'incoming' THEN 'done' ELSE 'none' END,
                       false, true, true, 'none', 'none', 1, 1, start, start,
                       queue, CASE WHEN queue IS NOT NULL THEN result END,
                       CASE WHEN queue IS NOT NULL THEN wait ELSE 0 END,
                       CASE WHEN queue IS NOT NULL THEN 1 + abs(h / 11) %% 8 ELSE 0 END,
                       -- the bench queues' thresholds: T 20 s, short abandon 5 s
                       queue IS NOT NULL AND result = 'answered' AND wait <= 20,
                       queue IS NOT NULL AND result = 'abandoned' AND wait <= 5
                  FROM q
                """,
                {
                    "low": low,
                    "high": high,
                    "total": wanted,
                    "heavy": heavy,
                    "heavy_calls": HEAVY_CALLS,
                    "first_partner": first_partner,
                    "partners": partners,
                    "users": user_ids,
                    "queues": queues,
                    "source": SQL_SOURCE,
                    "company": company,
                    "customer": customer,
                    "tz": TZ,
                },
            )
            # The benchmark's own cursor: each block is kept, so a run resumes.
            cr.commit()
            rate = (high - have) / (time.perf_counter() - t0)
            say(f"calls: {high:,}/{wanted:,} ({time.perf_counter() - t0:.0f} s, {rate:,.0f}/s)")
        self.env["phone.call.daily"]._fold_changes()
        cr.commit()
        self.vacuum_analyze("phone_call", "phone_call_daily_total")

    def queue_ids(self):
        """The bench's queues (the company's, without a PBX), made once, in QUEUES order."""
        Queue = self.env["phone.queue"]
        found = {q.name: q.id for q in Queue.search([("name", "in", QUEUES)])}
        for name in QUEUES:
            if name not in found:
                found[name] = Queue.create({"name": name}).id
        self.cr.commit()
        return [found[name] for name in QUEUES]

    def index_name(self, table, column):
        """Indexes leading with ``column`` (composite ones included)."""
        self.cr.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            [table, f"%({column}%"],
        )
        return [row[0] for row in self.cr.fetchall()]

    def top_up_heavy_client(self):
        """Exactly HEAVY_CALLS calls for the heavy client, over the last year."""
        cr = self.cr
        heavy = self.heavy_client()
        cr.execute("SELECT count(*) FROM phone_call WHERE partner_id = %s", [heavy])
        missing = HEAVY_CALLS - cr.fetchone()[0]
        if missing <= 0:
            return
        cr.execute(
            """
            INSERT INTO phone_call (
                source, external_id, company_id, call_start, call_end, call_date, call_time,
                direction, status, from_number, to_number, client_number, partner_id,
                ring_seconds, talk_seconds, duration_hours, callback_state, is_too_long,
                callback_scheduled, review_scheduled, analysis_state, recording_state,
                forwarded, transferred, create_uid, write_uid, create_date, write_date
            )
            SELECT %(source)s, 'heavy-' || n, %(company)s, s, s + interval '65 seconds',
                   (s AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s)::date,
                   extract(hour FROM s AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s),
                   'incoming', 'answered', '+31205550000', '+31207940100', '+31205550000',
                   %(heavy)s, 5, 60, 60 / 3600.0, 'none', false, true, true, 'none', 'none',
                   false, false, 1, 1, s, s
              FROM (SELECT n, (now() at time zone 'UTC') - n * interval '53 minutes' AS s
                      FROM generate_series(1, %(missing)s) AS n) AS g
            """,
            {
                "source": SQL_SOURCE + "-heavy",
                "company": self.env.company.id,
                "tz": TZ,
                "heavy": heavy,
                "missing": missing,
            },
        )
        cr.commit()
        say(f"heavy client: {missing:,} calls added, {HEAVY_CALLS:,} in all")

    def heavy_client(self):
        partner = self.env["res.partner"].search([("ref", "=", HEAVY_REF)], limit=1)
        if not partner:
            partner = self.env["res.partner"].create(
                {"name": "Bench Heavy Client", "ref": HEAVY_REF, "phone": "+31 20 555 0000"}
            )
            self.cr.commit()
        return partner.id

    def ingested_items(self, partners):
        """The calls delivered through _ingest_calls, the same every run (a fixed start)."""
        params = self.env["ir.config_parameter"].sudo()
        base = params.get_param("phone_call_accounting.bench_scale_start")
        if not base:
            base = (self.now() - timedelta(days=2)).replace(microsecond=0).isoformat()
            params.set_param("phone_call_accounting.bench_scale_start", base)
        start = datetime.fromisoformat(base)
        rng = random.Random(self.args.seed)
        return [
            make_call(
                rng,
                f"ingested-{k}",
                start + timedelta(seconds=10 * k),
                "incoming",
                f"+31{known_national(rng.randint(1, partners))}",
            )
            for k in range(self.args.ingested)
        ]

    def ingest_some(self, partners):
        """Calls through the one way in: what the redelivery figures deliver again."""
        cr = self.cr
        items = self.ingested_items(partners)
        cr.execute("SELECT count(*) FROM phone_call WHERE source = %s", [bench_ingest.SOURCE])
        have = cr.fetchone()[0]
        for low in range(have, len(items), 500):
            self.ingest(items[low : low + 500])
            cr.commit()
        cr.execute(
            "SELECT count(*) FROM phone_call WHERE source = %s AND delivery_hash IS NULL",
            [bench_ingest.SOURCE],
        )
        if cr.fetchone()[0]:
            # Calls stored before fingerprints existed get theirs at their next delivery.
            for low in range(0, len(items), 500):
                self.ingest(items[low : low + 500])
            cr.commit()
            say("ingested calls: fingerprints stored by one redelivery")
        say(f"ingested calls: {len(items):,}")
        return items

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------

    def verdict(self, value, target):
        return "PASS" if value <= target else "MISS"

    def figure_redelivery(self, items):
        cr = self.cr
        if len(items) < REDELIVERED * 2:
            say("redelivery: not enough ingested calls (use --ingested)")
            return
        batch, singles = items[:REDELIVERED], items[REDELIVERED:]
        cr.execute(
            "SELECT max(write_date) FROM phone_call WHERE source = %s", [bench_ingest.SOURCE]
        )
        before = cr.fetchone()[0]

        def deliver(calls):
            results = self.ingest(calls)
            assert all(r["result"] == "updated" for r in results), results[:3]

        batch_times = self.repeat(lambda: deliver(batch), 7, warmup=2)
        cr.execute(
            "SELECT max(write_date) FROM phone_call WHERE source = %s", [bench_ingest.SOURCE]
        )
        untouched = cr.fetchone()[0] == before
        singles_iter = iter(singles * 3)
        single_times = self.repeat(lambda: deliver([next(singles_iter)]), 400, warmup=20)
        # The slower way: the same calls each with a corrected ring time (an UPDATE).
        changed = [dict(item, ring_seconds=(item.get("ring_seconds") or 0) + 1) for item in batch]
        changed_times = self.repeat(lambda: deliver(changed), 1, warmup=0)
        cr.rollback()
        per_call = pct(batch_times, 50) / REDELIVERED
        self.add_row(
            f"R1. {REDELIVERED} unchanged calls delivered again, per call",
            f"<= {TARGETS['batch']} ms/call",
            f"{per_call:.3f} ms/call (batch p50 {pct(batch_times, 50):.0f} ms);"
            f" write_date {'untouched' if untouched else 'CHANGED'}",
            "the same calls each with a corrected ring time",
            f"{changed_times[0] / REDELIVERED:.3f} ms/call",
            f"{changed_times[0] / REDELIVERED / per_call:.1f}x",
            self.verdict(per_call, TARGETS["batch"]) if untouched else "MISS",
        )
        p50 = pct(single_times, 50)
        self.add_row(
            "R2. one unchanged call delivered again",
            f"p50 <= {TARGETS['single']} ms",
            f"p50 {p50:.2f} ms, p95 {pct(single_times, 95):.2f} ms",
            "",
            "",
            "",
            self.verdict(p50, TARGETS["single"]),
        )

    def figure_rollup_cost(self, partners):
        """What the roll-up triggers add to ingestion: 500 new calls, with and without them."""
        cr = self.cr
        rng = random.Random(self.args.seed + 1)
        serial = iter(range(10**9))

        def batch():
            start = self.now() - timedelta(hours=1)
            return [
                make_call(
                    rng,
                    f"cost-{os.getpid()}-{next(serial)}",
                    start + timedelta(seconds=n),
                    "incoming" if n % 3 else "outgoing",
                    f"+31{known_national(rng.randint(1, partners))}",
                )
                for n in range(REDELIVERED)
            ]

        def timed(disable):
            cr.rollback()
            if disable:
                cr.execute("ALTER TABLE phone_call DISABLE TRIGGER USER")
            calls = batch()
            self.env.invalidate_all()
            t0 = time.perf_counter()
            self.ingest(calls)
            elapsed = (time.perf_counter() - t0) * 1000 / REDELIVERED
            cr.rollback()  # the calls go, the triggers are back
            return elapsed

        # Alternated, so that other work on the machine weighs on both alike.
        timed(False), timed(True)
        with_triggers, without = [], []
        for _ in range(8):
            with_triggers.append(timed(False))
            without.append(timed(True))
        fast, slow = pct(with_triggers, 50), pct(without, 50)
        self.add_row(
            f"I1. {REDELIVERED} new calls in one batch, per call, roll-up kept",
            "info",
            f"p50 {fast:.3f} ms/call",
            "same without the roll-up triggers",
            f"p50 {slow:.3f} ms/call",
            f"{(fast - slow) / slow * 100:+.0f} %" if slow else "",
            "info",
        )

    def timed_pair(self, label, target_key, fast, slow, slower_way, extra=""):
        fast_times = self.repeat(fast, self.args.reps, warmup=2)
        slow_times = self.repeat(slow, max(3, self.args.reps // 3), warmup=1)
        p50, slow50 = pct(fast_times, 50), pct(slow_times, 50)
        self.add_row(
            label,
            f"p50 <= {TARGETS[target_key]:g} ms",
            f"p50 {p50:.1f} ms, p95 {pct(fast_times, 95):.1f} ms{extra}",
            slower_way,
            f"p50 {slow50:.1f} ms",
            f"{slow50 / p50:.1f}x" if p50 else "",
            self.verdict(p50, TARGETS[target_key]),
        )

    def figure_reads(self):
        fields_ = self.odoo.fields
        Call = self.env["phone.call"].with_user(self.agent).with_context(tz=TZ, lang="en_US")
        slow = Call.with_context(phone_rollup=False)
        Report = self.env["phone.call.report"].with_user(self.agent).with_context(tz=TZ)
        slow_report = Report.with_context(phone_rollup=False)
        today = fields_.Date.context_today(Call)
        spec = self.list_spec(Call)
        order = "call_start desc, id desc"

        def first_page(model):
            def run():
                model.web_search_read(
                    [("call_date", "=", today)],
                    spec,
                    offset=0,
                    limit=80,
                    order=order,
                    count_limit=10001,
                )

            return run

        self.cr.execute("SELECT count(*) FROM phone_call WHERE call_date = %s", [today])
        day_count = self.cr.fetchone()[0]
        fast_times = self.repeat(first_page(Call), self.args.reps, warmup=2)
        with self.without_indexes("phone_call", "call_date", "call_start"):
            slow_times = self.repeat(first_page(Call), 3, warmup=1)
        p50 = pct(fast_times, 50)
        self.add_row(
            f"P1. Phone menu first page (80 of {day_count:,} calls today + count)",
            f"p50 <= {TARGETS['page']:g} ms",
            f"p50 {p50:.1f} ms, p95 {pct(fast_times, 95):.1f} ms",
            "same, call_date and call_start indexes dropped",
            f"p50 {pct(slow_times, 50):.1f} ms",
            f"{pct(slow_times, 50) / p50:.1f}x",
            self.verdict(p50, TARGETS["page"]),
        )
        aggregates = ["__count", "ring_seconds:sum", "talk_seconds:sum", "cost:sum"]
        last30 = [("call_date", ">=", today - timedelta(days=29))]
        last365 = [("call_date", ">=", today - timedelta(days=364))]
        self.cr.execute("SELECT count(*) FROM phone_call WHERE call_date >= %s", [last30[0][2]])
        n30 = self.cr.fetchone()[0]
        self.timed_pair(
            f"P2. Calls grouped by day, last 30 days ({n30:,} calls)",
            "day30",
            lambda: Call.formatted_read_group(last30, ["call_date:day"], aggregates),
            lambda: slow.formatted_read_group(last30, ["call_date:day"], aggregates),
            "same over the calls (no roll-up)",
        )
        self.cr.execute("SELECT count(*) FROM phone_call WHERE call_date >= %s", [last365[0][2]])
        n365 = self.cr.fetchone()[0]
        self.timed_pair(
            f"P3. Calls grouped by month, last 365 days ({n365:,} calls)",
            "month365",
            lambda: Call.formatted_read_group(last365, ["call_date:month"], aggregates),
            lambda: slow.formatted_read_group(last365, ["call_date:month"], aggregates),
            "same over the calls (no roll-up)",
        )
        # Phone > Reporting opens on "Last 30 Days": the graph by day and status,
        # its first measure; the pivot by day and direction with its measures.
        graph_aggregates = ["__count", "answer_rate:avg"]
        self.timed_pair(
            "P4. Reporting graph (last 30 days by day and status)",
            "graph",
            lambda: Report.formatted_read_group(
                last30, ["call_date:day", "status"], graph_aggregates
            ),
            lambda: slow_report.formatted_read_group(
                last30, ["call_date:day", "status"], graph_aggregates
            ),
            "same over the per-call view",
        )
        pivot_aggregates = [
            "__count",
            "call_count:sum",
            "answer_rate:avg",
            "ring_seconds_avg:avg",
            "talk_seconds_avg:avg",
            "talk_seconds:sum",
            "not_called_back_count:sum",
        ]
        sets = [[], ["call_date:day"], ["direction"], ["call_date:day", "direction"]]
        self.timed_pair(
            "P5. Reporting pivot (last 30 days, day x direction, totals)",
            "pivot",
            lambda: Report.formatted_read_grouping_sets(last30, sets, pivot_aggregates),
            lambda: slow_report.formatted_read_grouping_sets(last30, sets, pivot_aggregates),
            "same over the per-call view",
        )
        self.cr.rollback()

    def figure_queues(self):
        """Reporting > Queues and Service Level at scale: the queue measures of the last
        30 days by day (through the roll-up), per queue and day, and what reads the calls."""
        Report = self.env["phone.call.report"].with_user(self.agent).with_context(tz=TZ)
        slow_report = Report.with_context(phone_rollup=False)
        today = self.odoo.fields.Date.context_today(Report)
        month = [("call_date", ">=", today - timedelta(days=29)), ("queue_id", "!=", False)]
        self.cr.execute(
            "SELECT count(*) FROM phone_call WHERE call_date >= %s AND queue_id IS NOT NULL",
            [month[0][2]],
        )
        queued = self.cr.fetchone()[0]
        self.timed_pair(
            f"Q1. Queue measures, last 30 days by day ({queued:,} queued calls)",
            "queue_month",
            lambda: Report.formatted_read_group(month, ["call_date:day"], QUEUE_AGGREGATES),
            lambda: slow_report.formatted_read_group(month, ["call_date:day"], QUEUE_AGGREGATES),
            "same over the per-call view",
        )
        sets = [[], ["queue_id"], ["call_date:day"], ["queue_id", "call_date:day"]]
        self.timed_pair(
            "Q2. Queues pivot: per queue x day with totals, last 30 days",
            "queue_month",
            lambda: Report.formatted_read_grouping_sets(month, sets, QUEUE_AGGREGATES),
            lambda: slow_report.formatted_read_grouping_sets(month, sets, QUEUE_AGGREGATES),
            "same over the per-call view",
        )
        self.timed_pair(
            "Q3. Queue measures per agent, last 30 days",
            "queue_month",
            lambda: Report.formatted_read_group(month, ["user_id"], QUEUE_AGGREGATES),
            lambda: slow_report.formatted_read_group(month, ["user_id"], QUEUE_AGGREGATES),
            "same over the per-call view",
        )
        # What the roll-up does not answer: the hour of day, the longest wait.
        for label, groupby, aggregates in (
            ("Q4. (info) by hour of day, last 30 days (reads the calls)", ["call_hour"],
             QUEUE_AGGREGATES),
            ("Q5. (info) longest wait per queue, last 30 days (reads the calls)", ["queue_id"],
             ["queue_wait_max:max"]),
        ):  # fmt: skip
            times = self.repeat(
                lambda g=groupby, a=aggregates: Report.formatted_read_group(month, g, a),
                max(3, self.args.reps // 3),
                warmup=1,
            )
            self.add_row(
                label,
                "info",
                f"p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms",
                "",
                "",
                "",
                "info",
            )
        self.cr.rollback()

    def figure_client(self):
        heavy = self.env["res.partner"].search([("ref", "=", HEAVY_REF)], limit=1)
        partner = heavy.with_user(self.agent)
        count = self.env["phone.call"].search_count([("partner_id", "=", heavy.id)])

        def smart_button():
            partner.invalidate_recordset()
            partner.read(["phone_call_count"])

        spec = self.list_spec(self.env["phone.call"])

        def tab(field):
            # What the form asks for its Calls tab: the list's fields, 40 rows (the
            # inner list has no default order, so no "order" key).
            def run():
                partner.web_read({field: {"fields": spec, "limit": 40}})

            return run

        label = f"C1. Client's call count, smart button ({count:,} calls)"
        fast_times = self.repeat(smart_button, self.args.reps, warmup=2)
        with self.without_indexes("phone_call", "partner_id"):
            slow_times = self.repeat(smart_button, 3, warmup=1)
        p50 = pct(fast_times, 50)
        self.add_row(
            label,
            f"p50 <= {TARGETS['count']:g} ms",
            f"p50 {p50:.1f} ms, p95 {pct(fast_times, 95):.1f} ms",
            "same, client index dropped",
            f"p50 {pct(slow_times, 50):.1f} ms",
            f"{pct(slow_times, 50) / p50:.1f}x",
            self.verdict(p50, TARGETS["count"]),
        )
        self.timed_pair(
            f"C2. Client's Calls tab (latest calls of {count:,})",
            "tab",
            tab("phone_recent_call_ids"),
            tab("phone_call_ids"),
            "the one2many of all the client's calls",
        )
        self.cr.rollback()


def main():
    args = parse_args()
    ensure_odoo_python(args)
    import odoo
    from odoo import SUPERUSER_ID, Command, api, fields, sql_db

    label = common.addon_label(args.addon_dir)
    build = time.perf_counter()
    with common.odoo_registry(args, run_odoo, "pca-scale-") as registry:
        namespace = argparse.Namespace(Command=Command, fields=fields, sql_db=sql_db, odoo=odoo)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            bench = ScaleBench(args, env, namespace)
            bench.setup_company()
            partners = bench.fill_partners()
            bench.fill_calls(partners)
            bench.top_up_heavy_client()
            items = bench.ingest_some(partners)
            say(f"data ready in {time.perf_counter() - build:.0f} s")
            cr.execute("SELECT count(*) FROM res_partner")
            partner_total = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM phone_call")
            call_total = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM phone_call_daily_total")
            rollup_rows = cr.fetchone()[0]
            cr.execute("SELECT version()")
            pg_version = cr.fetchone()[0].split(",")[0]
            cr.commit()
            # Steady state of a live database: autovacuum has set the visibility map.
            bench.vacuum_analyze("phone_call", "phone_call_daily_total", "res_partner")
            load_before = os.getloadavg()[0]
            figures = set(args.figures.split(","))
            if "redelivery" in figures:
                bench.figure_redelivery(items)
            if "ingest" in figures:
                bench.figure_rollup_cost(partners)
            if "reads" in figures:
                bench.figure_reads()
            if "client" in figures:
                bench.figure_client()
            if "queues" in figures:
                bench.figure_queues()
            cr.rollback()
            bench.print_table(
                f"phone_call_accounting at scale, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
                f"database {args.db}: {partner_total:,} partners, {call_total:,} calls, "
                f"{rollup_rows:,} roll-up rows; Odoo {odoo.release.version}, {pg_version}, "
                f"{os.cpu_count()} CPUs; addon {label}; load average {load_before:.1f} before "
                f"the measurements, {os.getloadavg()[0]:.1f} after"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
