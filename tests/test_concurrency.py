import random
import threading
import time
from datetime import UTC, datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ConcurrencyError
from odoo.orm.environments import Transaction
from odoo.service.model import MAX_TRIES_ON_CONCURRENCY_FAILURE as MAX_TRIES
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tests import TransactionCase, tagged

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
        barrier = threading.Barrier(len(batches))
        results, failures, retries = [None] * len(batches), [], []

        def worker(index, batch):
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
                        results[index] = pbx._ingest(batch)
                        env.flush_all()
                    return
                except (ConcurrencyError, *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                    retries.append(index)
                    time.sleep(random.uniform(0.0, 0.05 * 2**attempt))
                except Exception as exc:  # noqa: BLE001 - reported by the test below
                    failures.append(repr(exc))
                    return
            failures.append(f"worker {index}: still conflicting after {MAX_TRIES} tries")

        threads = [
            threading.Thread(target=worker, args=(i, batch)) for i, batch in enumerate(batches)
        ]
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
