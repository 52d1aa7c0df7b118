from odoo import api, fields, models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    phone_number = fields.Char(
        string="Phone",
        compute="_compute_phone_number",
        help="The number to call for this activity: the contact's, or the call's client's.",
    )

    @api.depends("res_model", "res_id")
    def _compute_phone_number(self):
        self.phone_number = False
        for model, activities in self.filtered("res_id").grouped("res_model").items():
            if not model or model not in self.env:
                continue
            # Only documents the user may read: an activity must not leak a number.
            records = (
                self.env[model]
                .browse(activities.mapped("res_id"))
                .exists()
                ._filtered_access("read")
            )
            numbers = {record.id: _number_of(record) for record in records}
            for activity in activities:
                activity.phone_number = numbers.get(activity.res_id, False)


def _number_of(record):
    if record._name == "phone.call":
        return record.client_number or False
    if record._name == "res.partner":
        return record.phone or False
    partner = record["partner_id"] if "partner_id" in record._fields else False
    if partner and partner._name == "res.partner":
        return partner.phone or False
    return False
