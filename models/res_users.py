from odoo import api, fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    phone_extension = fields.Char(
        index="btree_not_null",
        copy=False,
        help="Internal number of this employee's desk phone on the PBX, unique per company.",
    )

    _phone_extension_unique = models.Constraint(
        "UNIQUE(company_id, phone_extension)",
        "Another user of this company already has this phone extension.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "phone_extension"]

    @api.model
    def _phone_users_by_extension(self, extensions, company):
        """Map each extension to the user of ``company`` who has it."""
        if not extensions:
            return {}
        users = self.sudo().search_fetch(
            [("phone_extension", "in", list(extensions)), ("company_ids", "in", company.id)],
            ["phone_extension", "company_id"],
        )
        by_extension = {}
        # A user whose main company is this one wins over a multi-company guest.
        for user in users.sorted(lambda u: u.company_id != company):
            by_extension.setdefault(user.phone_extension, user)
        return by_extension
