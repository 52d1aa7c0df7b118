from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import ormcache

from ..pbx import tariff


class PhoneTariff(models.Model):
    """Price of calls to one destination prefix, per company or per PBX."""

    _name = "phone.tariff"
    _description = "Call Tariff"
    _order = "prefix, id"

    name = fields.Char(required=True, help="e.g. Netherlands mobile")
    prefix = fields.Char(
        required=True, help="Start of the E.164 number, e.g. +31 or +316; the longest one wins."
    )
    price_per_minute = fields.Monetary(required=True)
    connection_fee = fields.Monetary()
    increment = fields.Char(
        string="Billing Increment",
        required=True,
        default="60/60",
        help="First period / next periods in seconds: 60/60 per started minute, 1/1 per "
        "second, 30/6 the first 30 seconds then every 6.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    pbx_id = fields.Many2one(
        "phone.pbx", string="PBX", help="Only for calls through this PBX; empty: every PBX."
    )
    active = fields.Boolean(default=True)

    @api.constrains("prefix", "increment")
    def _check_prefix(self):
        for line in self:
            try:
                tariff.normalise_prefix(line.prefix)
                tariff.parse_increment(line.increment)
            except tariff.TariffError as exc:
                raise ValidationError(str(exc)) from exc

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    @api.model
    def _tariffs_for(self, company, pbx):
        """Pure tariffs for calls of ``company`` through ``pbx``: the PBX's first."""
        return self._tariff_table(company.id, pbx.id or False)

    @api.model
    @ormcache("company_id", "pbx_id")
    def _tariff_table(self, company_id, pbx_id):
        lines = self.sudo().search([("company_id", "=", company_id)])
        pbx = self.env["phone.pbx"].browse(pbx_id)
        own = lines.filtered(lambda line: line.pbx_id == pbx) if pbx else lines.browse()
        shared = lines.filtered(lambda line: not line.pbx_id)
        own_prefixes = {tariff.normalise_prefix(line.prefix) for line in own}
        chosen = own + shared.filtered(
            lambda line: tariff.normalise_prefix(line.prefix) not in own_prefixes
        )
        return tuple(
            tariff.Tariff(
                line.prefix,
                line.price_per_minute,
                line.connection_fee,
                line.increment,
                key=line.id,
            )
            for line in chosen
        )
