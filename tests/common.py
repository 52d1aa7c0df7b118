import json
from datetime import datetime, timedelta, timezone
from itertools import count
from unittest.mock import patch
from zoneinfo import ZoneInfo

from odoo.tests import TransactionCase, new_test_user

_ids = count(1)


def recent_start(env, minutes_ago):
    """A naive UTC start ``minutes_ago`` before now, but never before today in the
    company's call zone: a run just after midnight must still find "today's calls"."""
    now = datetime.now(timezone.utc)
    local = now.astimezone(ZoneInfo(env.company._phone_timezone_name()))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = midnight.astimezone(timezone.utc) + timedelta(seconds=1)
    return max(now - timedelta(minutes=minutes_ago), earliest).replace(tzinfo=None)


def setup_company(env, **values):
    """The test company: in Amsterdam, with its own number, creating unknown callers."""
    company = env.company
    company.write(
        {
            "country_id": env.ref("base.nl").id,
            "phone": "+31 20 794 0100",
            "phone_auto_create_partner": True,
            **values,
        }
    )
    company.partner_id.tz = "Europe/Amsterdam"
    return company


def make_client(env, client_type):
    """A bakery saved with its national number."""
    return env["res.partner"].create(
        {
            "name": "Bakkerij Korst",
            "phone": "020 555 0101",
            "country_id": env.ref("base.nl").id,
            "phone_client_type_id": client_type.id,
        }
    )


def no_cron_commits(test):
    """Run batched crons inside the test's transaction: their progress commits nothing."""
    patcher = patch.object(type(test.env["ir.cron"]), "_commit_progress", lambda *a, **k: 1.0)
    patcher.start()
    test.addCleanup(patcher.stop)


def post_json(test, url, body, token, headers=None):
    """POST ``body`` (JSON unless bytes) as a PBX does; ``token`` False sends no secret."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"}
    if token is not False:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    return test.url_open(url, data=data, headers=all_headers, method="POST")


class PhoneCase(TransactionCase):
    """A company in Amsterdam with two desk phones, a client and a reviewer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = setup_company(
            cls.env,
            phone_default_country_id=False,
            phone_long_call_minutes=10,
            phone_reviewer_id=False,
        )
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
        cls.client = make_client(cls.env, cls.customer_type)
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
