from zoneinfo import ZoneInfo

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger
from odoo.tools.convert import convert_file

MODULE = "phone_call_accounting"
# Today's recorded demo calls (pbx/demo.py RECORDED_CALLS) and what they mention.
MENTIONS = {
    "lawyer_two_sided.wav": {"lawyer"},
    "cancel_order.wav": {"cancel"},
    "money_back.wav": {"refund"},
    "call_back.wav": set(),
}


@tagged("post_install", "-at_install")
class TestDemo(TransactionCase):
    """The demo as ``--with-demo`` installs it.

    The test run's database has no demo data: there the demo file is loaded
    in the test's transaction, with a stand-in for base's demo user, after
    clearing the company's time zone so that the demo must set it.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.ref("base.main_company")
        cls.pbx = cls.env.ref(f"{MODULE}.phone_pbx_demo_webhook", raise_if_not_found=False)
        if not cls.pbx:
            cls._load_demo()
            cls.pbx = cls.env.ref(f"{MODULE}.phone_pbx_demo_webhook")
        cls.calls = cls.env["phone.call"].search([("pbx_id", "=", cls.pbx.id)])

    @classmethod
    def _load_demo(cls):
        if not cls.env.ref("base.user_demo", raise_if_not_found=False):
            marc = new_test_user(cls.env, "demo", name="Marc Demo")
            cls.env["ir.model.data"].create(
                {"module": "base", "name": "user_demo", "model": "res.users", "res_id": marc.id}
            )
        cls.company.partner_id.tz = False
        convert_file(cls.env, MODULE, "demo/phone_call_demo.xml", {}, mode="init", noupdate=True)

    def test_demo_traffic_goes_through_ingestion(self):
        calls = self.calls
        self.assertGreaterEqual(len(calls), 100)
        self.assertEqual(set(calls.mapped("source")), {self.pbx._source()})
        self.assertFalse(self.env["phone.call"].search_count([("source", "=", "demo")]))
        self.assertEqual(set(calls.mapped("direction")), {"incoming", "outgoing", "internal"})
        self.assertEqual(
            set(calls.mapped("status")), {"answered", "missed", "busy", "failed", "unknown"}
        )
        self.assertTrue(calls.filtered("forwarded"))
        too_long = calls.filtered("is_too_long")
        self.assertTrue(too_long)
        self.assertTrue(all(too_long.mapped("review_scheduled")))
        demo_clients = {
            self.env.ref(f"{MODULE}.res_partner_demo_{name}")
            for name in ("bakery", "garage", "jansen", "schmidt")
        }
        self.assertTrue(set(calls.partner_id) - demo_clients, "unknown demo callers become clients")
        self.assertGreaterEqual(len(set(calls.mapped("call_date"))), 7)
        self.assertTrue(
            calls.filtered(lambda c: c.direction == "incoming" and not c.partner_id),
            "the withheld caller stays without client",
        )
        # Delivering the demo again changes nothing: same calls, same recordings.
        recorded = calls.filtered("recording")
        attachments = recorded.recording_attachment_id
        self.env["phone.call"]._demo_ingest()
        self.assertEqual(
            self.env["phone.call"].search_count([("pbx_id", "=", self.pbx.id)]), len(calls)
        )
        self.assertEqual(recorded.recording_attachment_id, attachments)

    def test_demo_shows_pbx_recordings_analysis_and_dial(self):
        self.assertEqual(self.pbx.kind, "webhook")
        self.assertTrue(self.pbx.active)
        # Click to dial finds the demo Asterisk and says plainly that it cannot reach it.
        dial_pbx = self.env["phone.pbx"]._dial_pbx(self.company)
        self.assertEqual(dial_pbx, self.env.ref(f"{MODULE}.phone_pbx_demo_asterisk"))
        self.assertEqual(dial_pbx.ami_host, "127.0.0.1")
        operator = self.env.ref(f"{MODULE}.user_demo_phone_operator")
        info = self.env["res.users"].with_user(operator).phone_dial_info()
        self.assertEqual(info, {"can_dial": True, "extension": "103"})
        with (
            mute_logger(f"odoo.addons.{MODULE}.models.phone_pbx"),
            self.assertRaisesRegex(UserError, "could not be rung"),
        ):
            operator.with_user(operator).action_phone_dial("+31205550101")

        recorded = self.calls.filtered("recording")
        self.assertEqual(set(recorded.mapped("recording")), set(MENTIONS))
        review = self.env.ref(f"{MODULE}.mail_activity_type_keyword_review")
        for call in recorded:
            with self.subTest(recording=call.recording):
                self.assertTrue(call.recording_downloaded)
                self.assertEqual(call.recording_state, "downloaded")
                self.assertEqual(call.recording_attachment_id.mimetype, "audio/wav")
                self.assertLess(call.recording_attachment_id.file_size, 100 * 1024)
                self.assertEqual(call.analysis_state, "done", call.analysis_error)
                self.assertTrue(call.transcript)
                self.assertGreater(call.audio_seconds, 2)
                self.assertAlmostEqual(
                    call.talk_seconds_measured + call.silence_seconds,
                    call.audio_seconds,
                    delta=0.05,
                )
                mentions = MENTIONS[call.recording]
                self.assertEqual(set(call.keyword_ids.mapped("name")), mentions)
                for word in mentions:
                    self.assertIn(word, call.transcript)
                reviews = call.activity_ids.filtered(lambda a, r=review: a.activity_type_id == r)
                flagged_for_review = any(call.keyword_ids.mapped("review"))
                self.assertEqual(len(reviews), 1 if flagged_for_review else 0)
        two_sided = recorded.filtered(lambda c: c.audio_channels == 2)
        self.assertEqual(two_sided.recording, "lawyer_two_sided.wav")
        self.assertAlmostEqual(
            two_sided.side_a_talk_share + two_sided.side_b_talk_share, 1.0, delta=0.01
        )
        self.assertGreater(two_sided.longest_silence, 0.8)

    def test_every_demo_extension_has_a_user_and_the_company_a_time_zone(self):
        extensions = set(self.calls.mapped("extension")) | set(self.calls.mapped("first_extension"))
        for call in self.calls.filtered(lambda c: c.direction == "internal"):
            extensions |= {call.from_number, call.to_number}
        extensions -= {False, ""}
        self.assertEqual(extensions, {"101", "102", "103"})
        users = self.env["res.users"]._phone_users_by_extension(extensions, self.company)
        self.assertEqual(set(users), extensions)
        for user in users.values():
            self.assertTrue(user.has_group(f"{MODULE}.group_phone_user"), user.name)
        answered = self.calls.filtered("extension")
        self.assertTrue(all(answered.mapped("user_id")))
        self.assertEqual(self.company.partner_id.tz, "Europe/Amsterdam")
        self.assertEqual(self.company._phone_timezone(), ZoneInfo("Europe/Amsterdam"))

    def test_every_outside_caller_of_the_demo_is_a_client(self):
        """A caller the demo shows answered several times can be opened as a client."""
        incoming = self.calls.filtered(lambda c: c.direction == "incoming" and c.client_number)
        self.assertTrue(incoming)
        self.assertFalse(incoming.filtered(lambda c: not c.partner_id).mapped("client_number"))

    def test_demo_pbx_shows_its_last_delivery(self):
        self.assertTrue(self.pbx.last_sync, "the webhook PBX delivered the demo's calls")
