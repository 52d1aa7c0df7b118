"""The daily roll-up's SQL, generated from the measures (:mod:`pbx.measures`).

PostgreSQL keeps the roll-up, not the ORM: statement-level triggers on
``phone_call`` append what each INSERT, UPDATE or DELETE changed to
``phone_call_daily_change`` (one row per day and dimensions touched by the
statement), and a fold moves those rows into ``phone_call_daily_total``.
Writers only ever append, so concurrent ingestions never wait on or conflict
over a shared counter row; readers see the totals plus the changes not folded
yet, which is exact at any moment. ``phone.call.daily`` runs these statements.

Every statement is made from constants here and in :mod:`pbx.measures`; no
input ever reaches them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from . import measures as _measures

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
    "queue_id",
)
DIMENSION_TYPES = {
    "company_id": "integer NOT NULL",
    "call_date": "date",
    "direction": "varchar",
    "status": "varchar",
    "user_id": "integer",
    "pbx_id": "integer",
    "client_type_id": "integer",
    "callback_state": "varchar",
    "queue_id": "integer",
}
TOTAL, CHANGE = "phone_call_daily_total", "phone_call_daily_change"
FOLD_LOCK = 0x70636164  # "pcad": one fold at a time across servers
_READS = re.compile(rf"\b{_measures.ROLLUP_ROW}\.(\w+)")


@dataclass(frozen=True)
class Statements:
    """The roll-up's statements for one set of roll-up columns."""

    columns: tuple  # the tables' columns, in order: DIMENSIONS then the measures' columns
    counted: tuple  # the columns of phone_call whose change changes the roll-up
    setup: tuple  # tables, index, trigger function and triggers (idempotent)
    any_rollup: str  # whether the roll-up holds anything
    count_existing: str  # count the calls already there into the totals
    fold: str  # move the changes into the totals
    purge_empty: str  # drop the totals of groups left without a call
    drop: str  # drop both tables (a roll-up built for other measures)


def statements(columns=None):
    """The statements for ``columns`` (default: the measures' as defined now)."""
    return _statements(_measures.rollup_columns() if columns is None else tuple(columns))


@functools.lru_cache(maxsize=8)
def _statements(columns):
    sums = [column.name for column in columns]
    counted = tuple(
        dict.fromkeys([*DIMENSIONS, *(name for c in columns for name in _READS.findall(c.sql))])
    )
    table = ", ".join(
        [f"{name} {DIMENSION_TYPES[name]}" for name in DIMENSIONS]
        + [f"{c.name} {c.sql_type}" for c in columns]
    )
    dims = ", ".join(DIMENSIONS)

    def changes_of(rows, sign):
        """SELECT of the signed roll-up rows of the calls in ``rows`` (aliased r)."""
        row_dims = ", ".join(f"r.{name}" for name in DIMENSIONS)
        signed = ", ".join(f"{sign} * COALESCE(SUM({c.sql}), 0)" for c in columns)
        return f"SELECT {row_dims}, {signed} FROM {rows} r GROUP BY {row_dims}"

    trigger_function = f"""
CREATE OR REPLACE FUNCTION phone_call_daily_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {CHANGE} {changes_of("new_calls", 1)};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO {CHANGE} {changes_of("old_calls", -1)};
    ELSE
        -- Most updates (analysis, recordings, follow-ups) touch nothing counted.
        INSERT INTO {CHANGE}
        WITH touched AS (
            SELECT o.id FROM old_calls o JOIN new_calls n ON n.id = o.id
             WHERE ({", ".join(f"o.{c}" for c in counted)})
                   IS DISTINCT FROM ({", ".join(f"n.{c}" for c in counted)})
        ),
        old_touched AS (SELECT o.* FROM old_calls o JOIN touched USING (id)),
        new_touched AS (SELECT n.* FROM new_calls n JOIN touched USING (id))
        {changes_of("old_touched", -1)}
        UNION ALL {changes_of("new_touched", 1)};
    END IF;
    RETURN NULL;
END $$
"""
    triggers = (
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
    )
    return Statements(
        columns=(*DIMENSIONS, *sums),
        counted=counted,
        setup=(
            f"CREATE TABLE IF NOT EXISTS {TOTAL} ({table})",
            (
                f"CREATE UNIQUE INDEX IF NOT EXISTS {TOTAL}_dims ON {TOTAL} ({dims})"
                " NULLS NOT DISTINCT"
            ),
            f"CREATE TABLE IF NOT EXISTS {CHANGE} ({table})",
            trigger_function,
            *triggers,
        ),
        any_rollup=f"SELECT EXISTS (SELECT 1 FROM {TOTAL}) OR EXISTS (SELECT 1 FROM {CHANGE})",
        count_existing=f"INSERT INTO {TOTAL} {changes_of('phone_call', 1)}",
        fold=f"""
WITH moved AS (DELETE FROM {CHANGE} RETURNING *)
INSERT INTO {TOTAL} AS t
SELECT {dims}, {", ".join(f"SUM({name})" for name in sums)} FROM moved GROUP BY {dims}
ON CONFLICT ({dims}) DO UPDATE SET {", ".join(f"{m} = t.{m} + EXCLUDED.{m}" for m in sums)}
""",
        purge_empty=f"DELETE FROM {TOTAL} WHERE {_measures.CALL_COUNT} = 0",
        drop=f"DROP TABLE IF EXISTS {TOTAL}, {CHANGE}",
    )


# The tables' columns as PostgreSQL lists them, to see a roll-up built for other measures.
EXISTING_COLUMNS = """
SELECT c.relname, array_agg(a.attname::text ORDER BY a.attnum)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relname IN %s AND c.relkind = 'r' AND pg_table_is_visible(c.oid)
   AND a.attnum > 0 AND NOT a.attisdropped
 GROUP BY c.relname
"""
