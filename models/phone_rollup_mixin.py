from odoo import models


class PhoneRollupMixin(models.AbstractModel):
    """Grouped reads answered from the daily roll-up (phone.call.daily) when it holds the answer.

    A model mixing it in declares ``_rollup_aggregates``: each aggregate spec
    the roll-up can give, as one roll-up sum, or the (numerator, denominator)
    sums of an average.
    """

    _name = "phone.rollup.mixin"
    _description = "Grouped Reads from the Daily Call Roll-up"
    _rollup_aggregates = {}

    def _read_group(
        self, domain, groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
    ):
        rows = self.env["phone.call.daily"]._read_group_for(
            self, domain, groupby, aggregates, having, offset, limit, order
        )
        if rows is not None:
            return rows
        return super()._read_group(domain, groupby, aggregates, having, offset, limit, order)

    def _read_grouping_sets(self, domain, grouping_sets, aggregates=(), order=None):
        results = self.env["phone.call.daily"]._read_grouping_sets_for(
            self, domain, grouping_sets, aggregates, order
        )
        if results is not None:
            return results
        return super()._read_grouping_sets(domain, grouping_sets, aggregates, order)
