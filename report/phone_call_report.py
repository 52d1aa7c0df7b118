from odoo import fields, models, tools

from ..models.choices import DIRECTIONS, STATUSES
from ..pbx import measures

_MEASURE_COLUMNS = ",\n" + " " * 23
_FIELD_TYPES = {"integer": fields.Integer, "float": fields.Float, "monetary": fields.Monetary}


def _measure_fields():
    """A field per call measure (pbx.measures), aggregated as the measure says."""
    return {
        measure.name: _FIELD_TYPES[measure.field_type](
            string=measure.label,
            readonly=True,
            aggregator=measure.aggregate,
            **({"help": measure.help} if measure.help else {}),
        )
        for measure in measures.MEASURES
    }


class PhoneCallReport(models.Model):
    """Call analytics: every measure is a plain aggregate of a stored column.

    The measures are defined in ``pbx/measures.py``: their fields, their
    columns here and the daily roll-up (phone.call.daily) that answers the
    grouped reads at scale are all made from there. Rates and averages are
    columns that are NULL where they do not apply (the answer rate exists for
    incoming calls only, the ring and talk averages for answered ones), so
    SQL's AVG gives the right figure in any grouping.
    """

    _name = "phone.call.report"
    _inherit = ["phone.rollup.mixin"]
    _description = "Call Analysis"
    _auto = False
    _rec_name = "call_date"
    _order = "call_date desc"

    call_id = fields.Many2one("phone.call", string="Call Record", readonly=True)
    call_date = fields.Date(readonly=True)
    call_hour = fields.Integer(string="Hour of Day", readonly=True, aggregator=False)
    direction = fields.Selection(DIRECTIONS, readonly=True)
    status = fields.Selection(STATUSES, readonly=True)
    user_id = fields.Many2one("res.users", string="Employee", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Client", readonly=True)
    client_type_id = fields.Many2one("phone.client.type", readonly=True)
    pbx_id = fields.Many2one("phone.pbx", string="PBX", readonly=True)
    queue_id = fields.Many2one("phone.queue", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    # The measures (pbx.measures).
    locals().update(_measure_fields())

    # Aggregates the daily roll-up (phone.call.daily) gives: a sum, or the
    # (numerator, denominator) sums of an average equal to this view's AVG.
    _rollup_aggregates = measures.report_aggregates()

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(_view(self._table))


def _view(table):
    """The view: a row per call, its dimensions, and each measure's value for that call."""
    columns = _MEASURE_COLUMNS.join(measures.view_columns(row="c"))
    return f"""
            CREATE OR REPLACE VIEW {table} AS (
                SELECT c.id AS id,
                       c.id AS call_id,
                       c.call_date,
                       floor(c.call_time)::integer AS call_hour,
                       c.direction,
                       c.status,
                       c.user_id,
                       c.partner_id,
                       c.client_type_id,
                       c.pbx_id,
                       c.company_id,
                       c.queue_id,
                       {columns}
                  FROM phone_call c
            )
            """
