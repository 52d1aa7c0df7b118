"""Daily roll-up of calls, so grouped views and reports stay fast at millions of calls.

PostgreSQL keeps it, not the ORM: statement-level triggers on ``phone_call``
append what each INSERT, UPDATE or DELETE changed to ``phone_call_daily_change``
(one row per day and dimensions touched by the statement), and
``_cron_fold_changes`` moves those rows into ``phone_call_daily_total``. Writers
only ever append, so concurrent ingestions never wait on or conflict over a
shared counter row; readers see the totals plus the changes not folded yet,
which is exact at any moment.
"""

from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import SQL

from .phone_call import DIRECTIONS, STATUSES
from .phone_call_followup import CALLBACK_STATES

# Columns of phone_call a day's roll-up is grouped by: the dimensions.
DIMENSIONS = (
    "company_id",
    "call_date",
    "direction",
    "status",
    "user_id",
    "pbx_id",
    "client_type_id",
    "callback_state",
)
# Measures, each as the SQL of one call (a row of phone_call named r).
MEASURES = {
    "call_count": "1",
    "incoming_count": "(r.direction = 'incoming')::int",
    "answered_count": "(r.status = 'answered')::int",
    "missed_count": "(r.status = 'missed')::int",
    "not_called_back_count": "(r.callback_state = 'pending')::int",
    "answered_incoming_count": "(r.direction = 'incoming' AND r.status = 'answered')::int",
    "duration": "COALESCE(r.duration, 0)",
    "ring_duration": "COALESCE(r.ring_duration, 0)",
    "duration_hours": "COALESCE(r.duration_hours, 0)",
    "cost": "COALESCE(r.cost, 0)",
    # What the per-call report averages: the values of answered calls that have one.
    "answered_duration": "CASE WHEN r.status = 'answered' THEN COALESCE(r.duration, 0) END",
    "answered_duration_count": "(r.status = 'answered' AND r.duration IS NOT NULL)::int",
    "answered_ring": "CASE WHEN r.status = 'answered' THEN COALESCE(r.ring_duration, 0) END",
    "answered_ring_count": "(r.status = 'answered' AND r.ring_duration IS NOT NULL)::int",
}
_COLUMN_TYPES = {
    "company_id": "integer NOT NULL",
    "call_date": "date",
    "direction": "varchar",
    "status": "varchar",
    "user_id": "integer",
    "pbx_id": "integer",
    "client_type_id": "integer",
    "callback_state": "varchar",
    "duration_hours": "double precision NOT NULL DEFAULT 0",
    "cost": "numeric NOT NULL DEFAULT 0",
}
_MEASURE_TYPE = "bigint NOT NULL DEFAULT 0"
TOTAL, CHANGE = "phone_call_daily_total", "phone_call_daily_change"
FOLD_LOCK = 0x70636164  # "pcad": one fold at a time across servers


def _columns():
    return ", ".join(
        f"{name} {_COLUMN_TYPES.get(name, _MEASURE_TYPE)}" for name in DIMENSIONS + tuple(MEASURES)
    )


def _changes_of(rows, sign):
    """SELECT of the signed roll-up rows of the calls in ``rows`` (aliased r)."""
    dims = ", ".join(f"r.{name}" for name in DIMENSIONS)
    sums = ", ".join(f"{sign} * COALESCE(SUM({sql}), 0)" for sql in MEASURES.values())
    return f"SELECT {dims}, {sums} FROM {rows} r GROUP BY {dims}"


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
    call_count = fields.Integer(readonly=True, aggregator="sum")
    incoming_count = fields.Integer(readonly=True, aggregator="sum")
    answered_count = fields.Integer(readonly=True, aggregator="sum")
    missed_count = fields.Integer(readonly=True, aggregator="sum")
    not_called_back_count = fields.Integer(readonly=True, aggregator="sum")
    answered_incoming_count = fields.Integer(readonly=True, aggregator="sum")
    duration = fields.Integer(readonly=True, aggregator="sum")
    ring_duration = fields.Integer(readonly=True, aggregator="sum")
    duration_hours = fields.Float(readonly=True, aggregator="sum")
    cost = fields.Float(readonly=True, aggregator="sum")
    answered_duration = fields.Integer(readonly=True, aggregator="sum")
    answered_duration_count = fields.Integer(readonly=True, aggregator="sum")
    answered_ring = fields.Integer(readonly=True, aggregator="sum")
    answered_ring_count = fields.Integer(readonly=True, aggregator="sum")

    def init(self):
        cr = self.env.cr
        for statement in _SETUP:
            cr.execute(statement)
        cr.execute(_ANY_ROLLUP)
        if not cr.fetchone()[0]:
            # A first install or an upgrade from a version without roll-up: count what exists.
            cr.execute(_COUNT_EXISTING)

    @api.model
    def _read_group_for(self, source, domain, groupby, aggregates, having, offset, limit, order):
        """``source._read_group`` answered from the roll-up, or None."""
        plan = not having and self._plan(source, domain, [groupby], aggregates, order)
        if not plan:
            return None
        full, sums, rollup_order = plan
        having = [("call_count:sum", "!=", 0)]
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
        self.env["phone.call"].flush_model(_counted())
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
            dict.fromkeys(["call_count", *(name for spec in aggregates for name in mapping[spec])])
        )
        return full, sums, rollup_order

    @api.model
    def _cron_fold_changes(self):
        self._fold_changes()

    @api.model
    def _fold_changes(self):
        """Move the pending changes into the totals; False if another fold is running."""
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [FOLD_LOCK])
        if not cr.fetchone()[0]:
            return False
        cr.execute(_FOLD)
        cr.execute(_PURGE_EMPTY)
        return True


