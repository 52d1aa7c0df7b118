from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged, users

from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestSecurity(PhoneCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_company = cls.env["res.company"].create({"name": "Branch Office"})
        cls.plain = new_test_user(cls.env, "plain_employee", groups="base.group_user")
        cls.home_call = cls.Call.browse(
            cls.Call._ingest_calls(
                [
                    {
                        "external_id": "home",
                        "direction": "incoming",
                        "status": "answered",
                        "from_number": "+31205550101",
                        "start": "2026-11-20T10:00:00Z",
                        "talk_seconds": 10,
                    }
                ]
            )[0]["call_id"]
        )
        cls.branch_call = cls.Call.browse(
            cls.Call._ingest_calls(
                [
                    {
                        "external_id": "branch",
                        "direction": "incoming",
                        "status": "missed",
                        "from_number": "+31205550101",
                        "start": "2026-11-20T10:00:00Z",
                    }
                ],
                company=cls.other_company,
            )[0]["call_id"]
        )

    def test_privilege_and_groups(self):
        user_group = self.env.ref("phone_call_accounting.group_phone_user")
        manager_group = self.env.ref("phone_call_accounting.group_phone_manager")
        self.assertEqual(user_group.privilege_id.name, "Phone")
        self.assertIn(user_group, manager_group.implied_ids)
        self.assertIn(self.env.ref("base.user_admin"), manager_group.user_ids)

    @users("phone_agent")
    def test_user_reads_calls_of_own_companies_only(self):
        calls = self.env["phone.call"].search([("external_id", "in", ["home", "branch"])])
        self.assertEqual(calls.mapped("external_id"), ["home"])
        with self.assertRaises(AccessError):
            self.env["phone.call"].browse(self.branch_call.id).read(["status"])

    def test_multi_company_user_sees_both(self):
        self.agent.company_ids = [(4, self.other_company.id)]
        calls = (
            self.Call.with_user(self.agent)
            .with_context(allowed_company_ids=[self.company.id, self.other_company.id])
            .search([("external_id", "in", ["home", "branch"])])
        )
        self.assertEqual(len(calls), 2)

    @users("phone_agent")
    def test_user_cannot_change_calls_or_configuration(self):
        call = self.env["phone.call"].browse(self.home_call.id)
        with self.assertRaises(AccessError):
            call.write({"partner_id": False})
        with self.assertRaises(AccessError):
            call.unlink()
        with self.assertRaises(AccessError):
            self.env["phone.client.type"].create({"name": "Gold"})
        with self.assertRaises(AccessError):
            self.env["phone.call.picture"].search([], limit=1).write({"sequence": 3})
        # ...but reads what the list shows.
        self.assertTrue(call.status_picture_url)
        self.assertTrue(call.partner_id.phone_call_count)

    @users("phone_manager")
    def test_manager_configures(self):
        """What a phone user may not do (above), a manager does, and it is stored."""
        gold = self.env["phone.client.type"].create({"name": "Gold"})
        call = self.env["phone.call"].browse(self.home_call.id)
        self.assertTrue(call.partner_id, "the caller was matched on ingestion")
        call.write({"partner_id": False})
        picture = self.env["phone.call.picture"].search([], limit=1)
        self.assertTrue(picture)
        picture.write({"sequence": 3})
        self.env.invalidate_all()
        self.assertEqual(self.env["phone.client.type"].search([("name", "=", "Gold")]), gold)
        self.assertFalse(call.partner_id)
        self.assertEqual(picture.sequence, 3)
        call.unlink()
        self.assertFalse(call.exists())

    @users("plain_employee")
    def test_employee_without_phone_group_sees_no_call(self):
        with self.assertRaises(AccessError):
            self.env["phone.call"].search([])
        # The client type on the partner form stays readable for everyone.
        self.assertTrue(self.env["phone.client.type"].search([]))

    def test_configuration_menu_for_managers_only(self):
        config = self.env.ref("phone_call_accounting.phone_config_menu")
        root = self.env.ref("phone_call_accounting.phone_menu_root")
        calls = self.env.ref("phone_call_accounting.phone_call_menu")
        menus = self.env["ir.ui.menu"]
        agent_menus = menus.with_user(self.agent)._visible_menu_ids()
        manager_menus = menus.with_user(self.manager)._visible_menu_ids()
        plain_menus = menus.with_user(self.plain)._visible_menu_ids()
        self.assertIn(calls.id, agent_menus)
        self.assertNotIn(config.id, agent_menus)
        self.assertIn(config.id, manager_menus)
        self.assertNotIn(root.id, plain_menus)
