import importlib.util
import random
import threading
import time
from pathlib import Path

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ConcurrencyError
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged

from ..pbx import measures, rollup
from ..pbx.ingest import clean_call, fingerprint
from .common import PhoneCase, make_pbx
from .test_concurrency import WORKERS, TestConcurrentDeliveries

DAY = "2026-11-20T"
# The queue measures, as the report's grouped reads ask for them.
AGGREGATES = [
    "queue_offered_count:sum",
    "queue_answered_count:sum",
    "queue_answered_in_time_count:sum",
    "queue_abandoned_count:sum",
    "queue_short_abandon_count:sum",
    "queue_timeout_count:sum",
    "queue_service_level:avg",
    "queue_asterisk_service_level:avg",
    "queue_answer_speed_avg:avg",
    "queue_abandon_rate:avg",
    "queue_wait_avg:avg",
]
NAMES = [spec.split(":")[0] for spec in AGGREGATES]


def figures(offered, answered, in_time, abandoned, short, timeouts, waits, answered_waits):
    """The queue measures of a group, worked out from its counts and waits as
    readme/USAGE.md defines them (False: no call to divide by)."""

    def share(part, whole):
        return part / whole if whole else False

    return {
        "queue_offered_count": offered,
        "queue_answered_count": answered,
        "queue_answered_in_time_count": in_time,
        "queue_abandoned_count": abandoned,
        "queue_short_abandon_count": short,
        "queue_timeout_count": timeouts,
        "queue_service_level": share(in_time, offered - short),
        "queue_asterisk_service_level": share(in_time, answered),
        "queue_answer_speed_avg": share(sum(answered_waits), len(answered_waits)),
        "queue_abandon_rate": share(abandoned - short, offered - short),
        "queue_wait_avg": share(sum(waits), len(waits)),
    }


