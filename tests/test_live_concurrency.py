"""Live events applied by several workers at once end in the one right state."""

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

from ..pbx.live import check_events

WORKERS = 8
STATUSES = ("available", "on_call", "paused", "ringing")


@tagged("post_install", "-at_install")
class TestLiveConcurrency(TransactionCase):
    """Each worker in a transaction of its own that commits, its snapshot taken
    first (as a request's authentication does), all applying together and
    retried as Odoo retries a request on a concurrency error."""

    def setUp(self):
        super().setUp()
        self.block = random.Random().randrange(100000, 999999)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = env["phone.pbx"].create(
                {"name": f"Live race PBX {self.block}", "kind": "webhook", "timezone": "UTC"}
            )
            self.pbx_id = pbx.id
        self.addCleanup(self.clean_up)

    def clean_up(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = env["phone.pbx"].browse(self.pbx_id)
            env["phone.queue"].with_context(active_test=False).search(
                [("pbx_id", "=", pbx.id)]
            ).unlink()
            env["phone.call.live"].search([("pbx_id", "=", pbx.id)]).unlink()
            pbx.unlink()

    def run_at_once(self, jobs):
        barrier = threading.Barrier(len(jobs))
        failures, retries = [], []

        def worker(index, job):
            for attempt in range(MAX_TRIES):
                try:
                    with self.registry.cursor() as cr:
                        cr.transaction = Transaction(self.registry)
                        env = api.Environment(cr, SUPERUSER_ID, {})
                        pbx = env["phone.pbx"].browse(self.pbx_id)
                        pbx.read(["token"])  # the snapshot is taken here
                        if attempt == 0:
                            barrier.wait(timeout=60)
                        job(pbx)
                        env.flush_all()
                    return
                except (ConcurrencyError, *PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
                    retries.append(index)
                    time.sleep(random.uniform(0.0, 0.05 * 2**attempt))
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    failures.append(repr(exc))
                    return
            failures.append(f"worker {index}: still conflicting after {MAX_TRIES} tries")

        threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
        with self.assertNoLogs("odoo.sql_db", "ERROR"):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=180)
        self.assertFalse([t for t in threads if t.is_alive()], "a worker hung")
        self.assertFalse(failures)
        return retries

    def test_overlapping_batches_from_eight_workers(self):
        start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        queue = f"race-{self.block}"

        def moment(seconds):
            return (start + timedelta(seconds=seconds)).isoformat()

        def batch(index):
            events = [
                {
                    "type": "caller_join",
                    "queue": queue,
                    "call_id": f"c{n}",
                    "number": f"+3120555{index}{n:03d}",
                    "at": moment(10 * n + index),
                }
                for n in range(10)
            ]
            events += [
                {
                    "type": "member",
                    "queue": queue,
                    "member": f"PJSIP/{200 + n}",
                    "extension": str(200 + n),
                    "status": STATUSES[(index + n) % 4],
                    "at": moment(500 + index),
                }
                for n in range(5)
            ]
            events.append(
                {
                    "type": "caller_leave",
                    "queue": queue,
                    "call_id": f"c{index}",
                    "result": "answered",
                    "at": moment(1000 + index),
                }
            )
            events.append(
                {
                    "type": "call",
                    "call_id": "shared",
                    "extension": "201",
                    "state": ("ringing", "talking")[index % 2],
                    "at": moment(600 + index),
                }
            )
            # Shuffled: a batch need not be in order either.
            random.Random(index).shuffle(events)
            return check_events({"events": events})

        batches = [batch(index) for index in range(WORKERS)]
        retries = self.run_at_once(
            [lambda pbx, events=events: pbx._live_receive(events) for events in batches]
        )
        # One at a time, each on a snapshot taken once its turn came: no conflict at all.
        self.assertEqual(retries, [])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            queues = env["phone.queue"].search([("pbx_id", "=", self.pbx_id)])
            self.assertEqual(queues.mapped("name"), [queue], "one queue, made once")
            callers = env["phone.queue.caller"].search([("queue_id", "=", queues.id)])
            self.assertEqual(len(callers), 10)
            waiting = callers.filtered(lambda c: not c.left_at)
            self.assertEqual(sorted(waiting.mapped("call_id")), ["c8", "c9"])
            for caller in callers:
                n = int(caller.call_id[1:])
                # The earliest join counts; the number is the latest join's.
                if not caller.left_at:
                    self.assertEqual(
                        caller.joined_at, (start + timedelta(seconds=10 * n)).replace(tzinfo=None)
                    )
                    self.assertEqual(caller.number, f"+3120555{WORKERS - 1}{n:03d}")
                else:
                    self.assertEqual(caller.result, "answered")
            members = env["phone.queue.member"].search([("queue_id", "=", queues.id)])
            self.assertEqual(
                {m.member: m.status for m in members},
                {f"PJSIP/{200 + n}": STATUSES[(WORKERS - 1 + n) % 4] for n in range(5)},
                "the latest status of each member",
            )
            [call] = env["phone.call.live"].search([("pbx_id", "=", self.pbx_id)])
            self.assertEqual(call.state, ("ringing", "talking")[(WORKERS - 1) % 2])
            self.assertEqual(call.started_at, start.replace(tzinfo=None) + timedelta(seconds=600))
