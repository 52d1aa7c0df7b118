from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytz

from odoo import api, fields, models
from odoo.tools import ormcache

from .choices import engine_selection, language_selection

# Company fields the cached phone settings are made of.
_PHONE_SETTINGS = {"phone_default_country_id", "country_id", "partner_id", "phone", "active"}


class ResCompany(models.Model):
    _inherit = "res.company"

    phone_long_call_minutes = fields.Integer(
        string="Long Call Threshold (minutes)",
        default=30,
        help="Calls that last longer get the Too Long mark and a review activity. 0 disables it.",
    )
    phone_long_call_cost = fields.Monetary(
        string="Long Call Cost Threshold",
        currency_field="currency_id",
        help="Outgoing calls costing more are marked Too Long as well. 0 disables it.",
    )
    phone_reviewer_id = fields.Many2one(
        "res.users",
        string="Long Call Reviewer",
        domain="[('share', '=', False)]",
        help="Who receives the review activity of a too-long call.",
    )
    phone_auto_create_partner = fields.Boolean(
        string="Create Unknown Callers",
        default=True,
        help="Create a contact for a caller whose number matches no contact.",
    )
    phone_default_country_id = fields.Many2one(
        "res.country",
        string="Default Phone Country",
        help="Country of numbers dialled without an international prefix; "
        "the company's country when empty.",
    )
    phone_default_client_type_id = fields.Many2one(
        "phone.client.type",
        string="Default Client Type",
        help="Client type given to contacts created from unknown callers.",
    )

    phone_recording_retention_days = fields.Integer(
        string="Keep Recordings (days)",
        default=0,
        help="Recordings of older calls are deleted; the calls stay. 0 keeps them forever.",
    )

    phone_long_silence_seconds = fields.Integer(
        string="Long Silence (seconds)",
        default=5,
        help="Silences at least this long are counted on analysed calls.",
    )
    phone_transcription = fields.Boolean(
        string="Transcribe Recordings", default=True, help="Offline speech recognition."
    )
    phone_transcription_backend = fields.Selection(
        engine_selection,
        string="Speech Engine",
        default="auto",
        help="Local speech engine that transcribes recordings; Automatic takes the best "
        "installed engine for the call's language (Whisper where it is installed).",
    )
    phone_transcription_language = fields.Selection(
        language_selection, string="Speech Language", default="en-us"
    )
    # Measured on real Korean phone speech (bench/README.md): a grammar of the
    # keywords run over what the transcript missed invents about one flag in six.
    phone_second_listen = fields.Selection(
        [("off", "Off"), ("confirm", "When Sure"), ("trust", "Always")],
        string="Second Listen",
        default="off",
        required=True,
        help="Listen again for the keywords the transcript missed (Vosk, with a grammar of "
        "the keywords). Off: only what the transcript holds is flagged. When Sure: a keyword "
        "heard again is flagged when the engine is sure of it and the transcript holds "
        "something close. Always: every keyword heard again is flagged.",
    )

    phone_repeat_days = fields.Integer(
        string="Repeat Call Window (days)",
        default=7,
        required=True,
        help="An answered incoming call is resolved at first contact unless the same number "
        "calls again within this many days; that later call is a repeat.",
    )

    _phone_long_call_minutes_positive = models.Constraint(
        "CHECK(phone_long_call_minutes >= 0)", "The long call threshold cannot be negative."
    )

    _phone_repeat_days_positive = models.Constraint(
        "CHECK(phone_repeat_days >= 1)", "The repeat call window is at least one day."
    )

    def _phone_country_code(self):
        self.ensure_one()
        return self._phone_settings()[0]

    def _phone_timezone(self):
        """Time zone that decides a call's date: the company's address's."""
        self.ensure_one()
        try:
            return ZoneInfo(self._phone_settings()[1])
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @ormcache("self.id")
    def _phone_settings(self):
        """(country code, time zone name), read once per worker: every call needs them.

        The company's country is computed through its address on each read,
        which would cost more than registering a call.
        """
        company = self.sudo()
        country = (company.phone_default_country_id or company.country_id).code or None
        return country, company._phone_timezone_name(country)

    def _phone_timezone_name(self, country=None):
        """The company's time zone, else the first administrator's, else the
        main zone of its phone country: a new database has none of its own."""
        self.ensure_one()
        if self.partner_id.tz:
            return self.partner_id.tz
        admins = (
            self.env.ref("base.group_system")
            .sudo()
            .all_user_ids.filtered(lambda user: user.tz and not user.share and user.id != 1)
        )
        if admins:
            return admins.sorted("id")[0].tz
        zones = pytz.country_timezones.get(country or "", [])
        return zones[0] if zones else "UTC"

    def _phone_review_users(self):
        """Who gets reviews and unclaimed call-backs: the reviewer, else the
        company's Phone managers, so that nothing waits unseen."""
        self.ensure_one()
        if self.phone_reviewer_id.active:
            return self.phone_reviewer_id
        managers = self.env.ref("phone_call_accounting.group_phone_manager").sudo().all_user_ids
        return managers.filtered(
            lambda user: (
                user.active and not user.share and user.id != 1 and self in user.company_ids
            )
        ).sorted("id")

    @api.model
    @ormcache()
    def _phone_own_numbers(self):
        """E.164 numbers of every company: never a client, never a new partner."""
        # A handful of companies at most: loading them all is the point.
        companies = self.sudo().search([])  # pylint: disable=no-search-all
        return frozenset(filter(None, companies.partner_id.mapped("phone_sanitized")))

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        self.env.registry.clear_cache()  # a new company, new own numbers
        return companies

    def write(self, vals):
        result = super().write(vals)
        if _PHONE_SETTINGS & set(vals):
            self.env.registry.clear_cache()
        if "phone_repeat_days" in vals:
            self.env["phone.call"].sudo()._repeat_recompute_companies(self)
        return result

    @api.model
    def _phone_set_default_client_type(self):
        prospect = self.env.ref("phone_call_accounting.phone_client_type_prospect", False)
        companies = self.search([("phone_default_client_type_id", "=", False)])
        if prospect and companies:
            companies.phone_default_client_type_id = prospect
