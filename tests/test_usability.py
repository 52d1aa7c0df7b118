from odoo.tests import new_test_user, tagged

from .common import PhoneCase, no_cron_commits


@tagged("post_install", "-at_install")
class TestCallTimes(PhoneCase):
    """One time zone dates a call everywhere: list, form, history, reports."""

    def test_company_without_zone_uses_the_first_admin_then_the_country(self):
        self.company.partner_id.tz = False
        admins = self.env.ref("base.group_system").all_user_ids.filtered(lambda u: u.id != 1)
        admins.tz = False
        self.assertEqual(self.company._phone_timezone_name("KR"), "Asia/Seoul")
        self.assertEqual(self.company._phone_timezone_name(None), "UTC")
        admins.sorted("id")[0].tz = "Asia/Tokyo"
        self.assertEqual(str(self.company._phone_timezone()), "Asia/Tokyo")
        self.company.partner_id.tz = "Europe/Berlin"
        self.assertEqual(str(self.company._phone_timezone()), "Europe/Berlin")

    def test_new_database_dates_a_night_call_on_its_local_day(self):
        """00:14 in Amsterdam is the previous day in UTC: the list must say the local day."""
        self.company.partner_id.tz = False
        self.env.ref("base.group_system").all_user_ids.tz = False
        call = self.ingest_one(start="2026-11-19T23:14:00Z", ring_seconds=0, talk_seconds=60)
        self.assertEqual(str(call.call_date), "2026-11-20")
        self.assertAlmostEqual(call.call_time, 14 / 60)
        self.assertAlmostEqual(call.call_end_time, 15 / 60)

    def test_settings_say_which_zone_dates_calls(self):
        self.company.partner_id.tz = False
        settings = self.env["res.config.settings"].create({})
        self.assertFalse(settings.phone_timezone)
        self.assertEqual(
            settings.phone_timezone_effective,
            self.company._phone_timezone_name(self.company._phone_country_code()),
        )
        settings.phone_timezone = "Asia/Seoul"
        self.assertEqual(settings.phone_timezone_effective, "Asia/Seoul")

    def test_sorting_by_date_sorts_by_start_both_ways(self):
        calls = [self.ingest_one(start=f"2026-11-20T{hour:02d}:00:00Z") for hour in (9, 11, 10)]
        ids = [call.id for call in calls]
        ascending = self.Call.search([("id", "in", ids)], order="call_date asc").ids
        self.assertEqual(ascending, [ids[0], ids[2], ids[1]])
        descending = self.Call.search([("id", "in", ids)], order="call_date desc").ids
        self.assertEqual(descending, [ids[1], ids[2], ids[0]])


@tagged("post_install", "-at_install")
class TestCallForm(PhoneCase):
    def test_client_history_lists_the_other_calls_with_a_count(self):
        first = self.ingest_one()
        second = self.ingest_one()
        self.assertEqual(second.partner_call_ids, first)
        self.assertEqual(second.partner_call_count, 2)
        arch = self.Call.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="partner_call_count"', arch)
        self.assertNotIn('name="duration_hours"', arch, "talk time is shown once")

    def test_title_follows_the_users_language(self):
        self.env["res.lang"]._activate_lang("ko_KR")
        self.env["ir.module.module"]._load_module_terms(
            ["phone_call_accounting"], ["ko_KR"], overwrite=True
        )
        call = self.ingest_one()
        self.assertEqual(call.display_name, "Incoming Bakkerij Korst")
        self.assertEqual(call.with_context(lang="ko_KR").display_name, "수신 Bakkerij Korst")


@tagged("post_install", "-at_install")
class TestToCallBack(PhoneCase):
    def setUp(self):
        super().setUp()
        no_cron_commits(self)
        self.callback_type = self.env.ref("phone_call_accounting.mail_activity_type_callback")

    def missed(self, **values):
        call = self.ingest_one(status="missed", talk_seconds=0, extension="", **values)
        self.Call._cron_open_callback_activities()
        return call

    def test_action_is_named_like_its_menu_and_has_row_actions(self):
        action = self.env.ref("phone_call_accounting.phone_call_callback_action")
        menu = self.env.ref("phone_call_accounting.phone_call_callback_menu")
        self.assertEqual(action.name, menu.name)
        arch = self.Call.get_views([(action.view_id.id, "list")])["views"]["list"]["arch"]
        for button in ("action_dial", "action_open_partner", "action_mark_called_back"):
            self.assertIn(f'name="{button}"', arch)
        for always_empty in ('name="talk_seconds"', 'name="is_too_long"', 'name="cost"'):
            self.assertNotIn(always_empty, arch)

    def test_mark_called_back_settles_the_calls_and_the_activity(self):
        first = self.missed()
        second = self.missed()
        activity = self.client.activity_ids.filtered(
            lambda a: a.activity_type_id == self.callback_type
        )
        self.assertEqual(len(activity), 1)
        first.action_mark_called_back()
        self.assertEqual(first.callback_state, "done")
        self.assertTrue(activity.exists() and activity.active, "another missed call still waits")
        second.action_mark_called_back()
        self.assertEqual(second.callback_state, "done")
        self.assertFalse(activity.exists() and activity.active)
        self.assertEqual(self.Call.phone_callback_count(), 0)

    def test_callback_without_anyone_responsible_goes_to_a_phone_manager(self):
        """No salesperson, nobody's phone rang, no reviewer: a manager still gets it."""
        call = self.missed(first_extension="")
        activity = self.client.activity_ids.filtered(
            lambda a: a.activity_type_id == self.callback_type
        )
        self.assertEqual(call.callback_state, "pending")
        self.assertEqual(len(activity), 1)
        self.assertTrue(activity.user_id.has_group("phone_call_accounting.group_phone_manager"))

    def test_settings_warn_while_no_reviewer_is_set(self):
        settings = self.env["res.config.settings"].create({})
        self.assertIn("Phone managers", settings.phone_review_fallback)
        self.assertIn(self.manager.name, settings.phone_review_fallback)
        settings.phone_reviewer_id = new_test_user(self.env, "rev", groups="base.group_user")
        self.assertFalse(settings.phone_review_fallback)


@tagged("post_install", "-at_install")
class TestSettingsChoices(PhoneCase):
    def test_speech_engine_and_language_are_readable_choices(self):
        fields_info = self.env["res.config.settings"].fields_get(
            ["phone_transcription_backend", "phone_transcription_language"], ["selection"]
        )
        engines = dict(fields_info["phone_transcription_backend"]["selection"])
        self.assertEqual(engines["pocketsphinx"], "PocketSphinx (offline, English)")
        self.assertEqual(engines["none"], "Off")
        languages = dict(fields_info["phone_transcription_language"]["selection"])
        self.assertEqual(languages["en-us"], "English (US)")
        self.assertEqual(self.company.phone_transcription_language, "en-us")

    def test_units_show_beside_their_numbers(self):
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"]["form"]["arch"]
        for unit in ("minutes", "days", "seconds"):
            self.assertIn(f"<span>{unit}</span>", arch)
