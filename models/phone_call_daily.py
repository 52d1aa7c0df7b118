"""Daily roll-up of calls, so grouped views and reports stay fast at millions of calls.

What it keeps and how (tables, triggers, fold) is generated from the call
measures: :mod:`..pbx.measures` defines them, :mod:`..pbx.rollup` makes the
statements. This model runs them and answers grouped reads from the result.
"""

import logging

from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import SQL

from ..pbx import measures, rollup
from ..pbx.rollup import CHANGE, DIMENSIONS, FOLD_LOCK, TOTAL
from . import concurrency
from .choices import CALLBACK_STATES, DIRECTIONS, STATUSES

_logger = logging.getLogger(__name__)


def _sum_fields():
    """A field per roll-up column, each the sum of its column over a group."""
    return {
        column.name: (fields.Integer if column.sql_type.startswith("bigint") else fields.Float)(
            readonly=True, aggregator="sum"
        )
        for column in measures.rollup_columns()
    }


class PhoneCallDaily(models.Model):
    _name = "phone.call.daily"
    _description = "Calls per Day"
    _auto = False
    _table_query = SQL(
        "SELECT NULL::integer AS id, * FROM %s UNION ALL SELECT NULL::integer AS id, * FROM %s",
        SQL.identifier(TOTAL),
        SQL.identifier(CHANGE),
    )

    company_id = fields.Many2one("res.company", readonly=True)
    call_date = fields.Date(readonly=True)
    direction = fields.Selection(DIRECTIONS, readonly=True)
    status = fields.Selection(STATUSES, readonly=True)
    user_id = fields.Many2one("res.users", readonly=True)
    pbx_id = fields.Many2one("phone.pbx", readonly=True)
    client_type_id = fields.Many2one("phone.client.type", readonly=True)
    callback_state = fields.Selection(CALLBACK_STATES, readonly=True)
    queue_id = fields.Many2one("phone.queue", readonly=True)
    # The measures' sums (pbx.measures).
    locals().update(_sum_fields())

    def init(self):
        cr = self.env.cr
        statements = rollup.statements()
        cr.execute(rollup.EXISTING_COLUMNS, [(TOTAL, CHANGE)])
        existing = {table: tuple(columns) for table, columns in cr.fetchall()}
        if any(columns != statements.columns for columns in existing.values()):
            # Built for other measures: made again and counted from the calls.
            _logger.info("The daily roll-up is rebuilt for the measures defined now")
            cr.execute(statements.drop)
        for statement in statements.setup:
            cr.execute(statement)
        cr.execute(statements.any_rollup)
        if not cr.fetchone()[0]:
            # A first install, an upgrade from a version without roll-up or for
            # other measures: count what exists.
            cr.execute(statements.count_existing)

    @api.model
    def _read_group_for(self, source, domain, groupby, aggregates, having, offset, limit, order):
        """``source._read_group`` answered from the roll-up, or None."""
        plan = not having and self._plan(source, domain, [groupby], aggregates, order)
        if not plan:
            return None
        full, sums, rollup_order = plan
        having = [(f"{measures.CALL_COUNT}:sum", "!=", 0)]
        rows = self.sudo()._read_group(
            full, groupby, [f"{name}:sum" for name in sums], having, offset, limit, rollup_order
        )
        return [_answer(source, row, len(groupby), aggregates, sums) for row in rows]

    @api.model
    def _read_grouping_sets_for(self, source, domain, grouping_sets, aggregates, order):
        """``source._read_grouping_sets`` answered from the roll-up, or None."""
        plan = self._plan(source, domain, grouping_sets, aggregates, order)
        if not plan:
            return None
        full, sums, rollup_order = plan
        results = self.sudo()._read_grouping_sets(
            full, grouping_sets, [f"{name}:sum" for name in sums], order=rollup_order
        )
        return [
            [
                _answer(source, row, len(groupby), aggregates, sums)
                for row in rows
                if row[len(groupby)] or not groupby
            ]
            for groupby, rows in zip(grouping_sets, results, strict=True)
        ]

    @api.model
    def _plan(self, source, domain, grouping_sets, aggregates, order):
        """(domain, roll-up sums, order) to answer ``source`` from the roll-up, or None.

        ``source._rollup_aggregates`` maps each aggregate the roll-up can give
        to a roll-up sum, or to a (numerator, denominator) pair of sums for an
        average. Anything else (a condition or grouping on a column the
        roll-up lacks, such as the client or the hour; another aggregate; a
        record rule on such a column) returns None: the caller reads the calls.
        """
        if not source.env.context.get("phone_rollup", True):
            return None
        mapping = source._rollup_aggregates
        if any(spec not in mapping for spec in aggregates):
            return None
        specs = {spec for groupby in grouping_sets for spec in groupby}
        if any(_spec_field(spec) not in source._fields for spec in specs):
            return None
        rollup_order = _translate_order(order, specs, mapping)
        if rollup_order is False:
            return None
        source.browse().check_access("read")
        # The triggers see what reached the table: pending ORM writes must get there first.
        self.env["phone.call"].flush_model(rollup.statements().counted)
        rule = self.env["ir.rule"]._compute_domain(source._name, "read")
        full = Domain.AND([Domain(domain), rule or Domain.TRUE])
        if any(
            condition.field_expr not in DIMENSIONS or condition.field_expr not in source._fields
            for condition in full.iter_conditions()
        ):
            return None
        # The caller's access was checked and its rules are in the domain: the
        # roll-up is read as superuser, its group values handed back in the caller's env.
        # call_count first: a group whose calls were all deleted or moved since
        # the last fold still has change rows, summing to no call.
        sums = list(
            dict.fromkeys(
                [measures.CALL_COUNT, *(name for spec in aggregates for name in mapping[spec])]
            )
        )
        return full, sums, rollup_order

    @api.model
    def _cron_fold_changes(self):
        self._fold_changes()

    @api.model
    def _fold_changes(self):
        """Move the pending changes into the totals; False if another fold is running."""
        cr = self.env.cr
        if not concurrency.try_lock(cr, FOLD_LOCK):
            return False
        statements = rollup.statements()
        cr.execute(statements.fold)
        cr.execute(statements.purge_empty)
        return True


