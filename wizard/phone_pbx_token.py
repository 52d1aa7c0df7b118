from odoo import fields, models


class PhonePbxToken(models.TransientModel):
    """The PBX's new secret token, shown once to be copied into the PBX or listener."""

    _name = "phone.pbx.token"
    _description = "New PBX Secret Token"

    pbx_id = fields.Many2one("phone.pbx", string="PBX", required=True, ondelete="cascade")
    token = fields.Char(string="New Secret Token", readonly=True)
    webhook_url = fields.Char(related="pbx_id.webhook_url", string="Calls Webhook URL")
