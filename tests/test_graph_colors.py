from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import setup_company

STATUSES = ("answered", "missed", "busy", "unknown", "failed")


@tagged("post_install", "-at_install")
class TestGraphColors(HttpCase):
    """Phone → Reporting and the calls' graph colour each status as the call list does."""

    def test_graphs_colour_statuses_like_the_list(self):
        setup_company(self.env)
        start = fields.Datetime.now() - timedelta(minutes=30)
        calls = []
        for index, status in enumerate(STATUSES):
            for repeat in range(len(STATUSES) - index):
                calls.append(
                    {
                        "external_id": f"colours-{status}-{repeat}",
                        "direction": "incoming",
                        "status": status,
                        "from_number": "+31205550101",
                        "to_number": "+31207940100",
                        "extension": "201",
                        "start": (start + timedelta(minutes=len(calls))).isoformat() + "+00:00",
                        "ring_seconds": 5,
                        "talk_seconds": 60 if status == "answered" else 0,
                    }
                )
        results = self.env["phone.call"]._ingest_calls(calls, source="test")
        self.assertEqual({r["result"] for r in results}, {"created"}, results)
        self.start_tour("/odoo", "phone_call_accounting_graph_colors_tour", login="admin")
