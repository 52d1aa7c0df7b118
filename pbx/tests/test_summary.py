"""The rules the AMI assembler and the CDR reader share, on both kinds of moment."""

from datetime import UTC, datetime, timedelta

import pytest

from pbx.asterisk.channels import PHONE, PLUMBING, TRUNK
from pbx.asterisk.summary import (
    INCOMING,
    INTERNAL,
    OUTGOING,
    Route,
    call_record,
    direction_of,
    first_extension,
    ring_seconds,
)
from pbx.ingest import KNOWN_KEYS, clean_call


@pytest.mark.parametrize(
    ("kinds", "direction"),
    [
        ([TRUNK, PHONE], INCOMING),
        ([TRUNK, TRUNK], INCOMING),
        ([PHONE, TRUNK], OUTGOING),
        ([PHONE, PHONE, TRUNK], OUTGOING),
        ([PHONE, PHONE], INTERNAL),
        ([PHONE], INTERNAL),
        ([PHONE, PLUMBING], INTERNAL),
    ],
)
def test_direction_of_the_parties_caller_first(kinds, direction):
    assert direction_of(kinds) == direction


def test_first_extension():
    # A ring group member answering: it is the call's first extension.
    assert first_extension("202", {"201", "202"}, ["201", "202"]) == "202"
    # Answered after a forward, or by nobody: the first phone that rang.
    assert first_extension("203", {"201", "202"}, ["201", "202", "203"]) == "201"
    assert first_extension(None, {"201"}, ["201"]) == "201"
    assert first_extension(None, set(), []) is None


START = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rang", "answered", "ended", "seconds"),
    [
        ([3, 1, 2], 8.4, [20], 7),
        ([1], None, [5, 12.6], 12),
        ([1], 0.5, [9], 0),  # answered before the dial began: never negative
        ([], None, [9], 0),
    ],
)
def test_ring_seconds_of_epoch_seconds_and_datetimes(rang, answered, ended, seconds):
    assert ring_seconds(rang, answered, ended) == seconds

    def moment(offset):
        return START + timedelta(seconds=offset)

    answered_at = moment(answered) if answered is not None else None
    assert ring_seconds(map(moment, rang), answered_at, map(moment, ended)) == seconds


def test_call_record_is_what_ingestion_takes():
    record = call_record(
        external_id="1782900000.1",
        direction=INCOMING,
        status="answered",
        route=Route("+31612345678", "0201234567", "201", "201", 0),
        transferred=False,
        start="2026-07-01T10:00:00+00:00",
        end="2026-07-01T10:02:13+00:00",
        ring_seconds=8,
        talk_seconds=125,
        recording=None,
        hangup_cause=None,
    )
    assert set(record) <= KNOWN_KEYS
    assert record["forwarded"] is False
    assert clean_call(record)["talk_seconds"] == 125
