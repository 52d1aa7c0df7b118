from odoo import fields, models, tools

from ..models.phone_call import DIRECTIONS, STATUSES


class PhoneCallReport(models.Model):
    """Call analytics: every measure is a plain aggregate of a stored column.

    Rates and averages are columns that are NULL where they do not apply
    (the answer rate exists for incoming calls only, the ring and talk
    averages for answered ones), so SQL's AVG gives the right figure in any
    grouping.
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
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    call_count = fields.Integer(string="Calls", readonly=True, aggregator="sum")
    incoming_count = fields.Integer(string="Incoming Calls", readonly=True, aggregator="sum")
    answered_count = fields.Integer(string="Answered Calls", readonly=True, aggregator="sum")
    missed_count = fields.Integer(string="Missed Calls", readonly=True, aggregator="sum")
    not_called_back_count = fields.Integer(
        string="Not Called Back", readonly=True, aggregator="sum"
    )
    answer_rate = fields.Float(
        string="Incoming Answer Rate",
        readonly=True,
        aggregator="avg",
        help="Answered incoming calls out of all incoming calls; blank for outgoing and "
        "internal calls, which nobody answers for the company.",
    )
    ring_seconds = fields.Integer(string="Ring Time", readonly=True, aggregator="sum")
    ring_seconds_avg = fields.Float(
        string="Average Ring Time",
        readonly=True,
        aggregator="avg",
        help="Seconds before an answered call was answered.",
    )
    talk_seconds = fields.Integer(string="Talk Time", readonly=True, aggregator="sum")
    talk_seconds_avg = fields.Float(string="Average Talk Time", readonly=True, aggregator="avg")
    cost = fields.Monetary(readonly=True, aggregator="sum")

    # Aggregates the daily roll-up (phone.call.daily) gives: a sum, or the
    # (numerator, denominator) sums of an average equal to this view's AVG.
    _rollup_aggregates = {
        "__count": ("call_count",),
        "call_count:sum": ("call_count",),
        "incoming_count:sum": ("incoming_count",),
        "answered_count:sum": ("answered_count",),
        "missed_count:sum": ("missed_count",),
        "not_called_back_count:sum": ("not_called_back_count",),
        "ring_seconds:sum": ("ring_duration",),
        "talk_seconds:sum": ("duration",),
        "cost:sum": ("cost",),
        "answer_rate:avg": ("answered_incoming_count", "incoming_count"),
        "ring_seconds_avg:avg": ("answered_ring", "answered_ring_count"),
        "talk_seconds_avg:avg": ("answered_duration", "answered_duration_count"),
    }

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            f"""
            CREATE OR REPLACE VIEW {self._table} AS (
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
                       1 AS call_count,
                       (c.direction = 'incoming')::integer AS incoming_count,
                       (c.status = 'answered')::integer AS answered_count,
                       (c.status = 'missed')::integer AS missed_count,
                       (c.callback_state = 'pending')::integer AS not_called_back_count,
                       CASE WHEN c.direction = 'incoming'
                            THEN CASE WHEN c.status = 'answered' THEN 1.0 ELSE 0.0 END
                       END AS answer_rate,
                       c.ring_duration AS ring_seconds,
                       CASE WHEN c.status = 'answered' THEN c.ring_duration END
                           AS ring_seconds_avg,
                       c.duration AS talk_seconds,
                       CASE WHEN c.status = 'answered' THEN c.duration END AS talk_seconds_avg,
                       c.cost
                  FROM phone_call c
            )
            """
        )