GRANULARITIES = frozenset({"day", "week", "month", "quarter", "year"})


def _spec_field(spec):
    """The dimension a groupby spec reads, or None when the roll-up cannot answer it."""
    name, _sep, granularity = spec.partition(":")
    if name not in DIMENSIONS or (granularity and (name, granularity) not in _DATE_PARTS):
        return None
    return name


_DATE_PARTS = {("call_date", granularity) for granularity in GRANULARITIES}


def _counted():
    """The columns of phone_call whose change changes the roll-up."""
    return (*DIMENSIONS, "duration", "ring_duration", "duration_hours", "cost")


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


# The statements, made once from the constants above (no input ever reaches them).
_DIMS = ", ".join(DIMENSIONS)
_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION phone_call_daily_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {CHANGE} {_changes_of("new_calls", 1)};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {CHANGE} {_changes_of("old_calls", -1)};
    ELSE
        -- Most updates (analysis, recordings, follow-ups) touch nothing counted.
        INSERT INTO {CHANGE}
        WITH touched AS (
            SELECT o.id FROM old_calls o JOIN new_calls n ON n.id = o.id
             WHERE ({", ".join(f"o.{c}" for c in _counted())})
                   IS DISTINCT FROM ({", ".join(f"n.{c}" for c in _counted())})
        ),
        old_touched AS (SELECT o.* FROM old_calls o JOIN touched USING (id)),
        new_touched AS (SELECT n.* FROM new_calls n JOIN touched USING (id))
        {_changes_of("old_touched", -1)}
        UNION ALL {_changes_of("new_touched", 1)};
    END IF;
    RETURN NULL;
END $$
"""
_SETUP = (
    f"CREATE TABLE IF NOT EXISTS {TOTAL} ({_columns()})",
    f"CREATE UNIQUE INDEX IF NOT EXISTS {TOTAL}_dims ON {TOTAL} ({_DIMS}) NULLS NOT DISTINCT",
    f"CREATE TABLE IF NOT EXISTS {CHANGE} ({_columns()})",
    _TRIGGER_FUNCTION,
    *(
        statement
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_calls"),
            ("UPDATE", "OLD TABLE AS old_calls NEW TABLE AS new_calls"),
            ("DELETE", "OLD TABLE AS old_calls"),
        )
        for statement in (
            f"DROP TRIGGER IF EXISTS phone_call_daily_{event.lower()} ON phone_call",
            (
                f"CREATE TRIGGER phone_call_daily_{event.lower()} AFTER {event} ON phone_call"
                f" REFERENCING {referencing}"
                " FOR EACH STATEMENT EXECUTE FUNCTION phone_call_daily_record()"
            ),
        )
    ),
)
_ANY_ROLLUP = f"SELECT EXISTS (SELECT 1 FROM {TOTAL}) OR EXISTS (SELECT 1 FROM {CHANGE})"
_COUNT_EXISTING = f"INSERT INTO {TOTAL} {_changes_of('phone_call', 1)}"
_FOLD = f"""
WITH moved AS (DELETE FROM {CHANGE} RETURNING *)
INSERT INTO {TOTAL} AS t
SELECT {_DIMS}, {", ".join(f"SUM({name})" for name in MEASURES)} FROM moved GROUP BY {_DIMS}
ON CONFLICT ({_DIMS}) DO UPDATE SET {", ".join(f"{m} = t.{m} + EXCLUDED.{m}" for m in MEASURES)}
"""
_PURGE_EMPTY = f"DELETE FROM {TOTAL} WHERE call_count = 0"
