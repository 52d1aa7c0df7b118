from odoo.tests import Form, HttpCase, TransactionCase, tagged

from .common import make_pbx


@tagged("post_install", "-at_install")
class TestPbxToken(HttpCase):
    def test_new_token_is_shown_once_to_be_copied(self):
        pbx = make_pbx(self.env, token="old-token-0123456789")
        action = pbx.action_regenerate_token()
        self.assertNotEqual(pbx.token, "old-token-0123456789")
        self.assertEqual(action["res_model"], "phone.pbx.token")
        self.assertEqual(action["target"], "new")
        shown = self.env["phone.pbx.token"].browse(action["res_id"])
        self.assertEqual(shown.token, pbx.token)
        self.assertEqual(shown.webhook_url, pbx.webhook_url)

    def test_manager_reveals_copies_and_renews_the_token(self):
        pbx = make_pbx(self.env, token="tour-old-token-0123456789")
        self.start_tour(
            f"/odoo/action-phone_call_accounting.phone_pbx_action/{pbx.id}",
            "phone_pbx_token_tour",
            login="admin",
        )
        self.assertNotEqual(pbx.token, "tour-old-token-0123456789")


@tagged("post_install", "-at_install")
class TestPbxLastDelivery(HttpCase):
    def test_a_delivery_is_noted_at_most_once_a_minute(self):
        pbx = make_pbx(self.env)
        self.assertFalse(pbx.last_sync)
        item = {
            "external_id": "last-sync-1",
            "direction": "incoming",
            "status": "missed",
            "from_number": "+31205550177",
            "start": "2026-11-20T09:00:00Z",
        }
        pbx._ingest([item])
        first = pbx.last_sync
        self.assertTrue(first, "a webhook delivery sets Last Delivery")
        pbx._ingest([dict(item, external_id="last-sync-2")])
        self.assertEqual(pbx.last_sync, first, "not written again within the minute")


@tagged("post_install", "-at_install")
class TestPbxTrunkWarning(TransactionCase):
    def test_a_cdr_pbx_without_trunk_patterns_is_warned_about(self):
        form = Form(self.env["phone.pbx"])
        form.name = "CDR without trunks"
        form.kind = "cdr_file"
        self.assertTrue(form.trunk_patterns_missing)
        form.trunk_patterns = "  \n"
        self.assertTrue(form.trunk_patterns_missing, "blank lines are no pattern")
        form.trunk_patterns = "^PJSIP/provider-"
        self.assertFalse(form.trunk_patterns_missing)
        form.trunk_patterns = False
        form.kind = "asterisk_ami"  # the listener has its own trunks (listen.json)
        self.assertFalse(form.trunk_patterns_missing)
        form.kind = "cdr_database"
        self.assertTrue(form.trunk_patterns_missing)
