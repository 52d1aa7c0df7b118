from datetime import timedelta

from odoo.tests import HttpCase, tagged

from .common import recent_start, setup_company

STATUSES = ("answered", "missed", "busy", "unknown", "failed")


@tagged("post_install", "-at_install")
class TestGraphColors(HttpCase):
    """Phone → Reporting and the calls' graph colour each status as the call list does."""

    def test_graphs_colour_statuses_like_the_list(self):
        setup_company(self.env)
        # Today's calls for the admin too in the hour after midnight in Amsterdam.
        self.env.ref("base.user_admin").tz = "Europe/Amsterdam"
        start = recent_start(self.env, minutes_ago=30)
        calls = []
        for index, status in enumerate(STATUSES):
            for repeat in range(len(STATUSES) - index):
                at = start + timedelta(seconds=20 * len(calls))
                calls.append(
                    {
                        "external_id": f"colours-{status}-{repeat}",
                        "direction": "incoming",
                        "status": status,
                        "from_number": "+31205550101",
                        "to_number": "+31207940100",
                        "extension": "201",
                        "start": at.isoformat() + "+00:00",
                        "ring_seconds": 5,
                        "talk_seconds": 60 if status == "answered" else 0,
                    }
                )
        results = self.env["phone.call"]._ingest_calls(calls, source="test")
        self.assertEqual({r["result"] for r in results}, {"created"}, results)
        self.start_tour("/odoo", "phone_call_accounting_graph_colors_tour", login="admin")
