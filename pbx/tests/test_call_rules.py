from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from pbx.call_rules import local_day_and_time, needs_callback, too_long


def test_local_day_and_time_in_the_zone():
    start = datetime(2026, 11, 27, 23, 30, 36, tzinfo=timezone.utc)
    day, hour = local_day_and_time(start, ZoneInfo("Europe/Amsterdam"))
    assert day == date(2026, 11, 28)
    assert abs(hour - (0.5 + 0.01)) < 1e-9


def test_needs_callback_only_for_missed_incoming_from_outside():
    missed = {"direction": "incoming", "status": "missed", "client_number": "+31201234567"}
    assert needs_callback(missed)
    assert not needs_callback({**missed, "client_number": False})
    assert not needs_callback({**missed, "status": "answered"})
    assert not needs_callback({**missed, "direction": "outgoing"})


def test_too_long_by_minutes_or_cost_and_zero_checks_nothing():
    assert too_long(30 * 60 + 1, 0.0, 30, 0.0)
    assert not too_long(30 * 60, 0.0, 30, 0.0)
    assert too_long(10, 5.01, 30, 5.0)
    assert not too_long(10, 5.0, 30, 5.0)
    assert not too_long(10**6, 10**6, 0, 0)
