from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import ormcache


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
        known = dict(self._phone_extension_map(company.id))
        wanted = [ext for ext in extensions if ext in known]
        # One recordset, so that reading a field of one user reads it for all.
        users = self.browse([known[ext] for ext in wanted])
        return dict(zip(wanted, users, strict=True))

    @api.model
    @ormcache("company_id")
    def _phone_extension_map(self, company_id):
        """((extension, user id), ...) of a company, read once per worker: every call needs it."""
        users = self.sudo().search_fetch(
            [("phone_extension", "!=", False), ("company_ids", "in", company_id)],
            ["phone_extension", "company_id"],
        )
        by_extension = {}
        # A user whose main company is this one wins over a multi-company guest.
        for user in users.sorted(lambda u: u.company_id.id != company_id):
            by_extension.setdefault(user.phone_extension, user.id)
        return tuple(by_extension.items())

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        if any(vals.get("phone_extension") for vals in vals_list):
            self.env.registry.clear_cache()
        return users

    def write(self, vals):
        result = super().write(vals)
        # tz: an administrator's time zone dates calls of a company that has none.
        if {"phone_extension", "company_id", "company_ids", "active", "tz"} & set(vals):
            self.env.registry.clear_cache()
        return result

    def action_phone_dial(self, number):
        """Click to dial: ring this user's desk phone, then dial ``number``.

        Only for oneself. Returns a notification action ("Your phone is
        ringing"); raises UserError with the reason otherwise.
        """
        self.ensure_one()
        if self != self.env.user and not self.env.is_superuser():
            raise AccessError(self.env._("You can only ring your own phone."))
        if not isinstance(number, str) or not number.strip():
            raise UserError(self.env._("There is no number to dial."))
        done = self.env["phone.pbx"]._dial(self, number)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Your phone is ringing"),
                "message": self.env._(
                    "Pick up extension %(extension)s to call %(number)s.",
                    extension=self.sudo().phone_extension,
                    number=done["exten"],
                ),
                "type": "success",
                "sticky": False,
            },
        }

    @api.model
    def phone_call_timezone(self):
        """The time zone that dates the current company's calls (for the calendar)."""
        return self.env.company._phone_settings()[1]

    @api.model
    def phone_dial_info(self):
        """Whether the current user can click to dial (for the phone field's button)."""
        user = self.env.user
        company = self.env.company
        pbx = self.env["phone.pbx"]._dial_pbx(company) if user.sudo().phone_extension else False
        return {"can_dial": bool(pbx), "extension": user.sudo().phone_extension or False}