def _key(value):
    """A group's value as the expected figures name it: an id, a date's ISO text."""
    if hasattr(value, "_name"):
        return value.id
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@tagged("post_install", "-at_install")
class TestQueueMeasures(PhoneCase):
    """The queue measures against figures worked out by hand, through the report's
    view (the calls) and through the daily roll-up, per queue, agent, day and hour."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = make_pbx(cls.env, name="Queue PBX")
        Queue = cls.env["phone.queue"]
        cls.support = Queue.create({"name": "support", "pbx_id": cls.pbx.id})  # T 20 s, short 5 s
        cls.sales = Queue.create(
            {"name": "sales", "pbx_id": cls.pbx.id, "service_level_seconds": 10}
        )
        rows = [
            # (time UTC, queue, result, wait, extension): 08:xx UTC is 09:xx in Amsterdam.
            (DAY + "08:05:00Z", "support", "answered", 10, "201"),  # within T
            (DAY + "08:10:00Z", "support", "answered", 20, "201"),  # within T: T itself
            (DAY + "08:20:00Z", "support", "answered", 35, "202"),  # late
            (DAY + "08:30:00Z", "support", "abandoned", 3, ""),  # short abandon
            (DAY + "09:05:00Z", "support", "abandoned", 40, ""),
            (DAY + "09:10:00Z", "support", "timeout", 60, ""),  # the longest wait
            ("2026-11-21T09:15:00Z", "support", "other", 12, ""),
            (DAY + "09:20:00Z", "sales", "answered", 5, "202"),  # within sales' T of 10 s
            (DAY + "09:30:00Z", "sales", "abandoned", 5, ""),  # short: the threshold itself
        ]
        items = [
            {
                "external_id": f"queue-measures-{n}",
                "direction": "incoming",
                "status": "answered" if result == "answered" else "missed",
                "from_number": "+31205550101",
                "to_number": "+31207940100",
                "extension": extension,
                "start": start,
                "ring_seconds": 4,
                "talk_seconds": 60 if result == "answered" else 0,
                "queue": queue,
                "queue_result": result,
                "queue_wait_seconds": wait,
                "queue_position": 1 + n % 3,
            }
            for n, (start, queue, result, wait, extension) in enumerate(rows)
        ]
        # A call that never queued counts in none of the queue measures.
        items.append(
            {
                "external_id": "queue-measures-direct",
                "direction": "incoming",
                "status": "answered",
                "from_number": "+31205550101",
                "extension": "201",
                "start": DAY + "08:45:00Z",
                "talk_seconds": 30,
            }
        )
        results = cls.pbx._ingest(items)
        assert all(r["result"] == "created" for r in results), results
        cls.Report = cls.env["phone.call.report"]
        cls.domain = [("pbx_id", "=", cls.pbx.id)]

    def both_paths(self, groupby, aggregates=AGGREGATES, domain=None):
        """{group key: {measure: value}} through the report's view and through the
        roll-up, which must both answer."""
        domain = self.domain + (domain or [])
        through_view = self.Report.with_context(phone_rollup=False)._read_group(
            domain, groupby, aggregates
        )
        through_rollup = self.env["phone.call.daily"]._read_group_for(
            self.Report, domain, groupby, aggregates, (), 0, None, None
        )
        self.assertIsNotNone(through_rollup, f"the roll-up answers {groupby}")
        return self.keyed(through_view, groupby, aggregates), self.keyed(
            through_rollup, groupby, aggregates
        )

    def keyed(self, rows, groupby, aggregates):
        width = len(groupby)
        names = [spec.split(":")[0] for spec in aggregates]
        return {
            tuple(_key(v) for v in row[:width]): dict(zip(names, row[width:], strict=True))
            for row in rows
        }

    def assert_figures(self, got, want, where):
        self.assertEqual(got.keys(), want.keys(), where)
        for key, values in want.items():
            for name, value in values.items():
                if value is False:
                    self.assertIs(got[key][name], False, (where, key, name))
                else:
                    self.assertAlmostEqual(got[key][name], value, places=9, msg=(where, key, name))

    def check(self, groupby, want, domain=None):
        through_view, through_rollup = self.both_paths(groupby, domain=domain)
        self.assert_figures(through_view, want, ("report", groupby))
        self.assert_figures(through_rollup, want, ("roll-up", groupby))

    def test_per_queue(self):
        support = figures(7, 3, 2, 2, 1, 1, [10, 20, 35, 3, 40, 60, 12], [10, 20, 35])
        self.assertAlmostEqual(support["queue_service_level"], 2 / 6)
        self.assertAlmostEqual(support["queue_asterisk_service_level"], 2 / 3)
        self.assertAlmostEqual(support["queue_answer_speed_avg"], 65 / 3)
        self.assertAlmostEqual(support["queue_abandon_rate"], 1 / 6)
        self.assertAlmostEqual(support["queue_wait_avg"], 180 / 7)
        sales = figures(2, 1, 1, 1, 1, 0, [5, 5], [5])
        self.assertEqual((sales["queue_service_level"], sales["queue_abandon_rate"]), (1.0, 0.0))
        never_queued = figures(0, 0, 0, 0, 0, 0, [], [])
        self.check(
            ["queue_id"],
            {(self.support.id,): support, (self.sales.id,): sales, (False,): never_queued},
        )
        # All queues together: the sums of both, not an average of their figures.
        self.check(
            [],
            {(): figures(9, 4, 3, 3, 2, 1, [10, 20, 35, 3, 40, 60, 12, 5, 5], [10, 20, 35, 5])},
        )

    def test_per_agent(self):
        # Only answered calls have an agent; the unanswered ones count for nobody.
        self.check(
            ["user_id"],
            {
                (self.manager.id,): figures(2, 2, 2, 0, 0, 0, [10, 20], [10, 20]),
                (self.agent.id,): figures(2, 2, 1, 0, 0, 0, [35, 5], [35, 5]),
                (False,): figures(5, 0, 0, 3, 2, 1, [3, 40, 60, 12, 5], []),
            },
            domain=[("queue_id", "!=", False)],
        )

    def test_per_day_and_queue_by_day(self):
        self.check(
            ["call_date:day"],
            {
                ("2026-11-20",): figures(
                    8, 4, 3, 3, 2, 1, [10, 20, 35, 3, 40, 60, 5, 5], [10, 20, 35, 5]
                ),
                ("2026-11-21",): figures(1, 0, 0, 0, 0, 0, [12], []),
            },
            domain=[("queue_id", "!=", False)],
        )
        through_view, through_rollup = self.both_paths(
            ["queue_id", "call_date:day"], domain=[("queue_id", "=", self.support.id)]
        )
        self.assertEqual(through_view, through_rollup)
        self.assertEqual(through_view[(self.support.id, "2026-11-21")]["queue_service_level"], 0.0)

    def test_per_hour_of_day_reads_the_calls(self):
        """The hour is no roll-up dimension: grouped by it, the report reads the calls."""
        domain = [*self.domain, ("queue_id", "!=", False)]
        self.assertIsNone(
            self.env["phone.call.daily"]._read_group_for(
                self.Report, domain, ["call_hour"], AGGREGATES, (), 0, None, None
            )
        )
        by_hour = self.keyed(
            self.Report._read_group(domain, ["call_hour"], AGGREGATES), ["call_hour"], AGGREGATES
        )
        self.assert_figures(
            by_hour,
            {
                (9,): figures(4, 3, 2, 1, 1, 0, [10, 20, 35, 3], [10, 20, 35]),
                (10,): figures(5, 1, 1, 2, 1, 1, [40, 60, 12, 5, 5], [5]),
            },
            "hour",
        )
        self.assertAlmostEqual(by_hour[(10,)]["queue_service_level"], 1 / 4)

    def test_longest_wait_reads_the_calls(self):
        """A maximum the roll-up cannot keep: asked for, the whole read comes from the calls."""
        self.assertNotIn("queue_wait_max:max", self.Report._rollup_aggregates)
        self.assertIsNone(
            self.env["phone.call.daily"]._read_group_for(
                self.Report, self.domain, ["queue_id"], ["queue_wait_max:max"], (), 0, None, None
            )
        )
        rows = {
            queue: longest
            for queue, longest, _offered in self.Report._read_group(
                self.domain, ["queue_id"], ["queue_wait_max:max", "queue_offered_count:sum"]
            )
        }
        self.assertEqual(rows[self.support], 60)
        self.assertEqual(rows[self.sales], 5)
        self.assertIs(rows[self.env["phone.queue"]], False, "no wait for a call never queued")

    def test_changing_a_queues_thresholds_recomputes_its_calls(self):
        calls = self.Call.search([("queue_id", "=", self.support.id)], order="call_start")
        self.assertEqual(
            calls.mapped("queue_answered_in_time"), [True, True, False, False, False, False, False]
        )
        self.support.write({"service_level_seconds": 40, "short_abandon_seconds": 40})
        self.assertEqual(
            calls.mapped("queue_answered_in_time"), [True, True, True, False, False, False, False]
        )
        self.assertEqual(
            calls.mapped("queue_short_abandon"), [False, False, False, True, True, False, False]
        )
        # Both paths follow: the UPDATE reached the roll-up through its trigger.
        self.check(
            ["queue_id"],
            {
                (self.support.id,): figures(
                    7, 3, 3, 2, 2, 1, [10, 20, 35, 3, 40, 60, 12], [10, 20, 35]
                ),
            },
            domain=[("queue_id", "=", self.support.id)],
        )
        self.env["phone.call.daily"]._fold_changes()
        self.support.write({"service_level_seconds": 5})
        [(level,)] = self.Report._read_group(
            [("queue_id", "=", self.support.id)], [], ["queue_service_level:avg"]
        )
        self.assertEqual(level, 0.0, "no call waited 5 s or less and was answered")
        # A new call of the queue gets the thresholds as they are now.
        call = self.pbx._ingest(
            [
                {
                    "external_id": "queue-measures-late",
                    "direction": "incoming",
                    "status": "answered",
                    "from_number": "+31205550101",
                    "extension": "201",
                    "start": DAY + "11:00:00Z",
                    "talk_seconds": 30,
                    "queue": "support",
                    "queue_result": "answered",
                    "queue_wait_seconds": 5,
                }
            ]
        )[0]
        self.assertTrue(self.Call.browse(call["call_id"]).queue_answered_in_time)

    def test_the_queues_report_opens_on_the_queued_calls(self):
        action = self.env.ref("phone_call_accounting.phone_call_report_action_queue")
        self.assertEqual(action.view_mode, "pivot,graph")
        self.assertIn("'search_default_queued': 1", action.context)
        views = self.Report.get_views([(v.view_id.id, v.view_mode) for v in action.view_ids])
        pivot, graph = views["views"]["pivot"]["arch"], views["views"]["graph"]["arch"]
        self.assertIn('name="queue_id" type="row"', pivot)
        # Shares read as percentages, seconds as h:mm:ss, wherever a measure is offered.
        for arch in (pivot, graph):
            for share in ("queue_service_level", "queue_abandon_rate"):
                self.assertRegex(arch, rf'name="{share}"[^>]*widget="phone_share"')
            for seconds in ("queue_answer_speed_avg", "queue_wait_avg"):
                self.assertRegex(arch, rf'name="{seconds}"[^>]*widget="phone_duration"')
        # The longest wait reads the calls: offered, not opened with.
        self.assertRegex(pivot, r'name="queue_wait_max" widget="phone_duration"')
        self.assertNotRegex(pivot, r'name="queue_wait_max"[^>]*type="measure"')
        search = self.Report.get_views([(False, "search")])["views"]["search"]["arch"]
        for name in ('name="queued"', 'name="group_queue"', 'name="group_hour"'):
            self.assertIn(name, search)

    def test_definitions_are_the_measures(self):
        """Every queue measure is defined once in pbx/measures.py and the report offers it."""
        defined = {m.name for m in measures.MEASURES}
        self.assertLessEqual({*NAMES, "queue_wait_max"}, defined)
        self.assertIn("queue_id", rollup.DIMENSIONS)
        fields_info = self.Report.fields_get(NAMES)
        for name in NAMES:
            self.assertTrue(fields_info[name]["aggregator"], name)


@tagged("post_install", "-at_install")
class TestQueueIngest(PhoneCase):
    """Queues made on ingest, and the queue log merged with the call's other deliveries."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = make_pbx(cls.env, name="Queue Log PBX")
        cls.other_pbx = make_pbx(cls.env, name="Other PBX")

    def cdr(self, external_id, **values):
        """A complete delivery (listener, CDR) of an answered queued call, without queue keys."""
        return {
            "external_id": external_id,
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31205550101",
            "to_number": "+31207940100",
            "extension": "202",
            "start": DAY + "10:00:00Z",
            "ring_seconds": 25,
            "talk_seconds": 120,
            **values,
        }

    def queue_log(self, external_id, **values):
        """What the queue log knows of the same call: its queue, the wait, how it left."""
        return {
            "external_id": external_id,
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31205550101",
            "start": DAY + "10:00:00Z",
            "queue": "support",
            "queue_wait_seconds": 18,
            "queue_result": "answered",
            "queue_position": 2,
            "queue_only": True,
            **values,
        }

    def assert_merged(self, call):
        self.assertRecordValues(
            call,
            [
                {
                    "status": "answered",
                    "extension": "202",
                    "user_id": self.agent.id,
                    "ring_seconds": 25,
                    "talk_seconds": 120,
                    "queue_id": self.env["phone.queue"]
                    .search([("pbx_id", "=", self.pbx.id), ("name", "=", "support")])
                    .id,
                    "queue_wait_seconds": 18,
                    "queue_result": "answered",
                    "queue_position": 2,
                    "queue_answered_in_time": True,
                    "queue_short_abandon": False,
                }
            ],
        )

    def calls(self, external_id):
        return self.Call.search(
            [("source", "=", self.pbx._source()), ("external_id", "=", external_id)]
        )

    def test_a_call_naming_an_unknown_queue_creates_it_once(self):
        Queue = self.env["phone.queue"]
        self.pbx._ingest([self.cdr("q-new-1", queue="billing", queue_result="answered")])
        queue = Queue.search([("name", "=", "billing")])
        self.assertRecordValues(
            queue,
            [
                {
                    "pbx_id": self.pbx.id,
                    "company_id": self.company.id,
                    "service_level_seconds": 20,
                    "short_abandon_seconds": 5,
                    "target_service_level": 80.0,
                    "active": True,
                }
            ],
        )
        # Known from then on, also when archived; another PBX's queue of that name is its own.
        queue.active = False
        self.pbx._ingest(
            [
                self.cdr("q-new-2", queue="billing", queue_result="abandoned", status="missed",
                         talk_seconds=0, extension=""),
                self.cdr("q-new-3", queue="billing", queue_result="timeout", status="missed",
                         talk_seconds=0, extension=""),
            ]
        )  # fmt: skip
        self.other_pbx._ingest([self.cdr("q-new-4", queue="billing", queue_result="answered")])
        self.ingest(self.cdr("q-new-5", queue="billing", queue_result="answered"))
        queues = Queue.with_context(active_test=False).search([("name", "=", "billing")])
        self.assertEqual(len(queues), 3)
        self.assertEqual(set(queues.pbx_id.ids), {self.pbx.id, self.other_pbx.id})
        self.assertEqual(
            self.Call.search([("queue_id", "=", queue.id)]).mapped("external_id"),
            ["q-new-1", "q-new-2", "q-new-3"][::-1],
        )
        self.assertEqual(queue.call_count, 3)
        # A call that never queued names no queue and makes none.
        self.pbx._ingest([self.cdr("q-new-6", queue="", queue_result="")])
        self.assertFalse(self.calls("q-new-6").queue_id)
        self.assertEqual(Queue.with_context(active_test=False).search_count([]), 3)

    def test_queue_log_first_then_the_complete_delivery(self):
        self.pbx._ingest([self.queue_log("q-merge-1", extension="", talk_seconds=0)])
        call = self.calls("q-merge-1")
        self.assertEqual((call.queue_result, call.talk_seconds), ("answered", 0))
        # The CDR row carries no queue keys: the queue log's fields stay.
        results = self.pbx._ingest([self.cdr("q-merge-1")])
        self.assertEqual(results[0]["result"], "updated")
        self.assertEqual(self.calls("q-merge-1"), call)
        self.assert_merged(call)
        # Both delivered again, in either order: nothing changes.
        self.pbx._ingest([self.queue_log("q-merge-1", extension="", talk_seconds=0)])
        self.pbx._ingest([self.cdr("q-merge-1")])
        self.assert_merged(call)

    def test_complete_delivery_first_then_the_queue_log(self):
        self.pbx._ingest([self.cdr("q-merge-2")])
        call = self.calls("q-merge-2")
        self.assertFalse(call.queue_id)
        # The queue log knows less of the call (no agent, no talk time): only its
        # queue fields are written.
        self.pbx._ingest([self.queue_log("q-merge-2", extension="", talk_seconds=0)])
        self.assertEqual(self.calls("q-merge-2"), call)
        self.assert_merged(call)
        self.pbx._ingest([self.cdr("q-merge-2")])
        self.assert_merged(call)

    def test_both_in_one_batch_in_either_order(self):
        self.pbx._ingest(
            [self.queue_log("q-merge-3", extension="", talk_seconds=0), self.cdr("q-merge-3")]
        )
        self.pbx._ingest(
            [self.cdr("q-merge-4"), self.queue_log("q-merge-4", extension="", talk_seconds=0)]
        )
        for external_id in ("q-merge-3", "q-merge-4"):
            call = self.calls(external_id)
            self.assertEqual(len(call), 1)
            self.assert_merged(call)

    def test_a_later_delivery_with_queue_keys_rewrites_them(self):
        self.pbx._ingest([self.queue_log("q-merge-5")])
        # The listener saw the call leave the queue after 30 s: its figures win.
        self.pbx._ingest([self.cdr("q-merge-5", queue="support", queue_result="answered",
                                   queue_wait_seconds=30, queue_position=1)])  # fmt: skip
        call = self.calls("q-merge-5")
        self.assertRecordValues(
            call,
            [
                {
                    "queue_wait_seconds": 30,
                    "queue_position": 1,
                    "queue_answered_in_time": False,
                    "talk_seconds": 120,
                }
            ],
        )
        # Delivered as "never queued": the queue fields are emptied.
        self.pbx._ingest([self.cdr("q-merge-5", queue="")])
        self.assertRecordValues(
            call,
            [{"queue_id": False, "queue_result": False, "queue_wait_seconds": 0,
              "queue_answered_in_time": False}],
        )  # fmt: skip

    def test_an_unchanged_redelivery_after_a_merge_is_still_recognised(self):
        """The stored digest is the last delivery's: that one again is known without a
        look at the call; the other one again changes no field, and is known next time."""
        log_item = self.queue_log("q-merge-6", extension="", talk_seconds=0)
        self.pbx._ingest([self.cdr("q-merge-6")])
        self.pbx._ingest([log_item])
        call = self.calls("q-merge-6")
        self.assertEqual(self.unchanged(log_item), [call.id])
        self.assertEqual(self.unchanged(self.cdr("q-merge-6")), [])
        self.pbx._ingest([self.cdr("q-merge-6")])
        self.assert_merged(call)
        self.assertEqual(self.unchanged(self.cdr("q-merge-6")), [call.id])
        self.assertEqual(self.unchanged(log_item), [])
        self.pbx._ingest([log_item])
        self.assert_merged(call)

    def unchanged(self, item):
        """The calls the fast path takes ``item`` for, delivered unchanged."""
        return list(self.Call._unchanged_redeliveries(self.cleaned(item)).values())

    def cleaned(self, item):
        clean = clean_call(item)
        clean["fingerprint"] = fingerprint(clean, self.pbx._source())
        clean["source"] = self.pbx._source()
        return {0: clean}


