"""The rules a stored call follows, apart from the database.

``phone.call`` applies them twice: once at ingestion, where a new call's
values are worked out before its one INSERT, and again in its computed
fields when a call is edited. Both read them here, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo


def local_day_and_time(start: datetime, zone: tzinfo) -> tuple[date, float]:
    """The local date and the hour of the day (a float: 13.5 is half past one)
    of an aware ``start`` in ``zone``."""
    local = start.astimezone(zone)
    return local.date(), local.hour + local.minute / 60 + local.second / 3600


def needs_callback(call: Mapping) -> bool:
    """An incoming call from an outside number that nobody answered.

    ``call`` is read by key: a call's values, or the call itself (an Odoo
    record reads its fields by name).
    """
    return (
        call["direction"] == "incoming"
        and call["status"] == "missed"
        and bool(call["client_number"])
    )


def too_long(talk_seconds: int, cost: float, max_minutes: int, max_cost: float) -> bool:
    """Whether a call talked longer than ``max_minutes`` or cost more than
    ``max_cost``; a threshold of 0 (or empty) checks nothing."""
    return (bool(max_minutes) and talk_seconds > max_minutes * 60) or (
        bool(max_cost) and cost > max_cost
    )
