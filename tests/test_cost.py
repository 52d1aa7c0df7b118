from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import PhoneCase, make_pbx


@tagged("post_install", "-at_install")
class TestCallCost(PhoneCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Tariff = cls.env["phone.tariff"]
        Tariff.create({"name": "NL", "prefix": "+31", "price_per_minute": 0.02})
        cls.mobile = Tariff.create(
            {
                "name": "NL mobile",
                "prefix": "+316",
                "price_per_minute": 0.10,
                "connection_fee": 0.05,
                "increment": "1/1",
            }
        )
        cls.pbx = make_pbx(cls.env, country_id=cls.env.ref("base.nl").id)
        Tariff.create(
            {
                "name": "NL mobile via PBX",
                "prefix": "+316",
                "price_per_minute": 0.01,
                "increment": "60/60",
                "pbx_id": cls.pbx.id,
            }
        )

    def outgoing(self, to_number, talk, **values):
        return self.ingest_one(
            direction="outgoing",
            from_number="201",
            to_number=to_number,
            talk_seconds=talk,
            **values,
        )

    def test_longest_prefix_and_increment(self):
        landline = self.outgoing("020 555 0101", 61)
        self.assertEqual(landline.cost, 0.04)
        mobile = self.outgoing("06 1234 5678", 90)
        self.assertEqual(mobile.tariff_id, self.mobile)
        self.assertAlmostEqual(mobile.cost, 0.20)
        self.assertEqual(mobile.currency_id, self.company.currency_id)

    def test_incoming_unanswered_and_unknown_destinations_cost_nothing(self):
        self.assertEqual(self.ingest_one(talk_seconds=300).cost, 0)
        self.assertEqual(self.outgoing("06 1234 5678", 0, status="missed").cost, 0)
        self.assertEqual(self.outgoing("+4930901820", 120).cost, 0)

    def test_pbx_tariff_wins_over_shared(self):
        item = self.call(
            direction="outgoing", from_number="201", to_number="0612345678", talk_seconds=90
        )
        call = self.Call.browse(self.pbx._ingest([item])[0]["call_id"])
        self.assertEqual(call.cost, 0.02)  # two started minutes at 0.01

    def test_costs_sum_in_groups(self):
        self.outgoing("020 555 0101", 61)
        self.outgoing("06 1234 5678", 90)
        [(total,)] = self.Call._read_group(
            [("direction", "=", "outgoing")], aggregates=["cost:sum"]
        )
        self.assertAlmostEqual(total, 0.24)

    def test_expensive_call_is_too_long(self):
        self.company.phone_long_call_minutes = 0
        self.company.phone_long_call_cost = 1.0
        cheap = self.outgoing("06 1234 5678", 60)
        dear = self.outgoing("06 1234 5678", 900)  # 0.05 + 15 min * 0.10 = 1.55
        self.assertFalse(cheap.is_too_long)
        self.assertTrue(dear.is_too_long)

    def test_bad_tariff_lines_are_refused(self):
        with self.assertRaises(ValidationError):
            self.env["phone.tariff"].create({"name": "x", "prefix": "+31x", "price_per_minute": 1})
        with self.assertRaises(ValidationError):
            self.env["phone.tariff"].create(
                {"name": "x", "prefix": "+31", "price_per_minute": 1, "increment": "60"}
            )
