"""Asterisk's queue log as a source of calls and of queue members' events.

app_queue writes one line per queue event to ``/var/log/asterisk/queue_log``
(``time|callid|queuename|agent|event|data1|data2|...``, time in epoch
seconds) or, on realtime set-ups, one row to a ``queue_log`` table (``time``,
``callid``, ``queuename``, ``agent``, ``event``, ``data1``..``data5`` or one
``data``). The fields of each event, from ``apps/app_queue.c``:

======================  =================================================
ENTERQUEUE              url | caller id | position (Asterisk 18+) | name
CONNECT                 hold time | member's channel uniqueid | ring time
COMPLETECALLER/-AGENT   hold time | talk time | position at entry
(BLIND)TRANSFER         extension | context | hold | talk | position
ATTENDEDTRANSFER        kind | target(s) ... | hold | talk | position
ABANDON, EXITEMPTY,     position | position at entry | wait
EXITWITHTIMEOUT,
WITHDRAW
EXITWITHKEY             key | position | position at entry | wait
RINGNOANSWER            ring time in milliseconds
PAUSE/UNPAUSE, ...      reason (member events: callid NONE or MANAGER)
======================  =================================================

The callid is the caller channel's uniqueid, which is the call's linkedid
(the external id of the AMI assembler and of CDRs) when the caller's channel
began the call, as a trunk's does. Each call becomes a ``queue_only`` item:
ingestion writes only its queue fields onto a call another source delivered,
and creates the call from it otherwise: incoming, answered when a member
connected (its extension, CONNECT's ring time, the talk times), else missed
(the first member rung, their ring times up to the wait), from the caller ID
of ENTERQUEUE, to FreePBX's DID line if any, from the first ENTERQUEUE to the
last line. Through two queues, the queue keys are the last visit's with the
total wait, as the AMI assembler gives them (:mod:`.queues`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from ..ingest import QUEUE_RESULTS
from .cdr_database import connect_readonly
from .channels import clean_number, member_extension

ANSWERED, ABANDONED, TIMEOUT, OTHER = QUEUE_RESULTS
# Unanswered ways out: (result, index of the position at entry, index of the wait).
LEFT = {
    "ABANDON": (ABANDONED, 1, 2),
    "EXITWITHTIMEOUT": (TIMEOUT, 1, 2),
    "EXITEMPTY": (OTHER, 1, 2),
    "WITHDRAW": (OTHER, 1, 2),
    "EXITWITHKEY": (OTHER, 2, 3),
}
# Ends of an answered visit: indexes of (hold, talk, position at entry).
COMPLETED = {
    "COMPLETECALLER": (0, 1, 2),
    "COMPLETEAGENT": (0, 1, 2),
    "TRANSFER": (2, 3, 4),
    "BLINDTRANSFER": (2, 3, 4),
    "ATTENDEDTRANSFER": (-3, -2, -1),
}
MEMBER_EVENTS = frozenset(
    {"PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL", "ADDMEMBER", "REMOVEMEMBER"}
)
# Callids of lines that are about no call.
NO_CALL = frozenset({"", "NONE", "MANAGER", "CLI", "REALTIME"})
# A visit with no end after this long lost its end (a restart): it pins nothing.
MAX_OPEN_SECONDS = 6 * 3600


class QueueLogError(ValueError):
    """A line or row that is not a queue log entry."""


class QueueLogRow(NamedTuple):
    time: float  # epoch seconds
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]
    line: str = ""  # the file's line, kept for the calls not yet emitted


class MemberEvent(NamedTuple):
    """A queue member paused, unpaused, added or removed (for the wallboard)."""

    at: str  # ISO 8601, UTC
    queue: str  # "NONE" for PAUSEALL / UNPAUSEALL
    member: str
    extension: str
    event: str
    reason: str


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def parse_line(line: str) -> QueueLogRow:
    """One line of the queue log file; raises :class:`QueueLogError`."""
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5:
        raise QueueLogError(f"{len(parts)} fields, a queue log line has at least 5")
    try:
        moment = float(parts[0])
    except ValueError:
        raise QueueLogError(f"time {parts[0]!r} is not epoch seconds") from None
    callid, queue, agent, event = (part.strip() for part in parts[1:5])
    return QueueLogRow(moment, callid, queue, agent, event.upper(), tuple(parts[5:]), line)


def _int(data: tuple[str, ...], index: int) -> int | None:
    try:
        return max(0, int(float(data[index])))
    except (IndexError, ValueError):
        return None


@dataclass
class _Visit:
    queue: str
    entered: float | None
    position: int = 0
    result: str | None = None
    wait: int = 0
    ring: int = 0
    talk: int = 0
    agent: str = ""
    connected: bool = False
    ended: bool = False
    rang: list[str] = field(default_factory=list)
    rna_ms: int = 0


def member_events(rows: Iterable[QueueLogRow]) -> list[MemberEvent]:
    """The members' pause, unpause, add and remove events among ``rows``."""
    return [
        MemberEvent(
            _iso(row.time),
            row.queue,
            row.agent,
            member_extension(row.agent),
            row.event,
            row.data[0] if row.data else "",
        )
        for row in rows
        if row.event in MEMBER_EVENTS
    ]


