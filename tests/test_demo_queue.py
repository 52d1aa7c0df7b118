from datetime import datetime

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools.convert import convert_file

from ..pbx import demo

MODULE = "phone_call_accounting"


@tagged("post_install", "-at_install")
class TestDemoQueue(TransactionCase):
    """The demo's support queue as ``--with-demo`` installs it (loaded here as
    tests/test_demo.py loads the demo when the database has none): a day of
    traffic through the one way in, its agents on the wallboard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.queue = cls.env.ref(f"{MODULE}.phone_queue_demo_support", raise_if_not_found=False)
        if not cls.queue:
            if not cls.env.ref("base.user_demo", raise_if_not_found=False):
                marc = new_test_user(cls.env, "demo", name="Marc Demo")
                cls.env["ir.model.data"].create(
                    {"module": "base", "name": "user_demo", "model": "res.users", "res_id": marc.id}
                )
            convert_file(
                cls.env, MODULE, "demo/phone_call_demo.xml", {}, mode="init", noupdate=True
            )
            cls.queue = cls.env.ref(f"{MODULE}.phone_queue_demo_support")
        cls.pbx = cls.env.ref(f"{MODULE}.phone_pbx_demo_webhook")
        cls.calls = cls.env["phone.call"].search([("queue_id", "=", cls.queue.id)])
        cls.today = datetime.now(cls.env.company._phone_timezone()).date()

    def test_a_day_of_queue_traffic_through_ingestion(self):
        self.assertEqual((self.queue.name, self.queue.pbx_id), (demo.QUEUE_NAME, self.pbx))
        self.assertEqual(set(self.calls.mapped("source")), {self.pbx._source()})
        self.assertEqual(set(self.calls.mapped("direction")), {"incoming"})
        today = self.calls.filtered(lambda c: c.call_date == self.today)
        self.assertEqual(len(today), sum(count for count, *_rest in demo.QUEUE_TRAFFIC))
        self.assertGreaterEqual(len(set(self.calls.mapped("call_date"))), 7)
        # Every way out of a queue, today.
        kinds = {
            "answered within T": today.filtered("queue_answered_in_time"),
            "answered over T": today.filtered(
                lambda c: c.queue_result == "answered" and not c.queue_answered_in_time
            ),
            "short abandon": today.filtered("queue_short_abandon"),
            "long abandon": today.filtered(
                lambda c: c.queue_result == "abandoned" and not c.queue_short_abandon
            ),
            "timeout": today.filtered(lambda c: c.queue_result == "timeout"),
        }
        for kind, calls in kinds.items():
            self.assertTrue(calls, kind)
        answered = today.filtered(lambda c: c.queue_result == "answered")
        self.assertEqual(set(answered.mapped("status")), {"answered"})
        self.assertTrue(all(answered.mapped("user_id")), "each answered by a demo user")
        self.assertEqual(set((today - answered).mapped("status")), {"missed"})
        # Delivered again, nothing changes.
        self.env["phone.call"]._demo_ingest()
        self.assertEqual(
            self.env["phone.call"].search_count([("queue_id", "=", self.queue.id)]), len(self.calls)
        )

    def test_the_service_level_report_shows_the_day(self):
        today = self.calls.filtered(lambda c: c.call_date == self.today)
        in_time = len(today.filtered("queue_answered_in_time"))
        short = len(today.filtered("queue_short_abandon"))
        [(level, offered)] = self.env["phone.call.report"]._read_group(
            [("queue_id", "=", self.queue.id), ("call_date", "=", self.today)],
            aggregates=["queue_service_level:avg", "queue_offered_count:sum"],
        )
        self.assertEqual(offered, len(today))
        self.assertAlmostEqual(level, in_time / (len(today) - short))
        self.assertTrue(0 < level < 1)

    def test_the_wallboard_shows_the_queue_and_its_agents(self):
        manager = new_test_user(
            self.env, "demo_queue_manager", groups=f"{MODULE}.group_phone_manager"
        )
        data = self.env["phone.queue"].with_user(manager).wallboard_data()
        [board] = [q for q in data["queues"] if q["id"] == self.queue.id]
        today = self.calls.filtered(lambda c: c.call_date == self.today)
        self.assertEqual(board["offered"], len(today))
        self.assertEqual(
            board["answered"], len(today.filtered(lambda c: c.queue_result == "answered"))
        )
        self.assertTrue(board["abandoned"])
        self.assertEqual(board["agents"]["available"], 2)
        self.assertEqual(board["agents"]["paused"], 1)
        self.assertEqual(
            {m["extension"] for m in board["members"]}, {"101", "102", "103"}, board["members"]
        )

    def test_repeat_callers_show_in_the_demo(self):
        [(rate, repeats)] = self.env["phone.call.report"]._read_group(
            [("pbx_id", "=", self.pbx.id)],
            aggregates=["first_contact_rate:avg", "repeat_count:sum"],
        )
        self.assertTrue(0 < rate < 1)
        self.assertTrue(repeats)
