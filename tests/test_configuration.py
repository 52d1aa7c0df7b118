import base64
import io

import psycopg2
from lxml import etree
from PIL import Image

from odoo.exceptions import ValidationError
from odoo.fields import Date
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestConfiguration(PhoneCase):
    def test_settings_are_kept_per_company(self):
        vip = self.env.ref("phone_call_accounting.phone_client_type_vip")
        settings = Form(self.env["res.config.settings"])
        settings.phone_long_call_minutes = 25
        settings.phone_reviewer_id = self.manager
        settings.phone_auto_create_partner = False
        settings.phone_default_country_id = self.env.ref("base.be")
        settings.phone_default_client_type_id = vip
        settings.save().execute()
        self.assertEqual(self.company.phone_long_call_minutes, 25)
        self.assertEqual(self.company.phone_reviewer_id, self.manager)
        self.assertFalse(self.company.phone_auto_create_partner)
        self.assertEqual(self.company._phone_country_code(), "BE")
        self.assertEqual(self.company.phone_default_client_type_id, vip)

    def test_shipped_client_types_and_default(self):
        names = self.env["phone.client.type"].search([]).mapped("name")
        for name in ("Prospect", "Customer", "Problem", "VIP"):
            self.assertIn(name, names)
        self.assertTrue(all(self.env["phone.client.type"].search([]).mapped("image")))
        self.assertEqual(
            self.env.ref("base.main_company").phone_default_client_type_id, self.prospect_type
        )

    def test_partner_form_shows_type_count_and_history(self):
        with Form(self.client) as form:
            form.phone_client_type_id = self.env.ref("phone_call_accounting.phone_client_type_vip")
        calls = self.Call.browse(
            [
                r["call_id"]
                for r in self.ingest(
                    self.call(),
                    self.call(direction="outgoing", from_number="201", to_number="+31205550101"),
                )
            ]
        )
        self.assertEqual(self.client.phone_call_count, 2)
        self.assertEqual(self.client.phone_call_ids, calls)
        newest_first = calls.sorted("call_start", reverse=True)
        self.assertEqual(self.client.phone_recent_call_ids, newest_first)
        self.assertEqual(calls[0].client_type_id.name, "VIP")
        action = self.client.action_view_phone_calls()
        self.assertEqual(self.Call.search(action["domain"]), calls)
        self.assertEqual(calls[0].partner_call_ids, calls - calls[0], "the others, not itself")
        self.assertEqual(calls[0].action_open_partner()["res_id"], self.client.id)
        # The call's "Client's Calls" button lists the client's calls, not the contact card.
        action = calls[0].action_view_partner_calls()
        self.assertEqual(action["res_model"], "phone.call")
        self.assertEqual(self.Call.search(action["domain"]), calls)
        arch = self.env["res.partner"].get_view(self.env.ref("base.view_partner_form").id)["arch"]
        self.assertIn('name="action_view_phone_calls"', arch)
        self.assertIn('name="phone_calls"', arch)

    def test_calls_tab_shows_the_latest_calls_of_a_busy_client(self):
        from ..models.res_partner import RECENT_CALLS

        results = self.ingest(
            *(
                self.call(start=self.utc(2026, 10, 1 + n // 24, n % 24).isoformat())
                for n in range(RECENT_CALLS + 5)
            )
        )
        calls = self.Call.browse(r["call_id"] for r in results)
        shown = self.client.phone_recent_call_ids
        self.assertEqual(len(shown), RECENT_CALLS)
        self.assertEqual(shown, calls.sorted("call_start", reverse=True)[:RECENT_CALLS])
        self.assertEqual(self.client.phone_call_count, RECENT_CALLS + 5, "the button counts all")

    def test_extension_unique_per_company(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        guest = self.env["res.users"].create(
            {"name": "Guest", "login": "guest", "company_id": other.id, "company_ids": [other.id]}
        )
        guest.phone_extension = "201"  # same number, other company: fine
        self.env.flush_all()
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.IntegrityError),
            self.env.cr.savepoint(),
        ):
            self.agent.phone_extension = "201"
            self.env.flush_all()

    def test_status_and_direction_pictures(self):
        call = self.ingest_one(status="missed", talk_seconds=0)
        missed = self.env.ref("phone_call_accounting.phone_call_picture_status_missed")
        incoming = self.env.ref("phone_call_accounting.phone_call_picture_direction_incoming")
        self.assertIn(f"/phone.call.picture/{missed.id}/", call.status_picture_url)
        self.assertIn(f"/phone.call.picture/{incoming.id}/", call.direction_picture_url)
        pictures = self.env["phone.call.picture"].search([])
        self.assertEqual(
            {(p.kind, p.value) for p in pictures},
            {("status", s) for s in ("answered", "missed", "busy", "failed", "unknown")}
            | {("direction", d) for d in ("incoming", "outgoing", "internal")},
        )
        # A user's own picture replaces the shipped one at once: the URL changes.
        old_url = call.status_picture_url
        missed.image = self.env.ref(
            "phone_call_accounting.phone_call_picture_status_answered"
        ).image
        self.env.flush_all()
        call.invalidate_recordset(["status_picture_url"])
        self.assertNotEqual(call.status_picture_url, old_url)

    def test_incoming_picture_is_bright(self):
        incoming = self.env.ref("phone_call_accounting.phone_call_picture_direction_incoming")
        outgoing = self.env.ref("phone_call_accounting.phone_call_picture_direction_outgoing")

        def brightness(picture):
            image = Image.open(io.BytesIO(base64.b64decode(picture.image))).convert("L")
            return image.getpixel((image.width // 4, image.height // 2))

        self.assertGreater(brightness(incoming), 150)
        self.assertGreater(brightness(incoming), brightness(outgoing))

    def test_picture_value_must_fit_its_kind(self):
        with self.assertRaises(ValidationError):
            self.env["phone.call.picture"].create(
                {"kind": "direction", "value": "missed", "image": self.prospect_type.image}
            )

    def test_views_offer_the_issue_columns_filters_and_groups(self):
        views = self.Call.get_views(
            [(False, "list"), (False, "search"), (False, "graph"), (False, "pivot")]
        )
        list_arch = views["views"]["list"]["arch"]
        # The pictures show in the status and direction columns, under their headers.
        self.assertIn("'picture_field': 'status_picture_url'", list_arch)
        self.assertIn("'picture_field': 'direction_picture_url'", list_arch)
        self.assertNotIn('nolabel="1" options="{\'size\'', list_arch)
        for field in (
            "call_date",
            "call_time",
            "direction",
            "status",
            "from_number",
            "to_number",
            "extension",
            "user_id",
            "partner_id",
            "talk_seconds",
            "is_too_long",
        ):
            self.assertIn(f'name="{field}"', list_arch)
        for decoration in (
            "decoration-success",
            "decoration-danger",
            "decoration-warning",
            "decoration-muted",
            "decoration-info",
            "decoration-bf",
        ):
            self.assertIn(decoration, list_arch)
        search_arch = views["views"]["search"]["arch"]
        for name in (
            "today",
            "yesterday",
            "this_week",
            "last_week",
            "last_7_days",
            "this_month",
            "last_30_days",
            "filter_call_date",
            "group_call_date",
            "group_direction",
            "group_status",
            "group_user",
            "group_partner",
            "group_client_type",
        ):
            self.assertIn(f'name="{name}"', search_arch)
        action = self.env.ref("phone_call_accounting.phone_call_action")
        self.assertIn("search_default_today", action.context)

    def test_call_date_groups_by_day_week_and_month(self):
        self.ingest(
            self.call(start="2026-11-02T10:00:00Z"),
            self.call(start="2026-11-03T10:00:00Z"),
            self.call(start="2026-10-01T10:00:00Z"),
        )
        for granularity, expected in (("day", 3), ("week", 2), ("month", 2)):
            groups = self.Call._read_group([], [f"call_date:{granularity}"], ["__count"])
            self.assertEqual(len(groups), expected, granularity)

    def test_today_filter_domain_selects_today(self):
        today = Date.context_today(self.Call.with_context(tz="Europe/Amsterdam"))
        call = self.ingest_one(start=self.utc(today.year, today.month, today.day, 11).isoformat())
        old = self.ingest_one(start="2020-01-01T10:00:00Z")
        found = self.Call.with_context(tz="Europe/Amsterdam").search([("call_date", "=", "today")])
        self.assertIn(call, found)
        self.assertNotIn(old, found)

    def test_company_settings_cache_follows_changes(self):
        self.assertEqual(self.company._phone_country_code(), "NL")
        self.company.phone_default_country_id = self.env.ref("base.be")
        self.assertEqual(self.company._phone_country_code(), "BE")
        self.company.partner_id.tz = "Asia/Seoul"
        self.assertEqual(str(self.company._phone_timezone()), "Asia/Seoul")
        self.assertIn("+31207940100", self.env["res.company"]._phone_own_numbers())
        self.company.partner_id.phone = "+32 2 555 01 01"
        self.assertIn("+3225550101", self.env["res.company"]._phone_own_numbers())

    def test_new_company_number_is_own_at_once(self):
        self.env["res.company"]._phone_own_numbers()
        self.env["res.company"].create({"name": "Branch", "phone": "+31 10 555 0199"})
        self.assertIn("+31105550199", self.env["res.company"]._phone_own_numbers())

    def test_calls_grouped_by_day_run_newest_first_like_their_rows(self):
        days = [self.utc(2026, 11, d, 9, 30) for d in (18, 19, 20)]
        calls = self.Call.browse(
            [
                r["call_id"]
                for r in self.ingest(
                    *(
                        self.call(external_id=f"day-{i}", start=day.isoformat())
                        for i, day in enumerate(days)
                    )
                )
            ]
        )
        arch = self.Call.get_views([(False, "list")])["views"]["list"]["arch"]
        order = etree.fromstring(arch).get("default_order")
        self.assertTrue(order, "the list has a default order")
        groups = self.Call.web_read_group(
            [("id", "in", calls.ids)], ["call_date:day"], ["__count"], order=order
        )["groups"]
        self.assertEqual(len(groups), 3)
        first, last = groups[0]["call_date:day"], groups[-1]["call_date:day"]
        self.assertGreater(first[0], last[0], "today's group comes first")
        self.assertEqual(
            self.Call.search([("id", "in", calls.ids)], order=order)[0].call_date.day, 20
        )
