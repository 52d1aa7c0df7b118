"""What the AMI assembler and the CDR reader both work out about a call.

Both see a call as its parties' channels, caller first, and the legs that
rang them: dials on the AMI (:mod:`.assembler`), rows in Master.csv
(:mod:`.cdr`). They tell who answered in their own way (bridges joining the
caller on the AMI, dispositions in CDRs); what follows from it is the same
and written once here: the direction, the extension that rang first, the
ring time and the record both hand to ingestion.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from ..ingest import DIRECTIONS, STATUSES
from .channels import TRUNK

# The call words of every source are the ones _ingest_calls checks.
INCOMING, OUTGOING, INTERNAL = DIRECTIONS
ANSWERED, MISSED, BUSY, FAILED, UNKNOWN = STATUSES


class Route(NamedTuple):
    """Who called whom, which extension has the call and whether it moved on."""

    from_number: str | None
    to_number: str | None
    # The phone that took the call; unanswered, the one that rang first.
    extension: str | None
    first_extension: str | None
    forwarded: bool


def direction_of(kinds: Sequence[str]) -> str:
    """The direction of a call from the channel kinds of its parties, caller first.

    In over a trunk is incoming; out to a trunk is outgoing; the rest is internal.
    """
    if kinds[0] == TRUNK:
        return INCOMING
    return OUTGOING if TRUNK in kinds else INTERNAL


def first_extension(
    answerer: str | None, first_round: Collection[str | None], rung: Sequence[str | None]
) -> str | None:
    """The extension a call was meant for: the one that rang first.

    When several rang at once (a ring group, a queue ringing all), it is the
    one of them that answered; otherwise the first phone ``rung``.
    """
    if answerer is not None and answerer in first_round:
        return answerer
    return rung[0] if rung else None


def ring_seconds(
    rang: Iterable[float | datetime],
    answered: float | datetime | None,
    ended: Iterable[float | datetime],
) -> int:
    """Whole seconds from the first leg ringing until the answer or, unanswered,
    until the last leg ``ended``; 0 when nothing rang.

    Moments are epoch seconds (AMI) or aware datetimes (CDR).
    """
    first = min(rang, default=None)
    if first is None:
        return 0
    span = (answered if answered is not None else max(ended)) - first
    seconds = span.total_seconds() if isinstance(span, timedelta) else span
    return round(max(0.0, seconds))


def call_record(
    *,
    external_id: str,
    direction: str,
    status: str,
    route: Route,
    transferred: bool,
    start: str,
    end: str,
    ring_seconds: int,
    talk_seconds: int,
    recording: str | None,
    hangup_cause: str | None,
) -> dict:
    """One call in the native schema (``start`` and ``end`` as ISO 8601 text)."""
    return {
        "external_id": external_id,
        "direction": direction,
        "status": status,
        "from_number": route.from_number,
        "to_number": route.to_number,
        "extension": route.extension,
        "first_extension": route.first_extension,
        "forwarded": bool(route.forwarded),
        "transferred": transferred,
        "start": start,
        "end": end,
        "ring_seconds": ring_seconds,
        "talk_seconds": talk_seconds,
        "recording": recording,
        "hangup_cause": hangup_cause,
    }
