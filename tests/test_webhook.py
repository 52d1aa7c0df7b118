import hashlib
import hmac
import json

from odoo.exceptions import AccessError
from odoo.modules.neutralize import neutralize_database
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..pbx import vendors
from .common import make_pbx, post_json

CALL = {
    "external_id": "wh-1",
    "direction": "incoming",
    "status": "answered",
    "from_number": "020 555 0101",
    "to_number": "201",
    "extension": "201",
    "start": "2026-11-27T09:15:00+01:00",
    "ring_seconds": 4,
    "talk_seconds": 61,
}


@tagged("post_install", "-at_install")
class TestWebhook(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.us")
        cls.pbx = make_pbx(cls.env, country_id=cls.env.ref("base.nl").id)
        cls.token = cls.pbx.token
        cls.url = f"/phone_call_accounting/pbx/{cls.pbx.id}/calls"
        cls.Call = cls.env["phone.call"]

    def post(self, body, headers=None, url=None, token=None):
        token = token if token is False else token or self.token
        return post_json(self, url or self.url, body, token, headers)

    def calls(self, external_id):
        return self.Call.search([("external_id", "=", external_id), ("pbx_id", "=", self.pbx.id)])

    def test_bearer_token_creates_then_updates(self):
        response = self.post({"calls": [CALL]})
        self.assertEqual(response.status_code, 200, response.text)
        [result] = response.json()["results"]
        self.assertEqual(result["result"], "created")
        call = self.calls("wh-1")
        self.assertEqual(call.id, result["call_id"])
        self.assertEqual(call.source, f"pbx-{self.pbx.id}")
        # The PBX's country places the national number (the company is American).
        self.assertEqual(call.client_number, "+31205550101")
        again = self.post([CALL | {"talk_seconds": 70}]).json()["results"]
        self.assertEqual(again[0]["result"], "updated")
        self.assertEqual(len(self.calls("wh-1")), 1)
        self.assertEqual(self.calls("wh-1").talk_seconds, 70)

    def test_hmac_signature(self):
        body = json.dumps([CALL | {"external_id": "wh-signed"}]).encode()
        signature = hmac.new(self.token.encode(), body, hashlib.sha256).hexdigest()
        response = self.post(body, headers={"X-Signature": f"sha256={signature}"}, token=False)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(self.calls("wh-signed"))
        forged = self.post(body, headers={"X-Signature": "sha256=" + "0" * 64}, token=False)
        self.assertEqual(forged.status_code, 403)

    @mute_logger("odoo.http")
    def test_missing_or_wrong_secret_writes_nothing(self):
        before = self.Call.search_count([])
        self.assertEqual(self.post([CALL], token=False).status_code, 401)
        self.assertEqual(self.post([CALL], token="not-the-token").status_code, 403)
        other = make_pbx(self.env, name="Other PBX")
        wrong_pbx = f"/phone_call_accounting/pbx/{other.id}/calls"
        self.assertEqual(self.post([CALL], url=wrong_pbx).status_code, 403)
        self.assertEqual(
            self.post([CALL], url="/phone_call_accounting/pbx/999999/calls").status_code, 403
        )
        self.pbx.active = False
        self.assertEqual(self.post([CALL]).status_code, 403)
        self.assertEqual(self.Call.search_count([]), before)

    def test_bad_input_gets_4xx_never_500(self):
        response = self.post(b"{not json")
        self.assertEqual(response.status_code, 400)
        self.assertIn("not valid JSON", response.json()["error"])
        self.assertEqual(self.post(b'"just text"').status_code, 400)
        unknown = self.post([CALL], url=self.url + "?format=avaya")
        self.assertEqual(unknown.status_code, 400)
        self.assertEqual(
            unknown.json()["error"],
            "unknown format 'avaya'; use one of native, yeastar, 3cx, freeswitch",
        )
        self.env["ir.config_parameter"].sudo().set_param(
            "phone_call_accounting.webhook_max_bytes", "200"
        )
        big = self.post({"calls": [CALL] * 10})
        self.assertEqual(big.status_code, 413)

    def test_per_item_results(self):
        items = [
            CALL | {"external_id": "good"},
            CALL | {"external_id": "bad", "status": "ringing"},
            7,
        ]
        response = self.post({"calls": items})
        self.assertEqual(response.status_code, 200)
        results = response.json()["results"]
        self.assertEqual([r["result"] for r in results], ["created", "rejected", "rejected"])
        self.assertIn("status 'ringing'", results[1]["reason"])
        self.assertTrue(self.calls("good"))
        self.assertFalse(self.calls("bad"))

    def test_item_cannot_choose_another_source(self):
        victim = self.Call._ingest_calls([CALL | {"external_id": "v1"}], source="pbx-other")[0]
        self.post([CALL | {"external_id": "v1", "source": "pbx-other", "talk_seconds": 1}])
        self.assertEqual(self.Call.browse(victim["call_id"]).talk_seconds, 61)

    def test_the_formats_offered_are_the_core_registry(self):
        """The PBX's format choice is pbx/vendors.py's registry, labels and all."""
        field = self.env["phone.pbx"]._fields["webhook_format"]
        self.assertEqual(field.selection, vendors.selection())
        self.assertEqual(
            self.env["phone.pbx"].default_get(["webhook_format"]), {"webhook_format": "native"}
        )

    def test_yeastar_3cx_and_freeswitch_formats(self):
        self.pbx.webhook_format = "yeastar"
        yeastar = {
            "type": 30012,
            "sn": "X",
            "msg": json.dumps(
                {
                    "call_id": "1.2",
                    "uid": "y-1",
                    "time_start": "2026-11-27 10:00:00",
                    "call_from": "0612345678",
                    "call_to": "201",
                    "call_duration": 30,
                    "talk_duration": 25,
                    "status": "ANSWERED",
                    "type": "Inbound",
                    "did_number": "0207940100",
                }
            ),
        }
        self.assertEqual(self.post(yeastar).json()["results"][0]["result"], "created")
        call = self.calls("y-1")
        self.assertEqual(
            (call.direction, call.status, call.talk_seconds), ("incoming", "answered", 25)
        )
        self.assertEqual(call.call_start.hour, 9, "10:00 Amsterdam is 09:00 UTC")
        self.assertEqual(call.client_number, "+31612345678")

        threecx = {
            "CallType": "Missed",
            "Number": "+31612345678",
            "Agent": "202",
            "Duration": "00:00:00",
            "CallStartTimeUTC": "2026-11-27T11:00:00Z",
            "CallId": "3cx-1",
        }
        result = self.post(threecx, url=self.url + "?format=3cx").json()["results"][0]
        self.assertEqual(result["result"], "created")
        self.assertEqual(self.calls("3cx-1").status, "missed")

        hangup = {
            "Event-Name": "CHANNEL_HANGUP_COMPLETE",
            "Unique-ID": "fs-1",
            "Channel-Name": "sofia/internal/201@pbx",
            "Caller-Caller-ID-Number": "201",
            "Caller-Destination-Number": "0612345678",
            "Hangup-Cause": "USER_BUSY",
            "variable_start_epoch": "1795770000",
            "variable_answer_epoch": "0",
            "variable_duration": "9",
        }
        result = self.post(hangup, url=self.url + "?format=freeswitch").json()["results"][0]
        self.assertEqual(result["result"], "created", result)
        call = self.calls("fs-1")
        self.assertEqual((call.direction, call.status, call.extension), ("outgoing", "busy", "201"))

        bad = self.post({"type": 30011, "msg": {}}).json()["results"][0]
        self.assertEqual(bad["result"], "rejected")
        self.assertIn("not 30012", bad["reason"])

    def test_yeastar_s_series_new_cdr(self):
        """A Yeastar S-Series / Cloud PBX NewCdr, recognised from its body."""
        self.pbx.webhook_format = "yeastar"
        new_cdr = {
            "event": "NewCdr",
            "callid": "1589959139.2135",
            "timestart": "2026-11-27 10:18:59",
            "callfrom": "0612345678",
            "callto": "202",
            "callduraction": "40",
            "talkduraction": "31",
            "srctrunkname": "KPN",
            "dsttrcunkname": "",
            "pincode": "",
            "status": "ANSWERED",
            "type": "Inbound",
            "recording": "20261127101859-1589959139.2135-0612345678-202-Inbound.wav",
            "didnumber": "0207940100",
            "agentringtime": "6",
            "sn": "369451090405",
        }
        outbound = new_cdr | {
            "callid": "1589959200.2140",
            "callfrom": "201",
            "callto": "0205550101",
            "talkduraction": "0",
            "status": "NO ANSWER",
            "type": "Outbound",
            "recording": "",
            "didnumber": "",
        }
        response = self.post([new_cdr, outbound, new_cdr | {"callid": "", "type": "Inbound"}])
        self.assertEqual(response.status_code, 200, response.text)
        results = response.json()["results"]
        self.assertEqual([r["result"] for r in results], ["created", "created", "rejected"])
        self.assertIn("no callid", results[2]["reason"])

        call = self.calls("1589959139.2135")
        self.assertEqual(
            (call.direction, call.status, call.extension, call.from_number, call.to_number),
            ("incoming", "answered", "202", "06 12345678", "020 794 0100"),
        )
        self.assertEqual(call.client_number, "+31612345678")
        self.assertEqual(str(call.call_start), "2026-11-27 09:18:59", "10:18:59 in Amsterdam")
        self.assertEqual((call.ring_seconds, call.talk_seconds), (9, 31))
        self.assertEqual(call.recording, new_cdr["recording"])

        missed = self.calls("1589959200.2140")
        self.assertEqual(
            (missed.direction, missed.status, missed.extension, missed.talk_seconds),
            ("outgoing", "missed", "201", 0),
        )
        self.assertEqual(missed.client_number, "+31205550101")
        # Delivered again (Yeastar retries): the same call, updated, never doubled.
        again = self.post(new_cdr | {"talkduraction": "32"}).json()["results"]
        self.assertEqual(again[0]["result"], "updated")
        self.assertEqual(self.calls("1589959139.2135").talk_seconds, 32)

    def test_secrets_for_managers_only(self):
        user = new_test_user(
            self.env, "phone_reader", groups="phone_call_accounting.group_phone_user"
        )
        pbx = self.pbx.with_user(user)
        self.assertEqual(pbx.name, "Test PBX")
        with self.assertRaises(AccessError):
            pbx.read(["token"])
        with self.assertRaises(AccessError):
            pbx.read(["ami_secret"])
        self.assertTrue(
            self.pbx.with_user(self.env.ref("base.user_admin")).read(["token"])[0]["token"]
        )

    def test_neutralize_switches_pbx_off(self):
        # Odoo's own neutralisation, as `odoo neutralize` runs it on a copy.
        neutralize_database(self.env.cr)
        self.pbx.invalidate_recordset()
        self.assertFalse(self.pbx.active)
        self.assertFalse(self.pbx.sudo().token)
        self.assertEqual(self.post([CALL]).status_code, 403)