# -- calls -------------------------------------------------------------------


def _visits(rows: list[QueueLogRow]) -> tuple[list[_Visit], dict]:
    """The queue visits of one callid's rows, and the caller's number and DID."""
    visits, info = [], {"from_number": "", "to_number": ""}
    for row in rows:
        if row.event == "ENTERQUEUE":
            visits.append(_Visit(row.queue, row.time, _int(row.data, 2) or 0))
            caller = row.data[1] if len(row.data) > 1 else ""
            info["from_number"] = info["from_number"] or clean_number(caller) or ""
        elif row.event == "DID" and row.data:
            info["to_number"] = clean_number(row.data[0]) or ""
        else:
            visit = next((v for v in reversed(visits) if v.queue == row.queue), None)
            if visit is not None and not visit.ended:
                _apply(visit, row)
    return visits, info


def _apply(visit: _Visit, row: QueueLogRow) -> None:
    data = row.data
    if row.event == "CONNECT":
        visit.connected, visit.result, visit.agent = True, ANSWERED, row.agent
        visit.wait, visit.ring = _int(data, 0) or 0, _int(data, 2) or 0
    elif row.event in COMPLETED:
        hold, talk, position = COMPLETED[row.event]
        if not visit.connected:
            visit.connected, visit.result, visit.agent = True, ANSWERED, row.agent
            visit.wait = _int(data, hold) or 0
        visit.talk, visit.ended = _int(data, talk) or 0, True
        visit.position = visit.position or _int(data, position) or 0
    elif row.event in LEFT:
        result, position, wait = LEFT[row.event]
        visit.result, visit.wait, visit.ended = result, _int(data, wait) or 0, True
        visit.position = visit.position or _int(data, position) or 0
    elif row.event == "RINGNOANSWER":
        visit.rna_ms += _int(data, 0) or 0
        visit.rang.append(row.agent)
    elif row.event == "SYSCOMPAT":
        visit.result, visit.ended = OTHER, True


def _item(callid: str, visits: list[_Visit], info: dict, last: float) -> dict:
    """The queue_only call item of a callid whose visits are known."""
    answered = [visit for visit in visits if visit.connected]
    took = answered[-1] if answered else None
    wait = sum(visit.wait for visit in visits)
    rung = next((agent for visit in visits for agent in visit.rang), "")
    # Unanswered: the members' ring times, at most the wait (ringall rings them at once).
    missed_ring = min(round(sum(visit.rna_ms for visit in visits) / 1000), wait)
    final = visits[-1]
    return {
        "external_id": callid,
        "direction": "incoming",
        "status": "answered" if took else "missed",
        **info,
        "extension": member_extension(took.agent if took else rung),
        "start": _iso(visits[0].entered),
        "end": _iso(last),
        "ring_seconds": took.ring if took else missed_ring,
        "talk_seconds": sum(visit.talk for visit in visits),
        "queue": final.queue,
        "queue_wait_seconds": wait,
        "queue_result": final.result or OTHER,
        "queue_position": final.position,
        "queue_only": True,
    }


@dataclass
class Worked:
    """What :func:`calls_from_rows` made of some rows."""

    calls: list[dict] = field(default_factory=list)
    # Rows of the calls not emitted yet: a visit still open, or too recent.
    pending: list[QueueLogRow] = field(default_factory=list)
    # Calls given up: a visit with no end for max_open_seconds, never answered.
    dropped: list[str] = field(default_factory=list)


def calls_from_rows(
    rows: Iterable[QueueLogRow],
    now: float | None = None,
    settle_seconds: float = 0,
    max_open_seconds: float = MAX_OPEN_SECONDS,
) -> Worked:
    """One ``queue_only`` call item per callid whose queue visits are all over.

    ``now`` (epoch seconds) is the moment up to which the log is complete;
    a call with a row less than ``settle_seconds`` before it waits (a second
    queue may follow). None: every visit with an end is over, now. A call
    whose visits have no end (or whose ENTERQUEUE was not read) waits for
    ``max_open_seconds``, then is given up, unless a member had answered it.
    """
    groups = {}
    for row in sorted(rows, key=lambda row: row.time):
        if row.callid not in NO_CALL and row.event not in MEMBER_EVENTS:
            groups.setdefault(row.callid, []).append(row)
    worked = Worked()
    for callid, group in groups.items():
        known = _visits(group)
        _sort_call(worked, callid, group, known, now, settle_seconds, max_open_seconds)
    return worked


