"""Ringing pop-up: a PBX posts a ringing event, the ringing users get a bus message."""

import hashlib
import hmac
import json
from datetime import UTC, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..models.phone_pbx_ringing import float_time
from ..pbx.testing.fake_ami import FakeOriginateAmiServer
from .common import make_client, make_pbx, post_json, setup_company

RINGING = "phone_call_accounting/ringing"


def _as_listed(call):
    """Call Date and Call Time as the calls list shows them to an English user."""
    return f"{call.call_date.strftime('%m/%d/%Y')} {float_time(call.call_time)}"


@tagged("post_install", "-at_install")
class TestRinging(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = setup_company(cls.env)
        cls.pbx = make_pbx(cls.env, country_id=cls.env.ref("base.nl").id)
        cls.url = f"/phone_call_accounting/pbx/{cls.pbx.id}/ringing"
        cls.agent = new_test_user(
            cls.env,
            "ring_agent",
            groups="phone_call_accounting.group_phone_user,base.group_partner_manager",
            name="Rita Ringer",
        )
        cls.agent.phone_extension = "201"
        cls.colleague = new_test_user(
            cls.env, "ring_colleague", groups="phone_call_accounting.group_phone_user"
        )
        cls.colleague.phone_extension = "202"
        cls.customer_type = cls.env.ref("phone_call_accounting.phone_client_type_customer")
        cls.client = make_client(cls.env, cls.customer_type)
        start = fields.Datetime.now() - timedelta(days=1)
        calls = [
            {
                "external_id": f"ring-history-{n}",
                "direction": "incoming" if n % 2 else "outgoing",
                "status": "answered" if n != 2 else "missed",
                "from_number": "+31205550101" if n % 2 else "201",
                "to_number": "+31207940100" if n % 2 else "+31205550101",
                "extension": "201",
                "start": (start + timedelta(hours=n)).isoformat() + "+00:00",
                "ring_seconds": 3,
                "talk_seconds": 0 if n == 2 else 60 + n,
            }
            for n in range(5)
        ]
        results = cls.env["phone.call"]._ingest_calls(calls)
        assert all(r["result"] == "created" for r in results), results
        cls.history = cls.env["phone.call"].browse([r["call_id"] for r in results])

    def post(self, event, token=None, headers=None, url=None):
        token = token if token is False else token or self.pbx.token
        return post_json(self, url or self.url, event, token, headers)

    def ringing_messages(self, user=None):
        """The ringing bus messages (payloads) to ``user``'s partner channel."""
        self.env.cr.precommit.run()  # the bus writes its records at commit
        messages = self.env["bus.bus"].sudo().search([], order="id")
        payloads = []
        for record in messages:
            message = json.loads(record.message)
            if message["type"] != RINGING:
                continue
            channel = json.loads(record.channel)
            if user is None or channel[1:3] == ["res.partner", user.partner_id.id]:
                payloads.append(message["payload"])
        return payloads

    def test_pbx_form_gives_the_ringing_url(self):
        base = self.env["ir.config_parameter"].get_param("web.base.url")
        self.assertEqual(self.pbx.ringing_url, base + self.url)
        self.assertEqual(self.pbx.webhook_url, base + self.url.replace("/ringing", "/calls"))

    def test_known_client_pops_up_with_type_and_last_three_calls(self):
        partners_before = self.env["res.partner"].search_count([])
        response = self.post(
            {
                "from_number": "020 555 0101",
                "to_number": "+31207940100",
                "extensions": ["201"],
                "call_id": "1732701234.56",
            }
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json(), {"result": "sent", "notified": 1, "unknown_extensions": []}
        )
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual(payload["number"], "+31 20 555 0101")
        self.assertEqual(payload["number_e164"], "+31205550101")
        self.assertEqual(payload["partner_id"], self.client.id)
        self.assertEqual(payload["partner_name"], "Bakkerij Korst")
        self.assertEqual(payload["call_id"], "1732701234.56")
        self.assertEqual(payload["extension"], "201")
        self.assertEqual(
            payload["client_type"],
            {
                "id": self.customer_type.id,
                "name": self.customer_type.name,
                "image_url": f"/web/image/phone.client.type/{self.customer_type.id}/image",
            },
        )
        self.assertTrue(payload["can_open"])
        self.assertFalse(payload["can_create"])
        newest = self.history.sorted("call_start", reverse=True)[:3]
        self.assertEqual([c["id"] for c in payload["last_calls"]], newest.ids)
        self.assertEqual(
            payload["last_calls"][2],
            {
                "id": newest[2].id,
                "start": fields.Datetime.to_string(newest[2].call_start),
                "when": _as_listed(newest[2]),
                "direction": "outgoing",
                "direction_label": "Outgoing",
                "status": "missed",
                "status_label": "Missed",
                "talk_seconds": 0,
            },
        )
        # Nothing stored: no call, no partner, and nobody else was told.
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)
        self.assertFalse(self.env["phone.call"].search([("external_id", "=", "1732701234.56")]))
        self.assertFalse(self.ringing_messages(self.colleague))
        # The client's image URL serves the picture to the user.
        self.authenticate("ring_agent", "ring_agent")
        image = self.url_open(payload["client_type"]["image_url"])
        self.assertEqual(image.status_code, 200)
        self.assertTrue(image.headers["Content-Type"].startswith("image/"))

    def test_unknown_number_offers_to_create_and_creates_nothing(self):
        partners_before = self.env["res.partner"].search_count([])
        response = self.post({"from_number": "+31612345678", "extensions": ["201", "202"]})
        self.assertEqual(response.json()["notified"], 2)
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)
        self.assertFalse(payload["partner_id"])
        self.assertFalse(payload["partner_name"])
        self.assertFalse(payload["client_type"])
        self.assertEqual(payload["last_calls"], [])
        self.assertTrue(payload["can_create"])
        self.assertFalse(payload["can_open"])
        self.assertEqual(
            payload["create_defaults"],
            {
                "default_phone": "+31612345678",
                "default_phone_client_type_id": self.company.phone_default_client_type_id.id,
                "default_country_id": self.env.ref("base.nl").id,
            },
        )
        # The colleague may not create contacts: no button for them.
        [other] = self.ringing_messages(self.colleague)
        self.assertFalse(other["can_create"])

    def test_internal_and_withheld_callers(self):
        self.post({"from_number": "202", "extensions": ["201"]})
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual(
            (payload["kind"], payload["colleague_name"], payload["can_create"]),
            ("internal", self.colleague.name, False),
        )
        self.post({"from_number": "anonymous", "extensions": ["201"], "call_id": "w"})
        withheld = self.ringing_messages(self.agent)[-1]
        self.assertEqual((withheld["kind"], withheld["can_create"]), ("anonymous", False))
        # The company's own number is never a client.
        self.post({"from_number": "+31207940100", "extensions": ["201"], "call_id": "own"})
        own = self.ringing_messages(self.agent)[-1]
        self.assertFalse(own["partner_id"] or own["can_create"])
        self.assertEqual(own["no_create_reason"], "One of the company's own numbers.")
        self.assertFalse(payload["no_create_reason"] or withheld["no_create_reason"])

    def test_any_unknown_outside_number_may_become_a_client(self):
        """A mobile number that phonenumbers does not list (+31 6 9999 ...) is a
        caller all the same: Create client, the country from its country code."""
        self.post({"from_number": "+31 6 9999 0000", "extensions": ["201", "202"]})
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual(payload["number"], "+31 6 99990000")
        self.assertTrue(payload["can_create"])
        self.assertFalse(payload["no_create_reason"])
        self.assertEqual(payload["create_defaults"]["default_phone"], "+31699990000")
        self.assertEqual(
            payload["create_defaults"]["default_country_id"], self.env.ref("base.nl").id
        )
        # Who may not create contacts is told why there is no button.
        [other] = self.ringing_messages(self.colleague)
        self.assertFalse(other["can_create"])
        self.assertEqual(
            other["no_create_reason"],
            "You may not create contacts: ask a colleague to add this caller.",
        )
        # The same as a national number, as the PBX may give it.
        self.post({"from_number": "0699990000", "extensions": ["201"], "call_id": "national"})
        self.assertTrue(self.ringing_messages(self.agent)[-1]["can_create"])

    def test_last_calls_are_dated_as_the_calls_list(self):
        """Each last call in the company's call time zone, 24-hour time, exactly as the
        list shows its Call Date and Call Time, whatever the user's own zone."""
        self.agent.tz = "America/New_York"
        self.post({"from_number": "020 555 0101", "extensions": ["201"]})
        [payload] = self.ringing_messages(self.agent)
        newest = self.history.sorted("call_start", reverse=True)[:3]
        for shown, call in zip(payload["last_calls"], newest, strict=True):
            local = call.call_start.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
            self.assertEqual(shown["when"], local.strftime("%m/%d/%Y %H:%M:%S"))
            self.assertEqual(shown["when"], _as_listed(call))
        # In the user's language: Korean dates are written year first.
        self.env["res.lang"]._activate_lang("ko_KR")
        self.agent.lang = "ko_KR"
        self.post({"from_number": "020 555 0101", "extensions": ["201"], "call_id": "ko"})
        korean = self.ringing_messages(self.agent)[-1]["last_calls"][0]["when"]
        self.assertTrue(korean.startswith(str(newest[0].call_date.year)), korean)
        self.assertTrue(korean.endswith(float_time(newest[0].call_time)), korean)

    def test_hmac_signature_and_unknown_extension(self):
        body = json.dumps({"from_number": "0205550101", "extensions": ["299"]}).encode()
        signature = hmac.new(self.pbx.token.encode(), body, hashlib.sha256).hexdigest()
        response = self.post(body, token=False, headers={"X-Signature": f"sha256={signature}"})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json(), {"result": "nobody", "notified": 0, "unknown_extensions": ["299"]}
        )
        self.assertFalse(self.ringing_messages())

    @mute_logger("odoo.http")
    def test_wrong_secret_sends_nothing(self):
        event = {"from_number": "0205550101", "extensions": ["201"]}
        self.assertEqual(self.post(event, token=False).status_code, 401)
        self.assertEqual(self.post(event, token="not-the-token").status_code, 403)
        forged = {"X-Signature": "sha256=" + "0" * 64}
        self.assertEqual(self.post(event, token=False, headers=forged).status_code, 403)
        other = make_pbx(self.env, name="Other PBX")
        wrong = f"/phone_call_accounting/pbx/{other.id}/ringing"
        self.assertEqual(self.post(event, url=wrong).status_code, 403)
        self.pbx.active = False
        self.assertEqual(self.post(event).status_code, 403)
        self.assertFalse(self.ringing_messages())

    def test_bad_events_get_400_and_big_bodies_413(self):
        for bad in (
            b"{nope",
            b"[]",
            {"extensions": []},
            {"extensions": [True]},
            {"extensions": ["201"], "from_number": {"x": 1}},
            {"extensions": ["201"], "call_id": "a\nb"},
        ):
            response = self.post(bad)
            self.assertEqual(response.status_code, 400, bad)
            self.assertIn("error", response.json())
        big = {"extensions": ["201"], "call_id": "x" * 70000}
        self.assertEqual(self.post(big).status_code, 413)
        self.assertFalse(self.ringing_messages())

    def get(self, query, token=None, headers=None):
        """3CX's contact lookup: a GET with the values in the query string."""
        all_headers = {"Authorization": f"Bearer {token or self.pbx.token}"}
        all_headers.update(headers or {})
        return self.url_open(f"{self.url}?{urlencode(query)}", headers=all_headers)

    def assert_ignored(self, response, reason):
        self.assertEqual(response.status_code, 200, response.text)
        answer = response.json()
        self.assertEqual((answer["result"], answer["notified"]), ("ignored", 0), answer)
        self.assertIn(reason, answer["reason"])

    def test_yeastar_call_status_pops_up_the_ringing_extension(self):
        self.pbx.webhook_format = "yeastar"
        members = [
            {
                "inbound": {
                    "from": "0205550101",
                    "to": "0207940100",
                    "trunk_name": "KPN",
                    "channel_id": "PJSIP/trunk-KPN-endpoint-000000c2",
                    "member_status": "ALERT",
                    "call_path": "",
                }
            },
            {
                "extension": {
                    "number": "201",
                    "channel_id": "PJSIP/201-000000c3",
                    "member_status": "RING",
                    "call_path": "",
                }
            },
        ]
        status = {
            "type": 30011,
            "sn": "3631A2124XXX",
            "msg": json.dumps({"call_id": "1648863604.293", "members": members}),
        }
        response = self.post(status)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(
            response.json(), {"result": "sent", "notified": 1, "unknown_extensions": []}
        )
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual(
            (payload["partner_id"], payload["call_id"], payload["extension"]),
            (self.client.id, "1648863604.293", "201"),
        )
        # Answered, the CDR event and a native event (still read in any format).
        members[1]["extension"]["member_status"] = "ANSWER"
        answered = status | {"msg": json.dumps({"call_id": "1648863604.293", "members": members})}
        self.assert_ignored(self.post(answered), "no extension rings")
        self.assert_ignored(self.post({"type": 30012, "msg": "{}"}), "not 30011")
        self.assertEqual(len(self.ringing_messages(self.agent)), 1)
        native = self.post({"from_number": "0205550101", "extensions": ["202"]})
        self.assertEqual(native.json()["notified"], 1)
        # Not a Yeastar event at all.
        bad = self.post({"type": 30011, "msg": "{oops"})
        self.assertEqual(bad.status_code, 400)
        self.assertIn("not valid JSON", bad.json()["error"])

    def test_3cx_contact_lookup_pops_up_the_agent(self):
        self.pbx.webhook_format = "3cx"
        lookup = {"Number": "+31205550101", "CallDirection": "Inbound", "Agent": "201"}
        response = self.get(lookup)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["result"], "sent")
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual((payload["partner_id"], payload["extension"]), (self.client.id, "201"))
        self.assert_ignored(self.get(lookup | {"CallDirection": "Outbound"}), "outbound")
        self.assert_ignored(self.get(lookup | {"Agent": "[Agent]"}), "no agent")
        # A template posting its values (JSON) rings the same way.
        posted = self.post(lookup | {"Agent": "202"})
        self.assertEqual(posted.json()["notified"], 1, posted.text)
        self.assertEqual(len(self.ringing_messages(self.colleague)), 1)
        # A template without the agent is a mistake to fix, not a call to ignore.
        missing = self.get({"Number": "+31205550101"})
        self.assertEqual(missing.status_code, 400)
        self.assertIn("'agent'", missing.json()["error"])

    @mute_logger("odoo.http")
    def test_3cx_lookup_needs_a_bearer_token_and_the_3cx_format(self):
        lookup = {"Number": "+31205550101", "Agent": "201"}
        signed = self.url_open(
            f"{self.url}?{urlencode(lookup)}", headers={"X-Signature": "sha256=" + "0" * 64}
        )
        self.assertEqual(signed.status_code, 401)
        self.assertEqual(self.get(lookup, token="not-the-token").status_code, 403)
        # The PBX posts native events: a GET is none of its ringing events.
        refused = self.get(lookup)
        self.assertEqual(refused.status_code, 405)
        self.assertEqual(
            refused.json()["error"], "the native format posts its events; only 3CX looks up"
        )
        self.assertEqual(self.get(lookup | {"format": "3cx"}).json()["result"], "sent")
        self.assertEqual(len(self.ringing_messages(self.agent)), 1)

    def test_freeswitch_progress_towards_a_desk_phone(self):
        self.pbx.write({"webhook_format": "freeswitch", "trunk_patterns": "^sofia/external/"})
        progress = {
            "Event-Name": "CHANNEL_PROGRESS",
            "Channel-Call-State": "RINGING",
            "Channel-Name": "sofia/internal/201@192.168.1.20:5060",
            "Unique-ID": "b2f8e0a6-1c2d-4c6e-9a7b-0f1e2d3c4b5a",
            "Call-Direction": "outbound",
            "Answer-State": "ringing",
            "Caller-Caller-ID-Number": "0205550101",
            "Caller-Destination-Number": "201",
            "Other-Leg-Unique-ID": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
            "Other-Leg-Destination-Number": "0207940100",
            "variable_dialed_user": "201",
            "variable_call_uuid": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
        }
        response = self.post(progress)
        self.assertEqual(response.json()["result"], "sent", response.text)
        [payload] = self.ringing_messages(self.agent)
        self.assertEqual(
            (payload["partner_id"], payload["call_id"]),
            (self.client.id, "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d"),
        )
        trunk = progress | {"Channel-Name": "sofia/external/0612345678@sip.example"}
        self.assert_ignored(self.post(trunk), "is a trunk")
        self.assert_ignored(self.post(progress | {"Call-Direction": "inbound"}), "own channel")
        self.assert_ignored(self.post(progress | {"Event-Name": "CHANNEL_ANSWER"}), "not a ring")
        self.assertEqual(len(self.ringing_messages()), 1)
        bad = self.post({"Unique-ID": "x"})
        self.assertEqual(bad.status_code, 400)
        self.assertIn("Event-Name", bad.json()["error"])

    def test_format_in_the_query_and_unknown_formats(self):
        event = {
            "Event-Name": "CHANNEL_CREATE",
            "Call-Direction": "outbound",
            "Channel-Name": "sofia/internal/202@pbx",
            "Caller-Caller-ID-Number": "201",
            "Caller-Destination-Number": "202",
            "Unique-ID": "leg-b",
        }
        response = self.post(event, url=self.url + "?format=freeswitch")
        self.assertEqual(response.json()["notified"], 1, response.text)
        [payload] = self.ringing_messages(self.colleague)
        self.assertEqual(
            (payload["kind"], payload["colleague_name"]), ("internal", self.agent.name)
        )
        unknown = self.post(event, url=self.url + "?format=avaya")
        self.assertEqual(unknown.status_code, 400)
        self.assertIn("unknown format", unknown.json()["error"])