GRANULARITIES = frozenset({"day", "week", "month", "quarter", "year"})


def _spec_field(spec):
    """The dimension a groupby spec reads, or None when the roll-up cannot answer it."""
    name, _sep, granularity = spec.partition(":")
    if name not in DIMENSIONS or (granularity and (name, granularity) not in _DATE_PARTS):
        return None
    return name


_DATE_PARTS = {("call_date", granularity) for granularity in GRANULARITIES}


def _translate_order(order, specs, mapping):
    """The roll-up's order for a source order, or False when it cannot be followed."""
    if not order:
        return order
    terms = []
    for part in order.split(","):
        term, *rest = part.split()
        if term in specs:
            terms.append(part.strip())
        elif len(mapping.get(term, ())) == 1:
            terms.append(" ".join([f"{mapping[term][0]}:sum", *rest]))
        else:
            return False
    return ", ".join(terms)


def _answer(source, row, width, aggregates, sums):
    mapping = source._rollup_aggregates
    values = [
        value.with_env(source.env) if isinstance(value, models.BaseModel) else value
        for value in row[:width]
    ]
    found = dict(zip(sums, row[width:], strict=True))
    for spec in aggregates:
        parts = [found[name] or 0 for name in mapping[spec]]
        if len(parts) == 2:
            empty = source._read_group_empty_value(spec)
            values.append(float(parts[0]) / float(parts[1]) if parts[1] else empty)
        else:
            field = source._fields.get(spec.partition(":")[0])
            integer = spec == "__count" or field.type == "integer"
            values.append(int(parts[0]) if integer else float(parts[0]))
    return tuple(values)
