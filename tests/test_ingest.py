from odoo.tests import TransactionCase


class TestSmoke(TransactionCase):
    def test_one(self):
        res = self.env["phone.call"]._ingest_calls([{"external_id": "1", "direction": "incoming", "status": "answered", "from_number": "+31207940100", "start": "2026-11-27T10:00:00Z", "talk_seconds": 10}])
        self.assertEqual(res[0]["result"], "created", res)