def _sort_call(worked, callid, group, known, now, settle, max_open):
    visits, info = known
    last = group[-1].time
    quiet = None if now is None else now - last
    # No ENTERQUEUE (yet): FreePBX's DID line comes first; or the log was
    # followed from its middle, and the call's start was never read.
    if not visits or any(not visit.ended for visit in visits):
        if quiet is None or quiet < max_open:
            worked.pending += group
        elif any(visit.connected for visit in visits):
            worked.calls.append(_item(callid, visits, info, last))  # its end was lost
        else:
            worked.dropped.append(callid)
    elif quiet is not None and quiet < settle:
        worked.pending += group
    else:
        worked.calls.append(_item(callid, visits, info, last))


# -- the file ----------------------------------------------------------------


@dataclass
class QueueLogPosition:
    """Where a queue log file was read up to, kept by the caller between reads.

    ``pending`` holds the lines of the calls not emitted yet, so a call is
    summarised whole once its visits end, even across a rotation.
    """

    inode: int = 0
    offset: int = 0
    pending: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"inode": self.inode, "offset": self.offset, "pending": self.pending})

    @classmethod
    def from_json(cls, text: str | None) -> QueueLogPosition:
        """The position ``to_json`` wrote; a fresh one for nothing or garbage."""
        try:
            data = json.loads(text or "{}")
            return cls(int(data["inode"]), int(data["offset"]), [str(x) for x in data["pending"]])
        except (ValueError, TypeError, KeyError):
            return cls()


@dataclass
class FileRead:
    calls: list[dict]
    members: list[MemberEvent]
    position: QueueLogPosition
    errors: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _read_new_bytes(path, position, max_bytes):
    """(inode, offset read from, bytes of whole lines, at the end of the file)."""
    with open(path, "rb") as handle:
        status = os.fstat(handle.fileno())
        offset = position.offset
        # Another file under the name (rotated) or a shorter one (truncated): from its start.
        if status.st_ino != position.inode or status.st_size < offset:
            offset = 0
        handle.seek(offset)
        data = handle.read(max_bytes)
    whole = data[: data.rfind(b"\n") + 1]
    return status.st_ino, offset, whole, offset + len(data) >= status.st_size


def _parse_lines(data: bytes, offset: int) -> tuple[list[QueueLogRow], list[str]]:
    rows, errors = [], []
    for line in data.decode("utf-8", "replace").splitlines(keepends=True):
        if line.strip():
            try:
                rows.append(parse_line(line))
            except QueueLogError as exc:
                errors.append(f"at byte {offset}: {exc}")
        offset += len(line.encode("utf-8"))
    return rows, errors


def read_queue_log(
    path: str | os.PathLike,
    position: QueueLogPosition | None = None,
    *,
    now: float | None = None,
    settle_seconds: float = 120,
    max_open_seconds: float = MAX_OPEN_SECONDS,
    max_bytes: int = 8 << 20,
) -> FileRead:
    """The calls and member events written since ``position``, and the next one.

    ``now`` defaults to the clock; at most ``max_bytes`` are read a time.
    Lines not yet ended by a newline are left for the next read.
    """
    position = position or QueueLogPosition()
    inode, offset, data, at_end = _read_new_bytes(path, position, max_bytes)
    rows, errors = _parse_lines(data, offset)
    carried = [parse_line(line) for line in position.pending]
    # Mid-file, the log is complete up to its newest line read, not up to now.
    newest = max((row.time for row in rows), default=None)
    complete_until = (time.time() if now is None else now) if at_end else newest
    worked = calls_from_rows(carried + rows, complete_until, settle_seconds, max_open_seconds)
    pending = [row.line for row in worked.pending]
    return FileRead(
        worked.calls,
        member_events(rows),
        QueueLogPosition(inode, offset + len(data), pending),
        errors,
        worked.dropped,
    )


# -- the realtime table ------------------------------------------------------


class QueueLogDatabaseError(RuntimeError):
    """The queue_log table could not be read; nothing was taken from it."""


@dataclass
class TablePull:
    calls: list[dict]
    members: list[MemberEvent]
    # The newest row time taken (naive UTC), None when nothing was new.
    watermark: datetime | None
    rows: int = 0


