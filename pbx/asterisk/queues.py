"""A call's visits to Asterisk queues, from app_queue's AMI events.

The call assembler (:mod:`.assembler`) hands each queue event of a caller's
channel to the call's :class:`QueueVisits`; when the call is over,
:meth:`QueueVisits.fields` gives the queue keys of the call contract.

What app_queue (Asterisk 13-22) sends for a caller, from ``apps/app_queue.c``:

- ``QueueCallerJoin`` (Queue, Position, Count) when the caller enters;
- ``AgentCalled`` / ``AgentRingNoAnswer`` (RingTime in ms) per member rung;
- answered: ``QueueCallerLeave`` then ``AgentConnect`` (HoldTime, RingTime,
  Interface, MemberName), and ``AgentComplete`` (HoldTime, TalkTime,
  Reason caller/agent/transfer) when the conversation ends;
- not answered: ``record_abandoned()`` sends ``QueueCallerAbandon``
  (Position, OriginalPosition, HoldTime) for a caller who hung up *and* for
  a timeout, an empty queue or a withdrawal; ``QueueCallerLeave`` follows;
  then ``QUEUESTATUS`` is set (a ``VarSet``) for every way out but the
  caller hanging up (TIMEOUT, LEAVEEMPTY, ...). Leaving by a key sends no
  ``QueueCallerAbandon``.

So a visit is *answered* when a member connected, a *timeout* when
QUEUESTATUS says TIMEOUT, *other* when it names another way out, when the
caller left without an abandon (a key), or when the caller's channel went on
after leaving (dialled, was bridged, joined another queue: transferred out);
otherwise the caller hung up: *abandoned*. Telling a timeout from an abandon
needs the ``VarSet`` events (the manager user's ``dialplan`` read class).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from ..ingest import QUEUE_RESULTS

ANSWERED, ABANDONED, TIMEOUT, OTHER = QUEUE_RESULTS
# The caller's events app_queue sends (member events carry no caller).
CALLER_EVENTS = frozenset(
    {
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentRingNoAnswer",
        "AgentConnect",
        "AgentComplete",
    }
)
# QUEUESTATUS values set when a caller could not join at all: no QueueCallerJoin.
JOIN_FAILURES = frozenset({"FULL", "JOINEMPTY", "JOINUNAVAIL"})


def _number(message, key):
    with contextlib.suppress(TypeError, ValueError):
        return max(0, int(float(message.get(key))))
    return None


@dataclass(eq=False)
class Visit:
    """One stay of one caller's channel in one queue."""

    channel: str
    queue: str
    joined: float | None
    position: int = 0
    left: float | None = None
    # Set by QueueCallerAbandon: hung up, timed out, left an empty queue.
    abandon: float | None = None
    connected: float | None = None
    # Asterisk's own count of the seconds waited (HoldTime), when it sent one.
    hold: int | None = None
    member: str | None = None
    status: str | None = None
    moved_on: bool = False

    @property
    def began(self) -> float:
        """When the visit is first known to have been going on."""
        moments = (self.joined, self.abandon, self.left, self.connected)
        return next((moment for moment in moments if moment is not None), 0.0)

    @property
    def over(self) -> bool:
        return self.left is not None or self.abandon is not None

    def result(self) -> str:
        if self.connected is not None:
            return ANSWERED
        if self.status:
            return TIMEOUT if self.status == "TIMEOUT" else OTHER
        if self.moved_on or (self.left is not None and self.abandon is None):
            return OTHER
        return ABANDONED

    def wait(self, end: float) -> int:
        """Seconds waited: Asterisk's HoldTime, else from the event times."""
        if self.hold is not None:
            return self.hold
        if self.joined is None:
            return 0
        stop = self.connected or self.abandon or self.left or end
        return round(max(0.0, stop - self.joined))


@dataclass(eq=False)
class QueueVisits:
    """Every queue visit of one call's callers, in the order they began."""

    visits: list[Visit] = field(default_factory=list)

    def feed(self, event: str, message, channel: str, moment: float) -> None:
        """Take one of :data:`CALLER_EVENTS` about the caller ``channel``."""
        queue = message.get("Queue") or ""
        if event == "QueueCallerJoin":
            self.moved_on(channel)
            self.visits.append(Visit(channel, queue, moment, _number(message, "Position") or 0))
            return
        visit = self._current(channel, queue, moment)
        if event == "QueueCallerLeave":
            visit.left = visit.left or moment
        elif event == "QueueCallerAbandon":
            self._abandon(visit, message, moment)
        elif event == "AgentConnect":
            visit.connected = moment
            visit.hold = _number(message, "HoldTime")
            visit.member = message.get("Interface") or message.get("MemberName")
        elif event == "AgentComplete" and visit.hold is None:
            visit.hold = _number(message, "HoldTime")

    @staticmethod
    def _abandon(visit, message, moment):
        visit.abandon = moment
        visit.hold = _number(message, "HoldTime")
        if not visit.position:
            visit.position = _number(message, "OriginalPosition") or 0

    def _current(self, channel, queue, moment):
        """The caller's latest visit of ``queue``; a new one when its join was missed
        (the listener started while the caller waited)."""
        for visit in reversed(self.visits):
            if visit.channel == channel and visit.queue == queue:
                return visit
        visit = Visit(channel, queue, None)
        self.visits.append(visit)
        return visit

    def queue_status(self, channel: str, value: str | None, moment: float, queue: str) -> None:
        """QUEUESTATUS set on ``channel``: how its last visit ended.

        A join refused (FULL, JOINEMPTY) sends no QueueCallerJoin: it is a
        visit of its own, of ``queue`` (the Queue application's argument).
        """
        value = (value or "").strip().upper()
        if value in JOIN_FAILURES and queue:
            self.visits.append(Visit(channel, queue, moment, left=moment, hold=0, status=value))
            return
        visit = self._last_over(channel)
        if visit is not None and visit.connected is None and not visit.status:
            visit.status = value or None

    def moved_on(self, channel: str) -> None:
        """The caller's channel went on (dialled, was bridged, joined a queue)."""
        visit = self._last_over(channel)
        if visit is not None and visit.connected is None and not visit.status:
            visit.moved_on = True

    def _last_over(self, channel):
        mine = [visit for visit in self.visits if visit.channel == channel]
        return mine[-1] if mine and mine[-1].over else None

    def merge(self, other: QueueVisits) -> None:
        # A stable sort: visits begun at the same moment keep their order.
        self.visits = sorted(self.visits + other.visits, key=lambda visit: visit.began)

    def fields(self, end: float, answered_at: float | None = None) -> dict:
        """The call's queue keys (its last visit, the total wait); {} if it never queued.

        ``answered_at`` is when a person took the call: a visit still going on
        then, with its AgentConnect lost, was answered then.
        """
        if not self.visits:
            return {}
        for visit in self.visits:
            began = visit.joined if visit.joined is not None else end
            if answered_at is not None and not visit.over and began <= answered_at:
                visit.connected = visit.connected or answered_at
        last = self.visits[-1]
        return {
            "queue": last.queue,
            "queue_wait_seconds": sum(visit.wait(end) for visit in self.visits),
            "queue_result": last.result(),
            "queue_position": last.position,
        }
