from datetime import datetime, timedelta, timezone
from itertools import count

from odoo.tests import TransactionCase, new_test_user

_ids = count(1)


class PhoneCase(TransactionCase):
    """A company in Amsterdam with two desk phones, a client and a reviewer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.company.write(
            {
                "country_id": cls.env.ref("base.nl").id,
                "phone": "+31 20 794 0100",
                "phone_default_country_id": False,
                "phone_long_call_minutes": 10,
                "phone_reviewer_id": False,
                "phone_auto_create_partner": True,
            }
        )
        cls.company.partner_id.tz = "Europe/Amsterdam"
        cls.manager = new_test_user(
            cls.env,
            "phone_manager",
            groups="phone_call_accounting.group_phone_manager",
            name="Mia Manager",
        )
        cls.agent = new_test_user(
            cls.env,
            "phone_agent",
            groups="phone_call_accounting.group_phone_user",
            name="Alex Agent",
        )
        cls.manager.phone_extension = "201"
        cls.agent.phone_extension = "202"
        cls.customer_type = cls.env.ref("phone_call_accounting.phone_client_type_customer")
        cls.prospect_type = cls.env.ref("phone_call_accounting.phone_client_type_prospect")
        cls.client = cls.env["res.partner"].create(
            {
                "name": "Bakkerij Korst",
                "phone": "020 555 0101",
                "country_id": cls.env.ref("base.nl").id,
                "phone_client_type_id": cls.customer_type.id,
            }
        )
        cls.Call = cls.env["phone.call"]

    def call(self, **values):
        """One valid incoming call dict; keyword arguments override."""
        data = {
            "external_id": f"test-{next(_ids)}",
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31205550101",
            "to_number": "+31207940100",
            "extension": "201",
            "start": datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc).isoformat(),
            "ring_seconds": 6,
            "talk_seconds": 95,
        }
        data.update(values)
        return data

    def ingest(self, *calls, **kwargs):
        return self.Call._ingest_calls(list(calls), **kwargs)

    def ingest_one(self, **values):
        result = self.ingest(self.call(**values))[0]
        self.assertIn(result["result"], ("created", "updated"), result)
        return self.Call.browse(result["call_id"])

    @staticmethod
    def utc(*args):
        return datetime(*args, tzinfo=timezone.utc)

    @staticmethod
    def minutes(n):
        return int(timedelta(minutes=n).total_seconds())


def make_pbx(env, **values):
    data = {
        "name": "Test PBX",
        "kind": "webhook",
        "trunk_patterns": "^PJSIP/provider-\n^SIP/voipgrid-",
        "timezone": "Europe/Amsterdam",
    }
    data.update(values)
    return env["phone.pbx"].create(data)
