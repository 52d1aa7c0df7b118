from odoo import models

from ..pbx import measures


class PhoneCall(models.Model):
    """Grouped views of calls (Phone menu grouped by day, totals) read from the daily roll-up."""

    _name = "phone.call"
    _inherit = ["phone.call", "phone.rollup.mixin"]

    # The count and the call totals the roll-up keeps (pbx.measures.CALL_TOTALS).
    _rollup_aggregates = measures.call_aggregates()
