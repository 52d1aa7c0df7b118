import random
import threading
import time
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

from ..models import phone_call_repeat
from . import test_concurrency
from .common import PhoneCase, no_cron_commits

# Its workers, borrowed (importing the class would run its tests here too).
RACES = test_concurrency.TestConcurrentDeliveries

DAY0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
BAKERY = "+31205550101"  # the client of PhoneCase
GARAGE = "+31305550202"


def at(days=0, seconds=0):
    return (DAY0 + timedelta(days=days, seconds=seconds)).isoformat()


@tagged("post_install", "-at_install")
class TestRepeatCallers(PhoneCase):
    """An answered incoming call is resolved at first contact unless the same number
    calls again within N days (7 by default); that later call is a repeat."""

    def deliver(self, *calls):
        results = self.ingest(*calls)
        self.assertEqual({r["result"] for r in results} - {"created", "updated"}, set(), results)
        return self.Call.browse([r["call_id"] for r in results])

    def flags(self, calls):
        return [(c.repeat_call, c.first_contact_resolved) for c in calls]

    def test_a_second_call_within_the_window_is_a_repeat(self):
        first, second, third = self.deliver(
            self.call(start=at(0)),
            self.call(start=at(3), status="missed", talk_seconds=0, extension=""),
            self.call(start=at(20)),
        )
        self.assertEqual(
            self.flags(first | second | third),
            [(False, False), (True, False), (False, True)],
            "the first was not resolved, the missed second call is a repeat, the third "
            "(13 days after the last answered call) is a first contact, resolved",
        )

    def test_calls_arriving_out_of_order_fix_the_earlier_flags(self):
        later = self.deliver(self.call(start=at(3)))
        self.assertEqual(self.flags(later), [(False, True)])
        # Last week's CDR import, after today's webhooks.
        earlier = self.deliver(self.call(start=at(0)), self.call(start=at(1, 3600)))
        self.assertEqual(self.flags(earlier), [(False, False), (True, False)])
        self.assertEqual(self.flags(later), [(True, True)], "a repeat, not followed by another")

    def test_window_edge_is_exactly_n_days(self):
        self.assertEqual(self.company.phone_repeat_days, 7)
        a, b = self.deliver(self.call(start=at(0)), self.call(start=at(7)))
        self.assertEqual(self.flags(a | b), [(False, False), (True, True)], "exactly 7 days")
        c, d = self.deliver(
            self.call(start=at(30), from_number=GARAGE),
            self.call(start=at(37, 1), from_number=GARAGE),
        )
        self.assertEqual(self.flags(c | d), [(False, True), (False, True)], "7 days and 1 s")

    def test_different_numbers_outgoing_and_withheld_calls_are_no_repeats(self):
        calls = self.deliver(
            self.call(start=at(0)),
            self.call(start=at(1), from_number=GARAGE),
            # Calling the client back is no client calling again.
            self.call(start=at(2), direction="outgoing", from_number="201", to_number=BAKERY),
            self.call(start=at(3), from_number="anonymous"),
            self.call(start=at(4), from_number="anonymous"),
        )
        self.assertEqual(
            self.flags(calls),
            [(False, True), (False, True), (False, False), (False, False), (False, False)],
        )

    def test_an_unanswered_first_call_makes_no_repeat(self):
        missed, answered = self.deliver(
            self.call(start=at(0), status="missed", talk_seconds=0, extension=""),
            self.call(start=at(0, 600)),
        )
        self.assertEqual(self.flags(missed | answered), [(False, False), (False, True)])

    def test_a_call_that_moves_or_goes_sets_the_flags_again(self):
        item = self.call(start=at(2))
        first, second = self.deliver(self.call(start=at(0)), item)
        self.assertEqual(self.flags(first | second), [(False, False), (True, True)])
        # Redelivered as from another number: the first call was resolved after all.
        self.deliver({**item, "from_number": GARAGE})
        self.assertEqual(self.flags(first | second), [(False, True), (False, True)])
        self.deliver(item)
        self.assertEqual(self.flags(first | second), [(False, False), (True, True)])
        # Redelivered as outgoing: no flag on it, none caused by it.
        self.deliver({**item, "direction": "outgoing", "from_number": "201", "to_number": BAKERY})
        self.assertEqual(self.flags(first | second), [(False, True), (False, False)])
        self.deliver(item)
        second.unlink()
        self.assertEqual(self.flags(first), [(False, True)])

    def test_changing_n_sets_every_flag_again(self):
        a, b = self.deliver(self.call(start=at(0)), self.call(start=at(3)))
        self.assertEqual(self.flags(a | b), [(False, False), (True, True)])
        settings = self.env["res.config.settings"].create({"phone_repeat_days": 2})
        settings.execute()
        self.assertEqual(self.company.phone_repeat_days, 2)
        self.assertEqual(self.flags(a | b), [(False, True), (False, True)])
        self.company.phone_repeat_days = 3
        self.assertEqual(self.flags(a | b), [(False, False), (True, True)])

    def test_a_large_company_changes_n_by_chunks_in_the_scheduled_action(self):
        """Past SYNC_CALLS incoming calls the request leaves it to the cron, which
        goes through the numbers in order, a chunk a transaction."""
        calls = self.deliver(
            *(
                self.call(start=at(day), from_number=f"+3120555{n:04d}")
                for n in range(5)
                for day in (0, 3)
            )
        )
        self.assertEqual(set(self.flags(calls)), {(False, False), (True, True)})
        no_cron_commits(self)
        with (
            patch.object(phone_call_repeat, "SYNC_CALLS", 3),
            patch.object(phone_call_repeat, "CHUNK_NUMBERS", 2),
        ):
            self.company.phone_repeat_days = 2
            self.assertEqual(set(self.flags(calls)), {(False, False), (True, True)}, "not yet")
            cron = self.env.ref("phone_call_accounting.ir_cron_phone_repeat_recompute")
            self.assertTrue(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]))
            self.Call._cron_repeat_recompute()
        self.assertEqual(set(self.flags(calls)), {(False, True)})
        self.assertFalse(
            self.env["ir.config_parameter"].get_param(
                f"phone_call_accounting.repeat_recompute_after.{self.company.id}"
            ),
            "nothing left to do",
        )

    def test_an_upgrade_sets_the_flags_of_the_calls_already_there(self):
        calls = self.deliver(self.call(start=at(0)), self.call(start=at(3)))
        self.env.cr.execute(
            "UPDATE phone_call SET repeat_call = NULL, first_contact_resolved = NULL"
            " WHERE id = ANY(%s)",
            [calls.ids],
        )
        self.Call.invalidate_model(["repeat_call", "first_contact_resolved"])
        self.Call._repeat_after_upgrade()
        self.assertEqual(self.flags(calls), [(False, False), (True, True)], "small: at once")
        self.env.cr.execute("UPDATE phone_call SET repeat_call = NULL WHERE id = %s", [calls[1].id])
        self.Call.invalidate_model(["repeat_call"])
        with patch.object(phone_call_repeat, "SYNC_CALLS", 1):
            self.Call._repeat_after_upgrade()
            self.assertFalse(calls[1].repeat_call, "large: left to the scheduled action")
            no_cron_commits(self)
            self.Call._cron_repeat_recompute()
        self.assertEqual(self.flags(calls), [(False, False), (True, True)])

    def test_measures_per_agent_through_the_report_and_the_rollup(self):
        # Agent 201 answers three calls of the bakery within a week: the first two
        # had a call after them; agent 202 answers the garage once and the bakery
        # 20 days later. A missed call counts as calling again, not as answered.
        self.deliver(
            self.call(start=at(0), extension="201"),
            self.call(start=at(1), status="missed", talk_seconds=0, extension=""),
            self.call(start=at(2), extension="201"),
            self.call(start=at(5), extension="201"),
            self.call(start=at(0), from_number=GARAGE, extension="202"),
            self.call(start=at(25), extension="202"),
            self.call(start=at(26), from_number="anonymous", extension="202"),
        )
        report = self.env["phone.call.report"]
        wanted = {
            self.manager: (1 / 3, 2),  # 1 of 3 resolved; the repeats at day 2 and 5
            self.agent: (1.0, 0),  # both resolved; the withheld call is left out
            self.env["res.users"]: (False, 1),  # the missed call at day 1 is a repeat
        }
        for model in (report, report.with_context(phone_rollup=False)):
            rows = model._read_group(
                [], ["user_id"], ["first_contact_rate:avg", "repeat_count:sum"]
            )
            got = {user: (rate, repeats) for user, rate, repeats in rows}
            self.assertEqual(got.keys(), wanted.keys())
            for user, (rate, repeats) in wanted.items():
                self.assertEqual(got[user][1], repeats, user.name)
                if rate is False:
                    self.assertIs(got[user][0], False, user.name)
                else:
                    self.assertAlmostEqual(got[user][0], rate, msg=user.name)
        self.assertEqual(
            report._read_group([], [], ["first_contact_rate:avg"])[0][0],
            report.with_context(phone_rollup=False)._read_group([], [], ["first_contact_rate:avg"])[
                0
            ][0],
        )

    def test_measures_per_queue_through_the_report_and_the_rollup(self):
        queued = {"queue_result": "answered", "queue_wait_seconds": 10, "queue_position": 1}
        self.deliver(
            self.call(start=at(0), queue="sales", **queued),
            self.call(start=at(1), queue="support", **queued),
            self.call(start=at(1), from_number=GARAGE, queue="support", **queued),
        )
        report = self.env["phone.call.report"]
        for model in (report, report.with_context(phone_rollup=False)):
            rows = model._read_group(
                [], ["queue_id"], ["first_contact_rate:avg", "repeat_count:sum"]
            )
            got = {queue.name: (rate, repeats) for queue, rate, repeats in rows}
            self.assertEqual(got, {"sales": (0.0, 0), "support": (1.0, 1)})

    def test_ingestion_of_a_number_is_a_bounded_number_of_queries(self):
        """The flags cost a few statements a batch, not a few a call."""
        self.deliver(self.call(start=at(0)))
        self.env.flush_all()
        counts = []
        for size in (2, 40):
            before = self.env.cr.sql_log_count
            self.deliver(
                *(
                    self.call(start=at(1 + n / 100), from_number=f"+3120777{size:02d}{n:02d}")
                    for n in range(size)
                )
            )
            self.env.flush_all()
            counts.append(self.env.cr.sql_log_count - before)
        self.assertLessEqual(abs(counts[1] - counts[0]), 6, counts)


