import random
import threading
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ConcurrencyError
from odoo.orm.environments import Transaction
from odoo.service.model import MAX_TRIES_ON_CONCURRENCY_FAILURE as MAX_TRIES
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import TransactionCase, tagged

from ..models import concurrency
from .test_cdr_database import FREEPBX_CDR, cdr_db_values, connect, create_database, drop_database

WORKERS = 8


@tagged("post_install", "-at_install")
class TestConcurrentDeliveries(TransactionCase):
    """Workers delivering at once, each in a transaction of its own that commits.

    Each worker takes its snapshot first (a request's authentication reads the
    database before the body is handled), then all deliver together, retried
    as Odoo retries a request on a concurrency error.
    """

    def setUp(self):
        super().setUp()
        # Numbers no other test uses: the other transactions see only committed data.
        self.block = random.Random().randrange(100000, 999999)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env.company.phone_auto_create_partner = True
            pbx = env["phone.pbx"].create(
                {"name": f"Race PBX {self.block}", "kind": "webhook", "timezone": "UTC"}
            )
            self.pbx_id, self.source = pbx.id, pbx._source()
        self.addCleanup(self.clean_up)

    def clean_up(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].search([("source", "=", self.source)])
            partners = self.partners(env)
            calls.unlink()
            partners.unlink()
            env["phone.pbx"].browse(self.pbx_id).unlink()

    def number(self, index):
        return f"+3120{self.block}{index}"

    def partners(self, env, numbers=None):
        numbers = numbers or [self.number(i) for i in range(10)]
        return (
            env["res.partner"]
            .with_context(active_test=False)
            .search([("phone_sanitized", "in", numbers)])
        )

    def call(self, external_id, number, minute=0):
        start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC) + timedelta(minutes=minute)
        return {
            "external_id": external_id,
            "direction": "incoming",
            "status": "answered",
            "from_number": number,
            "to_number": "+31207940100",
            "start": start.isoformat(),
            "talk_seconds": 30,
        }

    def deliver_at_once(self, batches):
        """Deliver each batch from its own worker at the same moment; their results."""
        return self.run_at_once(
            [
                lambda env, batch=batch: env["phone.pbx"].browse(self.pbx_id)._ingest(batch)
                for batch in batches
            ]
        )

    def run_at_once(self, jobs):
        """Run each job(env) in its own worker and transaction at the same moment."""
        barrier = threading.Barrier(len(jobs))
        results, failures, retries = [None] * len(jobs), [], []

        def worker(index, job):
            # As Odoo serves a request: a concurrency error starts it again on a new
            # transaction (odoo.service.model.retrying, which waits for the registry
            # lock that this test run holds, so it is mirrored here).
            for attempt in range(MAX_TRIES):
                try:
                    with self.registry.cursor() as cr:
                        # Given its registry, the environment does not wait for that lock.
                        cr.transaction = Transaction(self.registry)
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        pbx = env["phone.pbx"].browse(self.pbx_id)
                        pbx.read(["token"])  # the snapshot is taken here, as a request's is
                        if attempt == 0:
                            barrier.wait(timeout=60)
                        results[index] = job(env)
                        env.flush_all()
                    return
                except (ConcurrencyError, *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                    retries.append(index)
                    time.sleep(random.uniform(0.0, 0.05 * 2**attempt))
                except Exception as exc:  # noqa: BLE001 - reported by the test below
                    failures.append(repr(exc))
                    return
            failures.append(f"worker {index}: still conflicting after {MAX_TRIES} tries")

        threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
        # A refused duplicate or a failed UPDATE is logged by odoo.sql_db as a bad query.
        with self.assertNoLogs("odoo.sql_db", "ERROR"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=180)
        self.assertFalse([t for t in threads if t.is_alive()], "a worker hung")
        self.assertFalse(failures, "a delivery failed")
        return results

    def test_one_partner_per_new_caller_under_concurrent_deliveries(self):
        """Eight workers each deliver a call from the same ten new numbers."""
        batches = [
            [self.call(f"w{worker}-n{n}", self.number(n), worker) for n in range(10)]
            for worker in range(WORKERS)
        ]
        results = self.deliver_at_once(batches)
        for batch in results:
            self.assertEqual([r["result"] for r in batch], ["created"] * 10, batch)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partners = self.partners(env)
            per_number = {}
            for partner in partners:
                per_number.setdefault(partner.phone_sanitized, []).append(partner.id)
            self.assertEqual(
                {n: len(ids) for n, ids in per_number.items()},
                {self.number(n): 1 for n in range(10)},
                "exactly one partner per new number",
            )
            calls = env["phone.call"].search([("source", "=", self.source)])
            self.assertEqual(len(calls), WORKERS * 10)
            self.assertEqual(calls.partner_id, partners)

    def test_same_call_delivered_at_once_is_one_call_and_leaves_no_partner_behind(self):
        """A listener retrying while its first post is still being handled, eight times."""
        item = self.call("same-call", self.number(0))
        results = self.deliver_at_once([[dict(item)] for _worker in range(WORKERS)])
        kinds = sorted(batch[0]["result"] for batch in results)
        self.assertEqual(kinds, ["created"] + ["updated"] * (WORKERS - 1))
        self.assertEqual(len({batch[0]["call_id"] for batch in results}), 1)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].search([("source", "=", self.source)])
            self.assertEqual(len(calls), 1)
            self.assertEqual(self.partners(env), calls.partner_id, "no orphan partner")

    def make_cdr_pbx(self):
        """A CDR-database PBX whose database holds one answered call from each number."""
        cdr_db = f"pca_cdr_race_{self.block}"
        create_database(cdr_db, FREEPBX_CDR)
        self.addCleanup(drop_database, cdr_db)
        with closing(connect(cdr_db)) as cnx, cnx, cnx.cursor() as cr:
            cr.execute("SET TIME ZONE 'UTC'")  # the PBX's zone below
            for n in range(10):
                cr.execute(
                    "INSERT INTO cdr (calldate, src, dst, channel, dstchannel, lastapp, duration,"
                    " billsec, disposition, uniqueid, linkedid, sequence) VALUES"
                    " (LOCALTIMESTAMP - interval '10 minutes', %s, '0207940100',"
                    " %s, %s, 'Dial', 40, 30, 'ANSWERED', %s, %s, %s)",
                    (
                        self.number(n),
                        f"PJSIP/provider-{n}",
                        f"PJSIP/201-{n}",
                        f"{self.block}.{n}",
                        f"{self.block}.{n}",
                        n,
                    ),
                )
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cdr_pbx = env["phone.pbx"].create(
                {
                    "name": f"Race CDR {self.block}",
                    "kind": "cdr_database",
                    "timezone": "UTC",
                    "trunk_patterns": "^PJSIP/provider-",
                    **cdr_db_values(cdr_db),
                }
            )
            cdr_pbx_id, cdr_source = cdr_pbx.id, cdr_pbx._source()
        self.addCleanup(self.clean_up_pbx, cdr_pbx_id, cdr_source)
        return cdr_pbx_id, cdr_source

    def test_a_pull_takes_its_pbx_before_the_callers_it_delivers(self):
        """The deadlock two servers met: a delivery from the CDR database's PBX
        holds the PBX's row (its last-sync note) and waits for a caller's lock,
        while a pull holding that caller waits for the row to write its
        watermark. The pull waits for the row before it takes any lock."""
        cdr_pbx_id, _cdr_source = self.make_cdr_pbx()
        pulled, retried, failed, pids = [], [], [], []

        def pull():
            for _attempt in range(MAX_TRIES):
                try:
                    with self.registry.cursor() as cr:
                        cr.transaction = Transaction(self.registry)
                        cr.execute("SELECT pg_backend_pid()")
                        pids.append(cr.fetchone()[0])
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        pulled.extend(env["phone.pbx"].browse(cdr_pbx_id)._pull_cdr_database())
                    return
                except (ConcurrencyError, *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY) as exc:
                    retried.append(repr(exc))
                except Exception as exc:  # noqa: BLE001 - reported by the test below
                    failed.append(repr(exc))
                    return

        puller = threading.Thread(target=pull)
        with self.registry.cursor() as delivery:
            env = api.Environment(delivery, SUPERUSER_ID, {})
            pbx = env["phone.pbx"].browse(cdr_pbx_id)
            pbx._touch_last_sync()
            self.assertTrue(pbx.last_sync, "the delivery holds the PBX's row")
            puller.start()
            waiting = self.wait_for_lock(pids)
            delivery.execute(
                "SELECT locktype FROM pg_locks WHERE pid = %s AND granted"
                " AND locktype = 'advisory'",
                [waiting],
            )
            self.assertFalse(delivery.fetchall(), "the pull waits for the row holding no lock")
            delivery.execute("SET LOCAL lock_timeout = '10s'")
            concurrency.lock_keys(delivery, [f"phone.partner:{self.number(n)}" for n in range(10)])
        puller.join(timeout=60)
        self.assertFalse(puller.is_alive(), "the pull hung")
        self.assertFalse(failed)
        self.assertEqual(sorted(r["result"] for r in pulled), ["created"] * 10)

    def test_a_cron_leaves_the_pbx_another_server_is_pulling(self):
        cdr_pbx_id, _cdr_source = self.make_cdr_pbx()
        with self.registry.cursor() as other:
            env = api.Environment(other, SUPERUSER_ID, {})
            self.assertTrue(env["phone.pbx"].browse(cdr_pbx_id)._lock_for_pull())
            with self.registry.cursor() as cr:
                cr.transaction = Transaction(self.registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                pbx = env["phone.pbx"].browse(cdr_pbx_id)
                self.assertIsNone(pbx._pull_cdr_database(skip_locked=True))
                self.assertFalse(pbx.cdr_watermark, "nothing taken, nothing moved")
        with self.registry.cursor() as cr:
            cr.transaction = Transaction(self.registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            results = env["phone.pbx"].browse(cdr_pbx_id)._pull_cdr_database(skip_locked=True)
            self.assertEqual([r["result"] for r in results], ["created"] * 10, "the next run")

    def wait_for_lock(self, pids):
        """The pid of the first transaction of ``pids`` once it waits for a lock."""
        with self.registry.cursor() as cr:
            for _poll in range(600):
                if pids:
                    cr.execute(
                        "SELECT 1 FROM pg_stat_activity"
                        " WHERE pid = %s AND wait_event_type = 'Lock'",
                        [pids[0]],
                    )
                    if cr.fetchall():
                        return pids[0]
                time.sleep(0.05)
        self.fail("the pull never waited for the PBX's row")

    def test_cdr_pulls_and_webhooks_at_once_share_one_partner_per_number(self):
        """Two servers' crons pull one CDR database while webhooks bring the same callers."""
        cdr_pbx_id, cdr_source = self.make_cdr_pbx()

        def pull(env):
            return env["phone.pbx"].browse(cdr_pbx_id)._pull_cdr_database()

        def deliver(worker):
            batch = [self.call(f"w{worker}-n{n}", self.number(n), worker) for n in range(10)]
            return lambda env: env["phone.pbx"].browse(self.pbx_id)._ingest(batch)

        results = self.run_at_once([pull, pull] + [deliver(worker) for worker in range(6)])
        pulled = sorted(r["result"] for r in results[0] + results[1])
        self.assertEqual(pulled.count("created"), 10, pulled)
        self.assertNotIn("rejected", pulled)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partners = self.partners(env)
            self.assertEqual(
                sorted(partners.mapped("phone_sanitized")),
                sorted(self.number(n) for n in range(10)),
                "exactly one partner per new number",
            )
            cdr_calls = env["phone.call"].search([("source", "=", cdr_source)])
            self.assertEqual(len(cdr_calls), 10, "each CDR call once, whichever pull took it")
            webhook_calls = env["phone.call"].search([("source", "=", self.source)])
            self.assertEqual(len(webhook_calls), 60)
            self.assertEqual((cdr_calls | webhook_calls).partner_id, partners)
            self.assertFalse(env["phone.pbx"].browse(cdr_pbx_id).last_error)

    def clean_up_pbx(self, pbx_id, source):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["phone.call"].search([("source", "=", source)]).unlink()
            env["phone.pbx"].browse(pbx_id).unlink()

    def test_rollup_stays_exact_under_concurrent_deliveries_and_folds(self):
        def deliver(worker):
            batch = [
                self.call(f"rollup-w{worker}-n{n}", self.number(n), worker + n) for n in range(10)
            ]
            return lambda env: env["phone.pbx"].browse(self.pbx_id)._ingest(batch)

        def fold(env):
            return env["phone.call.daily"]._fold_changes()

        jobs = [deliver(worker) for worker in range(6)] + [fold, fold]
        self.run_at_once(jobs)
        # Redeliveries with another outcome, at once, and a fold among them.
        again = [
            [
                dict(self.call(f"rollup-w{w}-n{n}", self.number(n), w + n), status="missed")
                for n in range(10)
            ]
            for w in range(3)
        ]
        self.run_at_once(
            [lambda env, b=b: env["phone.pbx"].browse(self.pbx_id)._ingest(b) for b in again]
            + [fold]
        )
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"]
            for groupby in (["call_date:day", "status"], ["direction"], []):
                aggregates = ["__count", "talk_seconds:sum", "ring_seconds:sum"]
                self.assertEqual(
                    calls._read_group([], groupby, aggregates),
                    calls.with_context(phone_rollup=False)._read_group([], groupby, aggregates),
                    groupby,
                )