@tagged("post_install", "-at_install")
class TestQueueCreatedConcurrently(TransactionCase):
    """Workers that each deliver a call naming the same new queue make one queue."""

    def setUp(self):
        super().setUp()
        # Names and numbers no other test uses: the other transactions see only committed data.
        self.block = random.Random().randrange(100000, 999999)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = env["phone.pbx"].create(
                {"name": f"Queue Race PBX {self.block}", "kind": "webhook", "timezone": "UTC"}
            )
            self.pbx_id, self.source = pbx.id, pbx._source()
        self.addCleanup(self.clean_up)

    number = TestConcurrentDeliveries.number
    partners = TestConcurrentDeliveries.partners
    call = TestConcurrentDeliveries.call
    deliver_at_once = TestConcurrentDeliveries.deliver_at_once
    run_at_once = TestConcurrentDeliveries.run_at_once

    def clean_up(self):
        TestConcurrentDeliveries.clean_up(self)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["phone.queue"].with_context(active_test=False).search(
                [("name", "like", f"race-{self.block}-%")]
            ).unlink()

    def test_one_queue_per_name_under_concurrent_deliveries(self):
        batches = [
            [
                dict(
                    self.call(f"w{worker}-n{n}", self.number(n), worker),
                    queue=f"race-{self.block}-{n % 2}",
                    queue_result="answered",
                    queue_wait_seconds=worker,
                )
                for n in range(4)
            ]
            for worker in range(WORKERS)
        ]
        results = self.deliver_at_once(batches)
        for batch in results:
            self.assertEqual([r["result"] for r in batch], ["created"] * 4, batch)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            queues = env["phone.queue"].search([("name", "like", f"race-{self.block}-%")])
            self.assertEqual(
                sorted(queues.mapped("name")), [f"race-{self.block}-{i}" for i in (0, 1)]
            )
            calls = env["phone.call"].search([("source", "=", self.source)])
            self.assertEqual(len(calls), WORKERS * 4)
            self.assertEqual(calls.queue_id, queues)


