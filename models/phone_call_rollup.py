from odoo import models


class PhoneCall(models.Model):
    """Grouped views of calls (Phone menu grouped by day, totals) read from the daily roll-up."""

    _name = "phone.call"
    _inherit = ["phone.call", "phone.rollup.mixin"]

    _rollup_aggregates = {
        "__count": ("call_count",),
        "duration:sum": ("duration",),
        "ring_duration:sum": ("ring_duration",),
        "duration_hours:sum": ("duration_hours",),
        "cost:sum": ("cost",),
    }