@tagged("post_install", "-at_install")
class TestRingingTour(HttpCase):
    def test_ringing_popup_open_client_dial_and_create(self):
        admin = self.env.ref("base.user_admin")
        admin.phone_extension = "201"
        self.env.company.write({"country_id": self.env.ref("base.nl").id})
        customer = self.env.ref("phone_call_accounting.phone_client_type_customer")
        client = self.env["res.partner"].create(
            {"name": "Tour Client", "phone": "+31205550999", "phone_client_type_id": customer.id}
        )
        start = fields.Datetime.now() - timedelta(hours=4)
        self.env["phone.call"]._ingest_calls(
            [
                {
                    "external_id": f"tour-ring-history-{n}",
                    "direction": "incoming",
                    "status": "answered",
                    "from_number": "+31205550999",
                    "to_number": "+31207940100",
                    "extension": "201",
                    "start": (start + timedelta(minutes=n)).isoformat() + "+00:00",
                    "ring_seconds": 4,
                    "talk_seconds": 30 + n,
                }
                for n in range(4)
            ]
        )
        self.assertEqual(client.phone_call_count, 4)
        ami = FakeOriginateAmiServer(username="odoo", secret="ami-secret").start()
        self.addCleanup(ami.stop)
        make_pbx(
            self.env,
            name="Tour Ringing PBX",
            kind="asterisk_ami",
            country_id=self.env.ref("base.nl").id,
            ami_host="127.0.0.1",
            ami_port=ami.port,
            ami_username="odoo",
            ami_secret="ami-secret",
        )
        partners = self.env["res.partner"].search_count([])
        self.start_tour("/odoo", "phone_call_accounting_ringing_tour", login="admin")
        [originate] = ami.originates
        self.assertEqual(
            [originate.get(k) for k in ("Channel", "Exten", "Context")],
            ["PJSIP/201", "0205550999", "from-internal"],
        )
        # Ringing events created nothing; the tour left the new contact unsaved.
        self.assertEqual(self.env["res.partner"].search_count([]), partners)