@tagged("post_install", "-at_install")
class TestRepeatCallersConcurrently(TransactionCase):
    """Workers delivering calls of the same numbers at once, each in its own
    committed transaction (as tests/test_concurrency.py): the flags are those of
    all the calls, whatever the order the transactions ran in."""

    def setUp(self):
        super().setUp()
        # As test_concurrency's: a PBX and numbers of its own, committed.
        self.block = random.Random().randrange(100000, 999999)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env.company.phone_auto_create_partner = True
            pbx = env["phone.pbx"].create(
                {"name": f"Repeat PBX {self.block}", "kind": "webhook", "timezone": "UTC"}
            )
            self.pbx_id, self.source = pbx.id, pbx._source()
        self.addCleanup(self.clean_up)

    clean_up = RACES.clean_up
    number = RACES.number
    partners = RACES.partners
    call = RACES.call
    run_at_once = RACES.run_at_once

    def deliver_at_once(self, batches):
        results = RACES.deliver_at_once(self, batches)
        self.assertEqual({r["result"] for batch in results for r in batch}, {"created"}, results)
        return results

    def flags_of(self, env, number):
        calls = env["phone.call"].search(
            [("source", "=", self.source), ("client_number", "=", number)], order="call_start"
        )
        return [(c.repeat_call, c.first_contact_resolved) for c in calls]

    def test_two_workers_delivering_the_same_number(self):
        number = self.number(1)
        for round_ in range(2):
            # Each worker brings one call of the number, a day apart: each alone
            # would find its call resolved and no repeat.
            days = [round_ * 9, round_ * 9 + 1]
            self.deliver_at_once(
                [
                    [self.call(f"r{round_}-w{worker}", number, day * 24 * 60)]
                    for worker, day in enumerate(random.sample(days, 2))
                ]
            )
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.assertEqual(self.flags_of(env, number), [(False, False), (True, True)] * 2)

    def test_many_workers_many_numbers(self):
        numbers = [self.number(n) for n in range(4)]
        batches = [
            [self.call(f"w{worker}-n{n}", numbers[n], worker * 24 * 60) for n in range(4)]
            for worker in range(6)
        ]
        random.shuffle(batches)
        for batch in batches:
            random.shuffle(batch)
        self.deliver_at_once(batches)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            for number in numbers:
                self.assertEqual(
                    self.flags_of(env, number),
                    [(False, False)] + [(True, False)] * 4 + [(True, True)],
                    number,
                )

    def pending_of(self, number):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM phone_call_repeat_pending WHERE client_number = %s", [number]
            )
            return cr.fetchone()[0]

    def test_flags_a_dead_server_left_are_settled_by_the_scheduled_action(self):
        """A delivery whose snapshot lacks another's call of its number settles the
        flags after its commit; its server stops in between: the cron sets them."""
        number = self.number(3)
        expected = [(False, False), (True, False), (True, True)]
        self.deliver_at_once([[self.call("s0", number, 0)]])
        with self.registry.cursor() as late:
            pbx = api.Environment(late, SUPERUSER_ID, {})["phone.pbx"].browse(self.pbx_id)
            pbx.read(["token"])  # its snapshot, before the other server's call
            self.deliver_at_once([[self.call("s1", number, 1440)]])
            [result] = pbx._ingest([self.call("s2", number, 2 * 1440)])
            self.assertEqual(result["result"], "created")
            late.postcommit.clear()  # the server stops between its commit and the settling
        with self.registry.cursor() as cr:
            self.assertNotEqual(
                self.flags_of(api.Environment(cr, SUPERUSER_ID, {}), number), expected
            )
        self.assertEqual(self.pending_of(number), 1, "noted with the calls")
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env.ref(
                "phone_call_accounting.ir_cron_phone_repeat_settle_pending"
            ).method_direct_trigger()
            self.assertEqual(self.pending_of(number), 1, "a settling may still be under way")
            env["phone.call"]._cron_repeat_settle_pending(lost_after=0)
        with self.registry.cursor() as cr:
            self.assertEqual(self.flags_of(api.Environment(cr, SUPERUSER_ID, {}), number), expected)
        self.assertEqual(self.pending_of(number), 0)

    def test_a_settling_after_commit_leaves_nothing_pending(self):
        number = self.number(3)
        self.deliver_at_once([[self.call("p0", number, 0)]])
        with self.registry.cursor() as late:
            pbx = api.Environment(late, SUPERUSER_ID, {})["phone.pbx"].browse(self.pbx_id)
            pbx.read(["token"])
            self.deliver_at_once([[self.call("p1", number, 1440)]])
            pbx._ingest([self.call("p2", number, 2 * 1440)])
        self.assertEqual(self.pending_of(number), 0)
        with self.registry.cursor() as cr:
            self.assertEqual(
                self.flags_of(api.Environment(cr, SUPERUSER_ID, {}), number),
                [(False, False), (True, False), (True, True)],
            )

    def committed_n(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT phone_repeat_days FROM res_company WHERE id = %s", [self.company_id])
            return cr.fetchone()[0]

    def deliver_before_n_change(self, number):
        """A call at day 0 committed, a change of N to 2 days, and a call at day 3
        (3 days later: a repeat under 7 days, not under 2)."""
        self.addCleanup(self.reset_n)
        self.deliver_at_once([[self.call("d0", number, 0)]])
        with self.registry.cursor() as cr:
            self.company_id = api.Environment(cr, SUPERUSER_ID, {}).company.id

    def change_n(self, env):
        env["res.company"].browse(self.company_id).phone_repeat_days = 2

    def assert_flags_under_two_days(self, number):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.assertEqual(self.flags_of(env, number), [(False, True), (False, True)])

    def test_a_delivery_whose_snapshot_predates_a_change_of_n(self):
        """Its snapshot holds 7 days; N is 2 when it computes: it starts again."""
        number = self.number(2)
        self.deliver_before_n_change(number)

        def deliver(env):
            deadline = time.monotonic() + 30
            while self.committed_n() != 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            return env["phone.pbx"].browse(self.pbx_id)._ingest([self.call("d3", number, 3 * 1440)])

        results = self.run_at_once([deliver, self.change_n])
        self.assertEqual(results[0][0]["result"], "created")
        self.assert_flags_under_two_days(number)

    def test_a_change_of_n_waiting_for_a_delivery(self):
        """N changes while a delivery of 7-day flags is in flight: the change waits
        for it, then sets its flags again too."""
        number = self.number(3)
        self.deliver_before_n_change(number)
        delivered = threading.Event()

        def deliver(env):
            results = (
                env["phone.pbx"].browse(self.pbx_id)._ingest([self.call("d3", number, 3 * 1440)])
            )
            delivered.set()
            time.sleep(1)  # still to commit while N changes
            return results

        def change_n(env):
            delivered.wait(30)
            self.change_n(env)

        results = self.run_at_once([deliver, change_n])
        self.assertEqual(results[0][0]["result"], "created")
        self.assert_flags_under_two_days(number)

    def reset_n(self):
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["res.company"].browse(
                self.company_id
            ).phone_repeat_days = 7
