from datetime import timedelta

from odoo.tests import HttpCase, tagged

from .common import recent_start


@tagged("post_install", "-at_install")
class TestPhoneTour(HttpCase):
    def test_calls_menu_to_client_history(self):
        admin = self.env.ref("base.user_admin")
        admin.tz = "Europe/Amsterdam"
        self.env.company.partner_id.tz = "Europe/Amsterdam"
        self.env.company.country_id = self.env.ref("base.nl")
        self.env["res.partner"].create({"name": "Tour Client", "phone": "+31205550999"})
        missed_start = recent_start(self.env, minutes_ago=2)
        start = missed_start + timedelta(seconds=30)
        calls = [
            {
                "external_id": "tour-1",
                "direction": "incoming",
                "status": "answered",
                "from_number": "+31205550999",
                "to_number": "+31207940100",
                "extension": "201",
                "start": start.isoformat() + "+00:00",
                "ring_seconds": 5,
                "talk_seconds": 75,
            },
            {
                "external_id": "tour-2",
                "direction": "incoming",
                "status": "missed",
                "from_number": "+31205550999",
                "to_number": "+31207940100",
                "start": missed_start.isoformat() + "+00:00",
                "ring_seconds": 20,
            },
        ]
        results = self.env["phone.call"]._ingest_calls(calls)
        self.assertEqual([r["result"] for r in results], ["created", "created"])
        self.start_tour("/odoo", "phone_call_accounting_tour", login="admin")
