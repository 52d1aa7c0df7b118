from odoo import api, fields, models

from ..pbx.analysis import transcribe


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    phone_long_call_minutes = fields.Integer(
        related="company_id.phone_long_call_minutes", readonly=False
    )
    phone_currency_id = fields.Many2one(related="company_id.currency_id")
    phone_long_call_cost = fields.Monetary(
        related="company_id.phone_long_call_cost",
        readonly=False,
        currency_field="phone_currency_id",
    )
    phone_reviewer_id = fields.Many2one(related="company_id.phone_reviewer_id", readonly=False)
    phone_auto_create_partner = fields.Boolean(
        related="company_id.phone_auto_create_partner", readonly=False
    )
    phone_default_country_id = fields.Many2one(
        related="company_id.phone_default_country_id", readonly=False
    )
    phone_default_client_type_id = fields.Many2one(
        related="company_id.phone_default_client_type_id", readonly=False
    )
    phone_recording_retention_days = fields.Integer(
        related="company_id.phone_recording_retention_days", readonly=False
    )
    phone_long_silence_seconds = fields.Integer(
        related="company_id.phone_long_silence_seconds", readonly=False
    )
    phone_repeat_days = fields.Integer(related="company_id.phone_repeat_days", readonly=False)
    phone_transcription = fields.Boolean(related="company_id.phone_transcription", readonly=False)
    phone_transcription_backend = fields.Selection(
        related="company_id.phone_transcription_backend", readonly=False
    )
    phone_transcription_language = fields.Selection(
        related="company_id.phone_transcription_language", readonly=False
    )
    phone_second_listen = fields.Selection(related="company_id.phone_second_listen", readonly=False)
    phone_transcription_problem = fields.Char(
        string="Speech Engine Problem", compute="_compute_phone_transcription_problem"
    )
    phone_transcription_effective = fields.Char(
        string="Calls Transcribed By", compute="_compute_phone_transcription_problem"
    )
    phone_timezone = fields.Selection(
        related="company_id.partner_id.tz", readonly=False, string="Call Time Zone"
    )
    phone_timezone_effective = fields.Char(
        string="Calls Dated In", compute="_compute_phone_timezone_effective"
    )
    phone_review_fallback = fields.Char(
        string="Without Reviewer", compute="_compute_phone_review_fallback"
    )

    @api.depends("company_id", "phone_timezone")
    def _compute_phone_timezone_effective(self):
        for settings in self:
            company = settings.company_id
            settings.phone_timezone_effective = settings.phone_timezone or (
                company._phone_timezone_name(company._phone_country_code())
            )

    @api.depends(
        "phone_transcription", "phone_transcription_backend", "phone_transcription_language"
    )
    def _compute_phone_transcription_problem(self):
        engines = dict(self._fields["phone_transcription_backend"]._description_selection(self.env))
        for settings in self:
            problem = effective = False
            if settings.phone_transcription:
                # The engine a call gets: Automatic names its choice for the language.
                engine = settings.phone_transcription_backend
                if engine in ("auto", "default"):
                    engine = transcribe.default_backend(settings.phone_transcription_language)
                effective = (
                    engines.get(engine, engine)
                    if engine != "none"
                    else self.env._("nothing: no installed engine offers this language")
                )
                model = engine != "none" and transcribe.model_name(
                    engine, settings.phone_transcription_language
                )
                if model:
                    effective = self.env._(
                        "%(engine)s, model %(model)s", engine=effective, model=model
                    )
            settings.phone_transcription_effective = effective
            if settings.phone_transcription:
                # checks the package and model files only: loading a model for a
                # page view would cost seconds and hundreds of MB
                reason = transcribe.backend_problem(
                    settings.phone_transcription_backend,
                    settings.phone_transcription_language,
                )
                if reason:
                    problem = self.env._(
                        "Recordings cannot be transcribed with this engine: %s", reason
                    )
            settings.phone_transcription_problem = problem

    @api.depends("company_id", "phone_reviewer_id")
    def _compute_phone_review_fallback(self):
        for settings in self:
            if settings.phone_reviewer_id:
                settings.phone_review_fallback = False
                continue
            managers = settings.company_id._phone_review_users()
            settings.phone_review_fallback = (
                self.env._(
                    "No reviewer: long calls to review and call-backs nobody else takes go to "
                    "the Phone managers (%s).",
                    ", ".join(managers.mapped("name")),
                )
                if managers
                else self.env._(
                    "No reviewer and no Phone manager: long calls and call-backs have nobody "
                    "to go to."
                )
            )
