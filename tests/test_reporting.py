from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestReporting(PhoneCase):
    def setUp(self):
        super().setUp()
        day = "2026-11-20T"
        self.ingest(
            self.call(start=day + "08:05:00Z", ring_seconds=4, talk_seconds=100),
            self.call(start=day + "08:40:00Z", ring_seconds=8, talk_seconds=200, extension="202"),
            self.call(start=day + "09:10:00Z", status="missed", talk_seconds=0, ring_seconds=30),
            self.call(start=day + "09:20:00Z", status="busy", talk_seconds=0, ring_seconds=0),
            self.call(
                start=day + "09:30:00Z",
                direction="outgoing",
                from_number="201",
                to_number="+31205550199",
                ring_seconds=20,
                talk_seconds=60,
            ),
        )
        self.Report = self.env["phone.call.report"]

    def test_answer_rate_and_averages_are_real_aggregates(self):
        [(rate, ring_avg, talk_avg, talk, calls, open_missed)] = self.Report._read_group(
            [("call_date", "=", "2026-11-20")],
            aggregates=[
                "answer_rate:avg",
                "ring_seconds_avg:avg",
                "talk_seconds_avg:avg",
                "talk_seconds:sum",
                "call_count:sum",
                "not_called_back_count:sum",
            ],
        )
        self.assertAlmostEqual(rate, 0.5, msg="2 answered of 4 incoming, a share like the others")
        self.assertAlmostEqual(ring_avg, (4 + 8 + 20) / 3)
        self.assertAlmostEqual(talk_avg, (100 + 200 + 60) / 3)
        self.assertEqual((talk, calls, open_missed), (360, 5, 1))

    def test_per_employee_and_hour_of_day(self):
        by_user = dict(
            self.Report._read_group(
                [("direction", "=", "incoming")], ["user_id"], ["answer_rate:avg"]
            )
        )
        self.assertAlmostEqual(by_user[self.agent], 1.0)
        outgoing_only = dict(
            self.Report._read_group(
                [("direction", "=", "outgoing")], ["direction"], ["answer_rate:avg"]
            )
        )
        self.assertIs(outgoing_only["outgoing"], False, "no incoming call: no rate, not 0 %")
        by_hour = dict(self.Report._read_group([], ["call_hour"], ["call_count:sum"]))
        # 08:05 UTC is 09:05 in Amsterdam.
        self.assertEqual(by_hour, {9: 2, 10: 3})

    def test_measures_are_stored_columns(self):
        fields_info = self.Report.fields_get()
        for name in (
            "call_count",
            "answer_rate",
            "ring_seconds_avg",
            "talk_seconds_avg",
            "talk_seconds",
            "not_called_back_count",
            "cost",
        ):
            self.assertTrue(fields_info[name]["store"], name)
            self.assertTrue(fields_info[name]["aggregator"], name)

    def test_dashboard_default_is_a_daily_graph_by_status(self):
        action = self.env.ref("phone_call_accounting.phone_call_report_action")
        self.assertTrue(action.view_mode.startswith("graph"))
        arch = self.Report.get_views([(False, "graph")])["views"]["graph"]["arch"]
        self.assertIn('name="call_date" interval="day"', arch)
        self.assertIn('name="status"', arch)

    def test_shares_and_durations_display_one_way(self):
        """Shares are 0-1 shown as %, blank without a value; seconds as h:mm:ss."""
        for view_type in ("graph", "pivot"):
            arch = self.Report.get_views([(False, view_type)])["views"][view_type]["arch"]
            self.assertIn('name="answer_rate" type="measure" widget="phone_share"', arch)
            self.assertNotIn('widget="percentage"', arch)
            for seconds in ("ring_seconds_avg", "talk_seconds_avg", "talk_seconds"):
                # A measure offered (default or not) shows as h:mm:ss.
                self.assertRegex(arch, rf'name="{seconds}"[^>]*widget="phone_duration"')


@tagged("post_install", "-at_install")
class TestReportingTour(HttpCase):
    def test_reporting_views_in_the_browser(self):
        now = fields.Datetime.now().isoformat() + "+00:00"
        self.env["phone.call"]._ingest_calls(
            [
                {
                    "external_id": "rep-1",
                    "direction": "incoming",
                    "status": "answered",
                    "from_number": "+31205550101",
                    "start": now,
                    "talk_seconds": 42,
                },
                {
                    "external_id": "rep-2",
                    "direction": "incoming",
                    "status": "missed",
                    "from_number": "+31205550102",
                    "start": now,
                },
            ]
        )
        self.start_tour("/odoo", "phone_call_accounting_reporting_tour", login="admin")
