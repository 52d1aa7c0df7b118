from odoo import fields, models


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
    phone_transcription = fields.Boolean(related="company_id.phone_transcription", readonly=False)
    phone_transcription_backend = fields.Char(
        related="company_id.phone_transcription_backend", readonly=False
    )
    phone_transcription_language = fields.Char(
        related="company_id.phone_transcription_language", readonly=False
    )
    phone_timezone = fields.Selection(
        related="company_id.partner_id.tz", readonly=False, string="Call Time Zone"
    )
