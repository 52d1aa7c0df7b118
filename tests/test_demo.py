from odoo.tests import tagged

from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestDemo(PhoneCase):
    def test_demo_traffic_goes_through_ingestion(self):
        self.company.phone_reviewer_id = self.manager
        self.company.phone_long_call_minutes = 30
        partners_before = self.env["res.partner"].search_count([])
        self.Call._phone_demo_ingest()
        calls = self.Call.search([("source", "=", "demo")])
        self.assertGreaterEqual(len(calls), 100)
        self.assertEqual(set(calls.mapped("direction")), {"incoming", "outgoing", "internal"})
        self.assertEqual(
            set(calls.mapped("status")), {"answered", "missed", "busy", "failed", "unknown"}
        )
        self.assertTrue(calls.filtered("forwarded"))
        too_long = calls.filtered("is_too_long")
        self.assertTrue(too_long)
        self.assertTrue(all(too_long.mapped("review_scheduled")))
        self.assertGreater(
            self.env["res.partner"].search_count([]),
            partners_before,
            "unknown demo callers become clients",
        )
        self.assertGreaterEqual(len(set(calls.mapped("call_date"))), 7)
        self.assertTrue(
            calls.filtered(lambda c: c.direction == "incoming" and not c.partner_id),
            "the withheld caller stays without client",
        )
        # Delivering the demo again changes nothing: same calls, updated.
        self.Call._phone_demo_ingest()
        self.assertEqual(self.Call.search_count([("source", "=", "demo")]), len(calls))
