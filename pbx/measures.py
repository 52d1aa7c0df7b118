"""Reporting's call measures, each defined once.

A measure is one figure of a group of calls: the calls answered, the answer
rate, the average talk time. Each is written here once, over one call (a row
of ``phone_call``, written ``{row}`` in its SQL), and both places that
compute it are generated from that definition, so they cannot give two
figures:

* the report's SQL view (``phone.call.report``): its field, and its column
  holding the measure's value for one call, which the ORM aggregates;
* the daily roll-up (``phone.call.daily``, its statements in
  :mod:`pbx.rollup`) that answers the report's grouped reads at millions of
  calls: the sums it keeps per day and dimensions, and which of them give the
  measure back.

Four kinds, by how a group's figure is made of its calls:

``Count``
    the calls that meet a condition: SUM of 0/1. The roll-up keeps that sum.
``Sum``
    the sum of a column of the call. The roll-up keeps the column's sum
    (``CALL_TOTALS``: the Phone menu's grouped reads total them too).
``Average``
    the average of a column over the calls that meet a condition: AVG of the
    value where the condition holds, NULL elsewhere. The roll-up keeps the sum
    and the count of those values; the figure is one over the other.
``Rate``
    the share of the calls meeting a condition among the calls meeting
    another (``among``): AVG of 1.0/0.0 among them, NULL for the others. The
    roll-up keeps both counts.

``Maximum``
    the largest value of a column over the calls that meet a condition (the
    longest wait). A maximum cannot be undone when a call is deleted or
    changed, so the roll-up keeps nothing of it: it is a report field the
    roll-up does not map, and grouped reads asking for it read the calls.

Each kind gives ``value(row)``, one call's value in the report's view;
``columns()``, what the roll-up keeps of it; and ``sums()``, the roll-up sums
that give the figure back (one, or a numerator and a denominator). A
measure's name is the report's field and column; ``stored_as`` names the
roll-up's columns where the kind keeps more than one sum. Two measures may
share a roll-up column (the answer rate's denominator is the incoming calls'
count) only when they compute it the same way: ``check`` refuses otherwise.

Adding a measure is one entry in ``MEASURES`` (and, to be shown, a line in
the report's views): the field, the view's column, the roll-up's columns,
triggers, fold and read mapping follow, and ``tests/test_rollup.py`` compares
every measure through both paths. A database whose roll-up was built for
other measures (other columns, or the same in another order) rebuilds it
from the calls when the addon is upgraded. A figure no sum gives back (a
longest wait: a maximum cannot be undone when a call is deleted) is a
``Maximum``: a report field the roll-up does not map, so grouped reads
asking for it read the calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

ROW = "{row}"
# The roll-up reads calls as ``r`` (pbx.rollup), the report's view as ``c``.
ROLLUP_ROW = "r"

BIGINT = "bigint NOT NULL DEFAULT 0"
DOUBLE = "double precision NOT NULL DEFAULT 0"
NUMERIC = "numeric NOT NULL DEFAULT 0"

# The roll-up column counting the calls: a group's ``__count``, and a group
# whose calls all went (deleted, moved) has it at 0.
CALL_COUNT = "call_count"

# Columns of phone_call whose sums the roll-up keeps, with the SQL type of the
# sum: the Phone menu's grouped reads total them, and Sum measures read them.
CALL_TOTALS = {
    "talk_seconds": BIGINT,
    "ring_seconds": BIGINT,
    "duration_hours": DOUBLE,
    "cost": NUMERIC,
}

# Conditions over one call, each written once.
INCOMING = "{row}.direction = 'incoming'"
ANSWERED = "{row}.status = 'answered'"
MISSED = "{row}.status = 'missed'"
NOT_CALLED_BACK = "{row}.callback_state = 'pending'"
# The contact centre's: a call offered to a queue, and how it left it. The two
# booleans are stored on the call with its queue's thresholds (phone_call_queue).
QUEUED = "{row}.queue_id IS NOT NULL"
QUEUE_ANSWERED = "{row}.queue_result = 'answered'"
QUEUE_ABANDONED = "{row}.queue_result = 'abandoned'"
QUEUE_TIMEOUT = "{row}.queue_result = 'timeout'"
ANSWERED_IN_TIME = "{row}.queue_answered_in_time IS TRUE"
SHORT_ABANDON = "{row}.queue_short_abandon IS TRUE"
# Offered less the short abandons: the calls service level and abandon rate count.
QUEUED_NOT_SHORT = "{row}.queue_id IS NOT NULL AND {row}.queue_short_abandon IS NOT TRUE"


def on(sql, row):
    """``sql`` written over the call row aliased ``row``."""
    return sql.replace(ROW, row)


@dataclass(frozen=True)
class Column:
    """A column of the roll-up: the SQL of one call (aliased ``r``) it sums, and its type."""

    name: str
    sql: str
    sql_type: str = BIGINT


@dataclass(frozen=True)
class Count:
    """The calls meeting ``condition`` (every call without one)."""

    name: str
    label: str
    condition: str | None = None
    help: str = ""
    aggregate: ClassVar[str] = "sum"
    field_type: ClassVar[str] = "integer"

    def value(self, row):
        return "1" if self.condition is None else f"({on(self.condition, row)})::int"

    def columns(self):
        return (Column(self.name, self.value(ROLLUP_ROW)),)

    def sums(self):
        return (self.name,)


@dataclass(frozen=True)
class Sum:
    """The sum of ``column``, one of ``CALL_TOTALS``."""

    name: str
    label: str
    column: str
    field_type: str = "integer"
    help: str = ""
    aggregate: ClassVar[str] = "sum"

    def value(self, row):
        return f"{row}.{self.column}"

    def columns(self):
        return ()  # kept with CALL_TOTALS

    def sums(self):
        return (self.column,)


@dataclass(frozen=True)
class Average:
    """The average of ``column`` over the calls meeting ``where`` that have a value."""

    name: str
    label: str
    column: str
    where: str
    stored_as: tuple[str, str]  # (sum of the values, count of the values)
    sql_type: str = BIGINT
    help: str = ""
    aggregate: ClassVar[str] = "avg"
    field_type: ClassVar[str] = "float"

    def value(self, row):
        return f"CASE WHEN {on(self.where, row)} THEN {row}.{self.column} END"

    def columns(self):
        total, count = self.stored_as
        where, column = on(self.where, ROLLUP_ROW), f"{ROLLUP_ROW}.{self.column}"
        return (
            Column(total, f"CASE WHEN {where} THEN COALESCE({column}, 0) END", self.sql_type),
            Column(count, f"({where} AND {column} IS NOT NULL)::int"),
        )

    def sums(self):
        return self.stored_as


@dataclass(frozen=True)
class Rate:
    """The share of the calls meeting ``among`` that also meet ``condition``."""

    name: str
    label: str
    condition: str
    among: str
    stored_as: tuple[str, str]  # (calls meeting both, calls meeting ``among``)
    help: str = ""
    aggregate: ClassVar[str] = "avg"
    field_type: ClassVar[str] = "float"

    def value(self, row):
        among, condition = on(self.among, row), on(self.condition, row)
        return f"CASE WHEN {among} THEN CASE WHEN {condition} THEN 1.0 ELSE 0.0 END END"

    def columns(self):
        both, among = self.stored_as
        among_sql, condition = on(self.among, ROLLUP_ROW), on(self.condition, ROLLUP_ROW)
        return (
            Column(both, f"({among_sql} AND {condition})::int"),
            Column(among, f"({among_sql})::int"),
        )

    def sums(self):
        return self.stored_as


@dataclass(frozen=True)
class Maximum:
    """The largest value of ``column`` over the calls meeting ``where``: read
    from the calls only (the roll-up keeps nothing of it)."""

    name: str
    label: str
    column: str
    where: str
    help: str = ""
    aggregate: ClassVar[str] = "max"
    field_type: ClassVar[str] = "integer"

    def value(self, row):
        return f"CASE WHEN {on(self.where, row)} THEN {row}.{self.column} END"

    def columns(self):
        return ()

    def sums(self):
        return ()  # none: a grouped read asking for it reads the calls


MEASURES = (
    Count(CALL_COUNT, "Calls"),
    Count("incoming_count", "Incoming Calls", INCOMING),
    Count("answered_count", "Answered Calls", ANSWERED),
    Count("missed_count", "Missed Calls", MISSED),
    Count("not_called_back_count", "Not Called Back", NOT_CALLED_BACK),
    Rate(
        "answer_rate",
        "Incoming Answer Rate",
        ANSWERED,
        among=INCOMING,
        stored_as=("answered_incoming_count", "incoming_count"),
        help="Answered incoming calls out of all incoming calls; blank for outgoing and "
        "internal calls, which nobody answers for the company.",
    ),
    Sum("talk_seconds", "Talk Time", "talk_seconds"),
    Average(
        "talk_seconds_avg",
        "Average Talk Time",
        "talk_seconds",
        where=ANSWERED,
        stored_as=("answered_talk", "answered_talk_count"),
    ),
    Sum("ring_seconds", "Ring Time", "ring_seconds"),
    Average(
        "ring_seconds_avg",
        "Average Ring Time",
        "ring_seconds",
        where=ANSWERED,
        stored_as=("answered_ring", "answered_ring_count"),
        help="Seconds before an answered call was answered.",
    ),
    Sum("cost", "Cost", "cost", field_type="monetary"),
    # Queues (readme/USAGE.md states each with its formula).
    Count("queue_offered_count", "Offered", QUEUED, help="Calls that entered a queue."),
    Count(
        "queue_answered_count",
        "Answered in Queue",
        QUEUE_ANSWERED,
        help="Queued calls an agent answered.",
    ),
    Count(
        "queue_answered_in_time_count",
        "Answered within T",
        # Written as the Asterisk service level's numerator, to share its column.
        f"{QUEUE_ANSWERED} AND {ANSWERED_IN_TIME}",
        help="Queued calls answered after waiting at most the queue's service-level threshold T.",
    ),
    Count(
        "queue_abandoned_count",
        "Abandoned",
        QUEUE_ABANDONED,
        help="Queued calls whose caller hung up while waiting.",
    ),
    Count(
        "queue_short_abandon_count",
        "Short Abandons",
        SHORT_ABANDON,
        help="Abandoned after waiting at most the queue's short-abandon threshold.",
    ),
    Count(
        "queue_timeout_count",
        "Timeouts",
        QUEUE_TIMEOUT,
        help="Queued calls that left the queue when its time limit ran out.",
    ),
    Rate(
        "queue_service_level",
        "Service Level",
        ANSWERED_IN_TIME,
        among=QUEUED_NOT_SHORT,
        stored_as=("queue_sl_answered_in_time", "queue_offered_not_short"),
        help="Answered within T / (offered - short abandons).",
    ),
    Rate(
        "queue_asterisk_service_level",
        "Asterisk's Service Level",
        ANSWERED_IN_TIME,
        among=QUEUE_ANSWERED,
        stored_as=("queue_answered_in_time_count", "queue_answered_count"),
        help="Answered within T / answered, as Asterisk's queue show prints SL.",
    ),
    Average(
        "queue_answer_speed_avg",
        "Average Speed of Answer",
        "queue_wait_seconds",
        where=QUEUE_ANSWERED,
        stored_as=("queue_answered_wait", "queue_answered_wait_count"),
        help="Total wait of the answered calls / answered.",
    ),
    Rate(
        "queue_abandon_rate",
        "Abandon Rate",
        QUEUE_ABANDONED,
        among=QUEUED_NOT_SHORT,
        stored_as=("queue_long_abandon_count", "queue_offered_not_short"),
        help="(Abandoned - short abandons) / (offered - short abandons).",
    ),
    Average(
        "queue_wait_avg",
        "Average Wait",
        "queue_wait_seconds",
        where=QUEUED,
        stored_as=("queue_wait", "queue_wait_count"),
        help="Total wait of the offered calls / offered.",
    ),
    Maximum(
        "queue_wait_max",
        "Longest Wait",
        "queue_wait_seconds",
        where=QUEUED,
        help="The longest wait of an offered call (read from the calls).",
    ),
    # Repeat callers (models/phone_call_repeat.py keeps both flags on the call).
    Count(
        "repeat_count",
        "Repeat Calls",
        "{row}.repeat_call IS TRUE",
        help="Incoming calls from a number whose earlier incoming call was answered at most "
        "N days before (Settings).",
    ),
    Rate(
        "first_contact_rate",
        "First-Contact Resolution",
        "{row}.first_contact_resolved IS TRUE",
        among=f"{INCOMING} AND {ANSWERED} AND {{row}}.client_number IS NOT NULL",
        stored_as=("first_contact_resolved_count", "first_contact_answered_count"),
        help="Answered incoming calls whose number did not call again within N days (Settings), "
        "out of the answered incoming calls with a number.",
    ),
)


def view_columns(measures=None, row="c"):
    """The report view's measure columns: ``<one call's value> AS <name>``."""
    return [f"{m.value(row)} AS {m.name}" for m in _measures(measures)]


def rollup_columns(measures=None, totals=None):
    """The roll-up's columns in table order: the counts (of the Count and Rate
    measures), the call totals, then the Average measures' sums and counts.
    A column two measures share comes once."""
    measures = _measures(measures)
    totals = CALL_TOTALS if totals is None else totals
    columns = [c for m in measures if isinstance(m, Count | Rate) for c in m.columns()]
    columns += [Column(name, f"COALESCE({ROLLUP_ROW}.{name}, 0)", t) for name, t in totals.items()]
    columns += [c for m in measures if isinstance(m, Average) for c in m.columns()]
    return tuple(dict.fromkeys(columns))


def report_aggregates(measures=None):
    """For the report's grouped reads: each aggregate the roll-up gives, as the
    roll-up column of a sum or the (numerator, denominator) columns of an average."""
    aggregates = {"__count": (CALL_COUNT,)}
    aggregates.update(
        {f"{m.name}:{m.aggregate}": m.sums() for m in _measures(measures) if m.sums()}
    )
    return aggregates


def call_aggregates(totals=None):
    """The same for the calls' own grouped reads (the Phone menu): the count and the totals."""
    totals = CALL_TOTALS if totals is None else totals
    return {"__count": (CALL_COUNT,), **{f"{name}:sum": (name,) for name in totals}}


def check(measures=None, totals=None):
    """Refuse definitions the two paths could read differently; return the measures."""
    measures = _measures(measures)
    totals = CALL_TOTALS if totals is None else totals
    names = [m.name for m in measures]
    if len(set(names)) != len(names):
        raise ValueError(f"measure names repeat: {names}")
    if not any(isinstance(m, Count) and m.name == CALL_COUNT and not m.condition for m in measures):
        raise ValueError(f"no Count {CALL_COUNT!r} of every call")
    for measure in measures:
        if isinstance(measure, Sum) and measure.column not in totals:
            raise ValueError(f"{measure.name} sums {measure.column}, not one of {list(totals)}")
    by_name = {}
    for column in rollup_columns(measures, totals):
        if by_name.setdefault(column.name, column) != column:
            raise ValueError(
                f"roll-up column {column.name} is computed two ways: "
                f"{by_name[column.name].sql!r} and {column.sql!r}"
            )
    return measures


def _measures(measures):
    return MEASURES if measures is None else tuple(measures)


check()
