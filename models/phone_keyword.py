from odoo import api, fields, models


class PhoneKeyword(models.Model):
    """A word or phrase that flags a call when its transcript mentions it."""

    _name = "phone.keyword"
    _description = "Call Keyword"
    _order = "name"

    name = fields.Char(required=True, help="A word or phrase, e.g. cancel, complaint, lawyer.")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    color = fields.Integer(string="Colour")
    active = fields.Boolean(default=True)
    review = fields.Boolean(
        string="Schedule Review",
        help="A call mentioning it gets one review activity for the long-call reviewer.",
    )
    call_count = fields.Integer(compute="_compute_call_count")

    _company_name_unique = models.Constraint(
        "UNIQUE(company_id, name)", "This keyword is already listed for the company."
    )

    @api.depends("name")
    def _compute_call_count(self):
        counts = dict(
            self.env["phone.call"]._read_group(
                [("keyword_ids", "in", self.ids)], ["keyword_ids"], ["__count"]
            )
        )
        for keyword in self:
            keyword.call_count = counts.get(keyword, 0)