def _row_of_record(record: dict, zone: ZoneInfo) -> QueueLogRow:
    """A table row as a file line would give it (data1..data5, or one data)."""
    if "data1" in record:
        data = [record.get(f"data{i}") or "" for i in range(1, 6)]
        while data and not data[-1]:
            data.pop()
        # A sixth field and beyond land in data5 (ATTENDEDTRANSFER's LINK).
        data = "|".join(data).split("|") if data else []
    else:
        data = (record.get("data") or "").split("|") if record.get("data") else []
    moment = record["at"].replace(tzinfo=zone).timestamp()
    fields = (str(record.get(key) or "").strip() for key in ("callid", "queuename", "agent"))
    callid, queue, agent = fields
    return QueueLogRow(moment, callid, queue, agent, (record["event"] or "").upper(), tuple(data))


@dataclass
class QueueLogSource:
    """The ``queue_log`` table of a realtime Asterisk, read like
    :class:`.cdr_database.CdrSource`: rows up to a settle delay before now,
    after a watermark, and every row of the calls they belong to again, so a
    call is summarised whole whichever pull saw its first row."""

    host: str | None
    port: int | None
    dbname: str
    user: str | None
    password: str | None
    table: str = "queue_log"
    connect_timeout: int = 10

    def _connect(self, timezone):
        return connect_readonly(self, timezone, QueueLogDatabaseError, "the queue log database")

    def pull(
        self,
        since: datetime | None,
        settle_seconds: int = 60,
        limit: int = 5000,
        timezone: str = "UTC",
    ) -> TablePull:
        """Calls and member events of rows after ``since`` (naive UTC; None: all).

        ``timezone`` is the zone the PBX writes the times in (UTC with
        ``queue_log_realtime_use_gmt = yes``). Raises
        :class:`QueueLogDatabaseError`; the caller keeps its old watermark then.
        """
        zone = ZoneInfo(timezone)
        since_local = (
            since.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) if since else None
        )
        connection = self._connect(timezone)
        try:
            with connection, connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cr:
                select = self._select(cr)
                new = _new_rows(cr, select, since_local, settle_seconds, limit)
                callids = sorted({r["callid"] for r in new if (r["callid"] or "") not in NO_CALL})
                query = sql.SQL("{} WHERE callid = ANY(%s) AND at IS NOT NULL ORDER BY at")
                cr.execute(query.format(select), [callids])
                records = cr.fetchall()
        except psycopg2.Error as exc:
            raise QueueLogDatabaseError(f"reading the queue log table failed: {exc}") from exc
        finally:
            connection.close()
        if not new:
            return TablePull([], [], None)
        worked = calls_from_rows(_row_of_record(record, zone) for record in records)
        watermark = max(r["at"] for r in new).replace(tzinfo=zone).astimezone(UTC)
        members = member_events(_row_of_record(record, zone) for record in new)
        return TablePull(worked.calls, members, watermark.replace(tzinfo=None), len(new))

    def _select(self, cr):
        """SELECT of the table's columns: data1..data5 or data, time as ``at``."""
        table = sql.Identifier(*self.table.split("."))
        cr.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(table))
        names = {column.name for column in cr.description}
        data = [f"data{i}" for i in range(1, 6)] if "data1" in names else ["data"]
        missing = {"time", "callid", "queuename", "agent", "event", *data} - names
        if missing:
            raise QueueLogDatabaseError(
                f"the table {self.table} has no {', '.join(sorted(missing))}"
            )
        columns = [
            sql.Identifier(name) for name in ("callid", "queuename", "agent", "event", *data)
        ]
        return sql.SQL(
            "SELECT * FROM (SELECT {}, CAST(time AS timestamp) AS at FROM {}) AS q"
        ).format(sql.SQL(", ").join(columns), table)


def _new_rows(cr, select, since_local, settle_seconds, limit):
    """The rows after the watermark; those at the last row's moment all come along."""
    query = sql.SQL(
        "{} WHERE (%(since)s::timestamp IS NULL OR at > %(since)s)"
        " AND at <= LOCALTIMESTAMP - %(settle)s * interval '1 second' ORDER BY at LIMIT %(limit)s"
    ).format(select)
    cr.execute(query, {"since": since_local, "settle": settle_seconds, "limit": limit})
    records = cr.fetchall()
    if len(records) == limit:
        # Rows at the same moment as the last one must come along, or the next
        # pull (strictly after the watermark) would skip them.
        cr.execute(sql.SQL("{} WHERE at = %(at)s").format(select), {"at": records[-1]["at"]})
        records = [r for r in records if r["at"] != records[-1]["at"]] + cr.fetchall()
    return records
