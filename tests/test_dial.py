"""Click to dial through a fake Asterisk manager on 127.0.0.1."""

import time

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..pbx.testing.fake_ami import FakeOriginateAmiServer, closed_port
from .common import PhoneCase, make_pbx


@tagged("post_install", "-at_install")
class TestClickToDial(PhoneCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ami = FakeOriginateAmiServer(username="odoo", secret="ami-secret").start()
        cls.addClassCleanup(cls.ami.stop)
        cls.pbx = make_pbx(
            cls.env,
            name="Asterisk",
            kind="asterisk_ami",
            ami_host="127.0.0.1",
            ami_port=cls.ami.port,
            ami_username="odoo",
            ami_secret="ami-secret",
        )

    def setUp(self):
        super().setUp()
        self.ami.originate_reply = "success"
        self.ami.originate_message = None
        self.ami.originates.clear()

    def test_originate_rings_the_users_phone_then_dials_the_client(self):
        action = self.manager.with_user(self.manager).action_phone_dial("+31 20 555 0101")
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(action["params"]["title"], "Your phone is ringing")
        self.assertTrue(self.ami.wait_originates())
        [originate] = self.ami.originates
        self.assertEqual(originate.get("Channel"), "PJSIP/201")
        self.assertEqual(originate.get("Exten"), "0205550101")
        self.assertEqual(originate.get("Context"), "from-internal")
        self.assertEqual(originate.get("Priority"), "1")
        self.assertEqual(originate.get("Async"), "true")
        self.assertEqual(originate.get("Timeout"), "30000")
        self.assertEqual(originate.get("CallerID"), '"Mia Manager" <201>')
        self.assertTrue(originate.get("ActionID"))

    def test_pbx_settings_shape_the_originate(self):
        self.pbx.write(
            {
                "dial_channel_template": "SIP/{extension}",
                "dial_context": "outbound",
                "dial_prefix": "9",
                "dial_ring_seconds": 20,
            }
        )
        self.agent.with_user(self.agent).action_phone_dial("+44 20 7946 0958")
        self.assertTrue(self.ami.wait_originates())
        [originate] = self.ami.originates
        self.assertEqual(
            [originate.get(k) for k in ("Channel", "Exten", "Context", "Timeout")],
            ["SIP/202", "900442079460958", "outbound", "20000"],
        )

    def test_user_without_extension(self):
        self.agent.phone_extension = False
        with self.assertRaisesRegex(UserError, "You have no phone extension"):
            self.agent.with_user(self.agent).action_phone_dial("+31205550101")
        self.assertFalse(self.ami.originates)

    def test_only_for_oneself(self):
        with self.assertRaises(AccessError):
            self.manager.with_user(self.agent).action_phone_dial("+31205550101")

    def test_no_pbx_and_undiallable_number(self):
        with self.assertRaisesRegex(UserError, "cannot be dialled"):
            self.agent.with_user(self.agent).action_phone_dial("anonymous")
        self.pbx.active = False
        with self.assertRaisesRegex(UserError, "No active Asterisk PBX"):
            self.agent.with_user(self.agent).action_phone_dial("+31205550101")

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_pbx")
    def test_unreachable_pbx_is_a_clear_error(self):
        self.pbx.ami_port = closed_port()
        started = time.monotonic()
        with self.assertRaisesRegex(
            UserError, r"Your phone could not be rung: the PBX .* cannot be reached"
        ) as caught:
            self.agent.with_user(self.agent).action_phone_dial("+31205550101")
        self.assertLess(time.monotonic() - started, 2)
        # The system's words (address, errno) are for the log, not the user.
        self.assertNotIn("127.0.0.1", str(caught.exception))
        self.assertNotIn("Errno", str(caught.exception))

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_pbx")
    def test_refused_login_and_refused_originate(self):
        self.pbx.ami_secret = "wrong"
        with self.assertRaisesRegex(UserError, "refused the connection's user name or secret"):
            self.agent.with_user(self.agent).action_phone_dial("+31205550101")
        self.pbx.ami_secret = "ami-secret"
        self.ami.originate_reply = "error"
        self.ami.originate_message = "Extension does not exist."
        with self.assertRaisesRegex(UserError, "refused to dial this number"):
            self.agent.with_user(self.agent).action_phone_dial("+31205550101")

    def test_dial_info(self):
        info = self.env["res.users"].with_user(self.agent).phone_dial_info()
        self.assertEqual(info, {"can_dial": True, "extension": "202"})
        self.agent.phone_extension = False
        info = self.env["res.users"].with_user(self.agent).phone_dial_info()
        self.assertEqual(info, {"can_dial": False, "extension": False})

    def test_the_resulting_call_is_logged_once(self):
        """The listener delivers the originated call as an outgoing call from 201."""
        self.manager.with_user(self.manager).action_phone_dial("+31205550101")
        outgoing = self.call(
            external_id="1732701234.99",
            direction="outgoing",
            from_number="201",
            to_number="0205550101",
            extension="201",
        )
        first = self.Call._ingest_calls([outgoing], pbx=self.pbx)
        again = self.Call._ingest_calls([outgoing | {"talk_seconds": 99}], pbx=self.pbx)
        self.assertEqual([first[0]["result"], again[0]["result"]], ["created", "updated"])
        calls = self.Call.search([("pbx_id", "=", self.pbx.id)])
        self.assertEqual(len(calls), 1)
        self.assertEqual(
            (calls.direction, calls.partner_id, calls.user_id, calls.talk_seconds),
            ("outgoing", self.client, self.manager, 99),
        )

    def test_call_form_shows_the_client_number_with_the_phone_widget(self):
        arch = self.env["phone.call"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('<field name="client_number" widget="phone"', arch)
