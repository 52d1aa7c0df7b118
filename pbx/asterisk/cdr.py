"""Asterisk ``Master.csv`` call detail records turned into calls.

Two writers produce that file. ``cdr_csv`` writes the fixed columns below,
optionally followed by ``uniqueid`` (``loguniqueid``), ``userfield``
(``loguserfield``) and ``peeraccount, linkedid, sequence``
(``newcdrcolumns``), in that order (cdr_csv.c). ``cdr_custom`` with the
sample mapping from ``cdr_custom.conf`` starts with ``clid`` instead. Rows
carry no header, so the layout is recognised per row from its column count
and from where the dates and ids sit.

A CDR row describes one leg between party A (``channel``) and party B
(``dstchannel``); the rows of one call share a ``linkedid`` (or, without
``newcdrcolumns``, a ``uniqueid``). Unlike AMI, CDRs say nothing about
transfers or hangup causes, so those are inferred where possible and left
empty otherwise.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from os import PathLike
from pathlib import Path
from zoneinfo import ZoneInfo

from .channels import (
    PHONE,
    PLUMBING,
    TRUNK,
    channel_kind,
    clean_number,
    compile_trunks,
    extension_of,
    looks_dialable,
)
from .summary import (
    ANSWERED,
    BUSY,
    FAILED,
    INTERNAL,
    MISSED,
    OUTGOING,
    UNKNOWN,
    Route,
    call_record,
    direction_of,
    first_extension,
    ring_seconds,
)

_CSV_FIXED = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
)
_NEW_COLUMNS = ("peeraccount", "linkedid", "sequence")
_CUSTOM_SAMPLE = (
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "sequence",
)


def _csv_layouts() -> list[tuple[str, ...]]:
    """Every column order cdr_csv can write, most common first.

    The swapped variants accept files from tools that document the optional
    columns in another order; the row checks below tell them apart.
    """
    optional = [
        (),
        ("uniqueid",),
        ("userfield",),
        ("uniqueid", "userfield"),
        ("userfield", "uniqueid"),
    ]
    tails = [(), _NEW_COLUMNS, ("linkedid", "peeraccount", "sequence")]
    return [_CSV_FIXED + extra + tail for tail in tails for extra in optional]


LAYOUTS = {}
for _layout in [*_csv_layouts(), _CUSTOM_SAMPLE]:
    LAYOUTS.setdefault(len(_layout), []).append(_layout)

DIALPLAN_APPS = frozenset(
    {
        "voicemail",
        "voicemailmain",
        "playback",
        "background",
        "read",
        "record",
        "echo",
        "milliwatt",
        "musiconhold",
        "saydigits",
        "saynumber",
        "sayalpha",
        "festival",
        "directory",
        "meetme",
        "confbridge",
    }
)
_UNIQUEID = re.compile(r"^(?:[\w.-]+-)?\d+\.\d+$")
_AUDIO = re.compile(r"\.(wav|wav49|gsm|mp3|ogg|opus|sln\d*|g722|ulaw|alaw)$", re.IGNORECASE)


@dataclass(frozen=True)
class CdrError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class CdrResult:
    calls: list[dict]
    errors: list[CdrError]


@dataclass(eq=False)
class _Row:
    line: int
    src: str | None
    dst: str | None
    channel: str
    dstchannel: str
    lastapp: str
    disposition: str
    start: datetime
    answer: datetime | None
    end: datetime
    billsec: int
    uniqueid: str
    linkedid: str
    sequence: int
    userfield: str


class _BadRow(ValueError):
    pass


def _moment(value: str, zone: tzinfo, column: str, required: bool = True) -> datetime | None:
    value = value.strip()
    if not value:
        if required:
            raise _BadRow(f"{column} is empty")
        return None
    with contextlib.suppress(ValueError):
        # cdr_custom can log ${CDR(start,u)}: epoch seconds.
        return datetime.fromtimestamp(float(value), UTC)
    try:
        local = datetime.strptime(value.split(".")[0], "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise _BadRow(f"{column} {value!r} is not a date and time") from exc
    return local.replace(tzinfo=zone).astimezone(UTC)


def _seconds(value: str, column: str) -> int:
    try:
        number = float(value)
    except ValueError as exc:
        raise _BadRow(f"{column} {value!r} is not a number of seconds") from exc
    if number < 0:
        raise _BadRow(f"{column} {value!r} is negative")
    return round(number)


def _row(values: list[str], layout: tuple[str, ...], line: int, zone: tzinfo) -> _Row:
    fields = dict(zip(layout, values, strict=True))
    for column in ("uniqueid", "linkedid"):
        if fields.get(column) and not _UNIQUEID.match(fields[column]):
            raise _BadRow(f"{column} {fields[column]!r} is not an Asterisk unique id")
    for column in ("uniqueid", "linkedid"):
        if column in layout and not fields[column]:
            raise _BadRow(f"{column} is empty")
    sequence = fields.get("sequence", "")
    if sequence and not sequence.isdigit():
        raise _BadRow(f"sequence {sequence!r} is not a number")
    start = _moment(fields["start"], zone, "start")
    end = _moment(fields["end"], zone, "end")
    if end < start:
        raise _BadRow("end is before start")
    _seconds(fields["duration"], "duration")
    return _Row(
        line=line,
        src=clean_number(fields["src"]),
        dst=clean_number(fields["dst"]),
        channel=fields["channel"].strip(),
        dstchannel=fields["dstchannel"].strip(),
        lastapp=fields["lastapp"].strip(),
        disposition=fields["disposition"].strip().upper(),
        start=start,
        answer=_moment(fields["answer"], zone, "answer", required=False),
        end=end,
        billsec=_seconds(fields["billsec"], "billsec"),
        uniqueid=fields.get("uniqueid", ""),
        linkedid=fields.get("linkedid", ""),
        sequence=int(sequence) if sequence else 0,
        userfield=fields.get("userfield", "").strip(),
    )


def _is_header(values: list[str]) -> bool:
    lowered = [value.strip().lower() for value in values]
    return "start" in lowered and lowered[0] in ("accountcode", "clid")


def read_rows(lines: Iterable[str], timezone: str = "UTC") -> tuple[list[_Row], list[CdrError]]:
    """Parse Master.csv lines into rows; bad rows become ``CdrError``s.

    ``timezone`` is the PBX's zone (a zoneinfo name): cdr_csv writes local
    time unless ``usegmtime=yes``, in which case pass ``"UTC"``.
    """
    zone = ZoneInfo(timezone)
    rows, errors = [], []
    reader = csv.reader(lines)
    line = 0
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(CdrError(line, f"unreadable CSV: {exc}"))
            continue
        if not values or (not rows and not errors and _is_header(values)):
            continue
        layouts = LAYOUTS.get(len(values))
        if not layouts:
            errors.append(CdrError(line, f"{len(values)} columns; Master.csv rows have 16 to 21"))
            continue
        problems = []
        for layout in layouts:
            try:
                rows.append(_row(values, layout, line, zone))
                break
            except _BadRow as exc:
                problems.append(str(exc))
        else:
            errors.append(CdrError(line, problems[0]))
    return rows, errors


def parse_cdr(lines: Iterable[str], trunks: Sequence[str], timezone: str = "UTC") -> CdrResult:
    """Calls and row errors from Master.csv lines (any iterable of str)."""
    rows, errors = read_rows(lines, timezone)
    calls = calls_from_rows(rows, trunks, errors)
    return CdrResult(calls, sorted(errors, key=lambda error: error.line))


def parse_cdr_file(path: str | PathLike, trunks: Sequence[str], timezone: str = "UTC") -> CdrResult:
    with Path(path).open(encoding="utf-8", errors="replace", newline="") as handle:
        return parse_cdr(handle, trunks, timezone)


def calls_from_rows(
    rows: Iterable[_Row], trunks: Sequence[str], errors: list[CdrError] | None = None
) -> list[dict]:
    """Group rows into calls (by linkedid, else uniqueid) and summarise each.

    Rows of dialplan plumbing alone (``Local/`` helpers) are no call. Rows
    naming no channel at all are corrupt: they are named in ``errors`` (a
    list of :class:`CdrError`), so nothing disappears unseen.
    """
    compiled = compile_trunks(trunks)
    groups = {}
    for row in rows:
        key = row.linkedid or row.uniqueid or f"{row.channel}@{row.start.isoformat()}"
        groups.setdefault(key, []).append(row)
    calls = []
    for key, group in groups.items():
        call = _summarize(key, group, compiled)
        if call:
            calls.append(call)
        elif errors is not None and not any(row.channel or row.dstchannel for row in group):
            message = f"call {key}: its rows name no channel; the call was not taken"
            errors.append(CdrError(min(row.line for row in group), message))
    return calls


def _status(rows: list[_Row], answered: bool) -> str:
    if answered:
        return ANSWERED
    dispositions = {row.disposition for row in rows}
    # Still ANSWERED here means the dialplan answered (IVR, voicemail, queue).
    if dispositions & {"NO ANSWER", "ANSWERED"}:
        return MISSED
    if dispositions == {"BUSY"}:
        return BUSY
    if dispositions and dispositions <= {"FAILED", "CONGESTION"}:
        return FAILED
    if dispositions and dispositions <= {"BUSY", "FAILED", "CONGESTION"}:
        return BUSY
    return UNKNOWN


def _kinds(rows: list[_Row], trunks: list[re.Pattern]) -> dict[str, str]:
    """Every channel the rows name, in order of appearance, with its kind."""
    kind = {}
    for row in rows:
        for name in (row.channel, row.dstchannel):
            if name and name not in kind:
                kind[name] = channel_kind(name, trunks)
    return kind


def _answered(legs: list[_Row]) -> list[_Row]:
    """The legs a person answered.

    ANSWERED only counts on a leg to a party (not a Local half) that was not
    left in a dialplan application such as VoiceMail or Playback.
    """
    return [
        row
        for row in legs
        if row.disposition == "ANSWERED" and row.lastapp.lower() not in DIALPLAN_APPS
    ]


def _summarize(key: str, rows: list[_Row], trunks: list[re.Pattern]) -> dict | None:
    """The call of one group of rows; None when they name no party."""
    rows.sort(key=lambda row: (row.start, row.sequence, row.line))
    kind = _kinds(rows, trunks)
    parties = [name for name, what in kind.items() if what != PLUMBING]
    if not parties:
        return None
    caller = parties[0]
    direction = direction_of([kind[name] for name in parties])
    legs = [
        row
        for row in rows
        if row.dstchannel and kind[row.dstchannel] != PLUMBING and row.dstchannel != caller
    ]
    answered = _answered(legs)
    answer = min(answered, key=lambda row: (row.answer or row.start, row.line), default=None)
    if direction == OUTGOING:
        route = _outgoing_route(rows, caller, legs, kind)
    else:
        route = _incoming_route(rows, caller, direction, legs, answer, kind)
    return call_record(
        external_id=key,
        direction=direction,
        status=_status(rows, answer is not None),
        route=route,
        # CDRs record no transfer; a second person answering is one.
        transferred=len({extension_of(row.dstchannel) for row in answered}) > 1,
        start=rows[0].start.isoformat(timespec="seconds"),
        end=max(row.end for row in rows).isoformat(timespec="seconds"),
        ring_seconds=ring_seconds(
            [row.start for row in legs],
            (answer.answer or answer.start) if answer is not None else None,
            [row.end for row in legs],
        ),
        # billsec only means talk time on a leg a person answered.
        talk_seconds=sum(row.billsec for row in answered),
        recording=next((row.userfield for row in rows if _AUDIO.search(row.userfield)), None),
        hangup_cause=None,
    )


def _outgoing_route(rows: list[_Row], caller: str, legs: list[_Row], kind: dict[str, str]) -> Route:
    first = rows[0]
    extension = extension_of(caller)
    trunk_leg = next((row for row in legs if kind[row.dstchannel] == TRUNK), first)
    to_number = trunk_leg.dst if looks_dialable(trunk_leg.dst) else first.dst
    return Route(first.src or extension, to_number, extension, extension, False)


def _incoming_route(
    rows: list[_Row],
    caller: str,
    direction: str,
    legs: list[_Row],
    answer: _Row | None,
    kind: dict[str, str],
) -> Route:
    """The route of an incoming or internal call."""
    # CDRs only have whole seconds: legs starting in the first ringing second
    # rang together (ring group, queue ringall).
    wave = [row for row in legs if row.start == legs[0].start] if legs else []
    first_round = {extension_of(row.dstchannel) for row in wave}
    phones = [row.dstchannel for row in wave + legs if kind[row.dstchannel] == PHONE]
    answerer = extension_of(answer.dstchannel) if answer is not None else None
    first = first_extension(answerer, first_round, [extension_of(name) for name in phones])
    extension = answerer if answer is not None and kind[answer.dstchannel] == PHONE else first
    reached = [answer] if answer is not None else legs
    forwarded = any(extension_of(row.dstchannel) not in first_round for row in reached)
    from_number = rows[0].src or (extension_of(caller) if direction == INTERNAL else None)
    to_number = next((row.dst for row in rows if looks_dialable(row.dst)), rows[0].dst)
    return Route(from_number, to_number, extension, first, forwarded)
