from odoo import fields, models


class PhoneClientType(models.Model):
    _name = "phone.client.type"
    _description = "Client Type"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer(string="Colour")
    image = fields.Image(string="Picture", max_width=128, max_height=128)
    active = fields.Boolean(default=True)
    partner_count = fields.Integer(compute="_compute_partner_count", string="Clients")

    _name_unique = models.Constraint("UNIQUE(name)", "A client type with this name already exists.")

    def _compute_partner_count(self):
        counts = dict(
            self.env["res.partner"]._read_group(
                [("phone_client_type_id", "in", self.ids)],
                ["phone_client_type_id"],
                ["__count"],
            )
        )
        for client_type in self:
            client_type.partner_count = counts.get(client_type, 0)
