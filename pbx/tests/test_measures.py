"""A call measure is defined once, and both paths that compute it come from that definition.

The report's view columns and the roll-up's statements are generated from
``pbx.measures``; these tests add measures in that one place and find them
in both. ``tests/test_rollup.py`` compares the figures of every measure
through both paths on a real database.
"""

import re
from unittest import mock

import pytest

from pbx import measures, rollup
from pbx.measures import ANSWERED, INCOMING, Average, Count, Maximum, Rate, Sum

VOICEMAIL = "{row}.status = 'voicemail'"
ADDED = (
    Count("voicemail_count", "Voicemails", VOICEMAIL),
    Rate(
        "voicemail_rate",
        "Voicemail Rate",
        VOICEMAIL,
        among=INCOMING,
        stored_as=("incoming_voicemail_count", "incoming_count"),
    ),
    Average(
        "voicemail_seconds_avg",
        "Average Voicemail Length",
        "talk_seconds",
        where=VOICEMAIL,
        stored_as=("voicemail_duration", "voicemail_duration_count"),
    ),
)


def test_a_measure_added_in_one_place_reaches_the_report_and_the_rollup():
    defined = (*measures.MEASURES, *ADDED)
    with mock.patch.object(measures, "MEASURES", measures.check(defined)):
        view = measures.view_columns(row="c")
        statements = rollup.statements()
        report = measures.report_aggregates()
    assert "(c.status = 'voicemail')::int AS voicemail_count" in view
    assert (
        "CASE WHEN c.direction = 'incoming' THEN CASE WHEN c.status = 'voicemail'"
        " THEN 1.0 ELSE 0.0 END END AS voicemail_rate"
    ) in view
    assert (
        "CASE WHEN c.status = 'voicemail' THEN c.talk_seconds END AS voicemail_seconds_avg" in view
    )
    # The roll-up's tables, trigger (every event) and fold keep the new sums.
    stored = ("voicemail_count", "incoming_voicemail_count", "voicemail_duration")
    assert set(stored) < set(statements.columns)
    create_total, _index, create_change, trigger_function = statements.setup[:4]
    for table in (create_total, create_change):
        assert "voicemail_count bigint NOT NULL DEFAULT 0" in table
        assert "voicemail_duration_count bigint NOT NULL DEFAULT 0" in table
    assert trigger_function.count("SUM((r.status = 'voicemail')::int)") == 4
    assert "SUM((r.direction = 'incoming' AND r.status = 'voicemail')::int)" in trigger_function
    assert "voicemail_count = t.voicemail_count + EXCLUDED.voicemail_count" in statements.fold
    assert "SUM((r.status = 'voicemail')::int)" in statements.count_existing
    # ... and the grouped reads know where to find each measure.
    assert report["voicemail_count:sum"] == ("voicemail_count",)
    assert report["voicemail_rate:avg"] == ("incoming_voicemail_count", "incoming_count")
    assert report["voicemail_seconds_avg:avg"] == (
        "voicemail_duration",
        "voicemail_duration_count",
    )
    # The shared denominator is one column, kept once.
    assert statements.columns.count("incoming_count") == 1
    # Nothing of it stays once the definitions are back.
    assert "voicemail" not in " ".join(rollup.statements().setup)


def test_every_measure_is_a_view_column_and_a_rollup_read():
    view = measures.view_columns(row="c")
    columns = rollup.statements().columns
    aggregates = measures.report_aggregates()
    for measure in measures.MEASURES:
        assert sum(column.endswith(f" AS {measure.name}") for column in view) == 1
        if isinstance(measure, Maximum):
            # Nothing in the roll-up: a grouped read asking for it reads the calls.
            assert f"{measure.name}:{measure.aggregate}" not in aggregates
            assert not measure.columns()
            continue
        assert set(aggregates[f"{measure.name}:{measure.aggregate}"]) <= set(columns)
    assert aggregates["__count"] == (measures.CALL_COUNT,)


def test_the_rollup_sums_each_measure_as_the_view_aggregates_it():
    """What the roll-up keeps of a call is the view's value of that call, written over r."""
    columns = {c.name: c.sql for c in measures.rollup_columns()}
    for measure in measures.MEASURES:
        value = measure.value("r")
        if isinstance(measure, Count):
            assert columns[measure.name] == value
        elif isinstance(measure, Sum):
            assert columns[measure.column] == f"COALESCE({value}, 0)"
        elif isinstance(measure, Average):
            total, count = measure.stored_as
            where = measures.on(measure.where, "r")
            assert value == f"CASE WHEN {where} THEN r.{measure.column} END"
            assert columns[total] == f"CASE WHEN {where} THEN COALESCE(r.{measure.column}, 0) END"
            assert columns[count] == f"({where} AND r.{measure.column} IS NOT NULL)::int"
        elif isinstance(measure, Maximum):
            assert (
                value == f"CASE WHEN {measures.on(measure.where, 'r')} THEN r.{measure.column} END"
            )
        else:
            both, among = measure.stored_as
            assert columns[among] == f"({measures.on(measure.among, 'r')})::int"
            assert measures.on(measure.condition, "r") in columns[both]


def test_a_column_a_measure_reads_is_watched_by_the_update_trigger():
    """An update of a column a measure reads must reach the roll-up."""
    held = Average(
        "hold_avg", "Average Hold", "hold_seconds", where=ANSWERED, stored_as=("h", "hn")
    )
    with mock.patch.object(measures, "MEASURES", (*measures.MEASURES, held)):
        statements = rollup.statements()
    assert "hold_seconds" in statements.counted
    trigger_function = statements.setup[3]
    watched = re.search(r"WHERE \((.*?)\)\s+IS DISTINCT FROM", trigger_function, re.DOTALL).group(1)
    assert "o.hold_seconds" in watched
    assert "hold_seconds" not in rollup.statements().counted
    # The queue measures' columns are watched: a queue's new thresholds reach the roll-up.
    counted = rollup.statements().counted
    for column in ("queue_id", "queue_result", "queue_wait_seconds", "queue_answered_in_time"):
        assert column in counted


@pytest.mark.parametrize(
    ("added", "message"),
    [
        (Count("answered_count", "Answered Again", ANSWERED), "measure names repeat"),
        (Sum("hold_seconds", "Hold Time", "hold_duration"), "sums hold_duration"),
        (
            Rate(
                "outgoing_rate",
                "Outgoing Rate",
                ANSWERED,
                among="{row}.direction = 'outgoing'",
                stored_as=("answered_outgoing_count", "incoming_count"),
            ),
            "incoming_count is computed two ways",
        ),
    ],
)
def test_definitions_the_two_paths_could_read_differently_are_refused(added, message):
    with pytest.raises(ValueError, match=message):
        measures.check((*measures.MEASURES, added))


def test_the_count_of_calls_is_required():
    without = [m for m in measures.MEASURES if m.name != measures.CALL_COUNT]
    with pytest.raises(ValueError, match="no Count 'call_count'"):
        measures.check(without)