def _pre_migration():
    path = Path(__file__).parent.parent / "migrations" / "19.0.1.4.0" / "pre-queue-columns.py"
    spec = importlib.util.spec_from_file_location("pca_pre_migrate_queue_columns", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestQueueColumnsUpgrade(TransactionCase):
    """19.0.1.4.0: the queue columns exist before the ORM looks, so that an upgrade
    computes nothing over the calls already stored."""

    def queue_columns(self):
        self.env.cr.execute(
            "SELECT column_name, udt_name FROM information_schema.columns"
            " WHERE table_name = 'phone_call' AND column_name LIKE 'queue%%'"
        )
        return dict(self.env.cr.fetchall())

    def test_upgrade_makes_the_columns_the_fields_expect(self):
        migration = _pre_migration()
        expected = self.queue_columns()
        self.assertEqual(expected, dict(migration.COLUMNS), "the columns the ORM made")
        self.env.flush_all()
        self.env.cr.execute(
            "ALTER TABLE phone_call "
            + ", ".join(f"DROP COLUMN {column} CASCADE" for column, _type in migration.COLUMNS)
        )  # the report's view goes with them; its init() makes it again
        self.assertEqual(self.queue_columns(), {})
        migration.migrate(self.env.cr, "19.0.1.3.0")
        self.assertEqual(self.queue_columns(), expected)
        migration.migrate(self.env.cr, "19.0.1.3.0")  # again: nothing to do
        migration.migrate(self.env.cr, None)  # a new database: the ORM makes them
        self.assertEqual(self.queue_columns(), expected)
        self.env["phone.call.report"].init()
        self.env["phone.call.daily"].init()
        self.assertEqual(self.env["phone.call.report"].search_count([]), 0)


@tagged("post_install", "-at_install")
class TestQueueThresholdsConcurrently(TransactionCase):
    """A change of a queue's thresholds and deliveries of its calls, each in a
    transaction of its own that commits: no call keeps the old thresholds' booleans."""

    def setUp(self):
        super().setUp()
        self.block = random.Random().randrange(100000, 999999)
        self.name = f"thresholds-{self.block}"
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = env["phone.pbx"].create(
                {"name": f"Thresholds PBX {self.block}", "kind": "webhook", "timezone": "UTC"}
            )
            self.pbx_id, self.source = pbx.id, pbx._source()
            pbx._ingest([self.item("first")])
            self.queue_id = env["phone.queue"].search([("name", "=", self.name)]).id
        self.retries = []
        self.addCleanup(self.clean_up)

    def clean_up(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].search([("source", "=", self.source)])
            partners = calls.partner_id
            calls.unlink()
            partners.unlink()
            env["phone.pbx"].browse(self.pbx_id).unlink()  # its queue goes with it

    def item(self, external_id):
        """An answered call that waited 15 s in the queue, from a number of its own."""
        return {
            "external_id": external_id,
            "direction": "incoming",
            "status": "answered",
            "from_number": f"+3120{self.block}{len(external_id)}",
            "start": DAY + "09:00:00Z",
            "talk_seconds": 30,
            "queue": self.name,
            "queue_result": "answered",
            "queue_wait_seconds": 15,
        }

    def env_of(self, cr):
        cr.transaction = Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def in_time(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].search([("source", "=", self.source)])
            return {call.external_id: call.queue_answered_in_time for call in calls}

    def set_threshold(self, seconds, started=None, snapshot_taken=None):
        """As a request does, started again on a concurrency error."""
        for _attempt in range(5):
            try:
                with self.registry.cursor() as cr:
                    env = self.env_of(cr)
                    queue = env["phone.queue"].browse(self.queue_id)
                    queue.read(["name"])  # the snapshot is taken here, as a request's is
                    if snapshot_taken:
                        snapshot_taken.set()
                    if started:
                        started.wait(timeout=30)
                    queue.write({"service_level_seconds": seconds})
                return
            except ConcurrencyError:
                self.retries.append(seconds)

    def test_a_delivery_that_read_the_old_thresholds_starts_again(self):
        with self.registry.cursor() as cr:
            env = self.env_of(cr)
            pbx = env["phone.pbx"].browse(self.pbx_id)
            pbx.read(["name"])  # this delivery's snapshot: thresholds of 20 s
            self.set_threshold(10)  # committed meanwhile
            with self.assertRaises(ConcurrencyError):
                pbx._ingest([self.item("late")])
            cr.rollback()
        # Its retry, on a fresh snapshot, counts with 10 s: 15 s is not within T.
        with self.registry.cursor() as cr:
            self.env_of(cr)["phone.pbx"].browse(self.pbx_id)._ingest([self.item("late")])
        self.assertEqual(self.in_time(), {"first": False, "late": False})

    def test_a_change_waiting_for_a_delivery_counts_its_calls_after_the_commit(self):
        """The change took its snapshot before the delivery committed, so its own
        UPDATE cannot see the delivery's call; the same UPDATE after its commit does."""
        snapshot_taken, delivered = threading.Event(), threading.Event()
        change = threading.Thread(target=self.set_threshold, args=(10, delivered, snapshot_taken))
        with self.registry.cursor() as cr:
            env = self.env_of(cr)
            pbx = env["phone.pbx"].browse(self.pbx_id)
            pbx.read(["name"])
            change.start()
            snapshot_taken.wait(timeout=30)
            pbx._ingest([self.item("during")])  # 20 s: within T; holds the queue
            delivered.set()
            time.sleep(0.5)  # the change waits for the queue meanwhile
        change.join(timeout=60)
        self.assertFalse(change.is_alive())
        self.assertEqual(self.retries, [], "the change was not started again: its commit counted")
        self.assertEqual(self.in_time(), {"first": False, "during": False})
