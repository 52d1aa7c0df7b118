"""Live events: who waits in which queue, which agents are free, which calls ring or talk.

The wallboard's feed. A PBX (the AMI listener, :mod:`pbx.listener.live`, or
any other PBX) posts batches of them to Odoo's live-event route, with the
same secret as the calls webhook::

    POST {url}/phone_call_accounting/pbx/{pbx_id}/live
    Authorization: Bearer {token}
    {"events": [
      {"type": "caller_join", "queue": "support", "call_id": "1732701234.56",
       "number": "+31205550101", "name": "Bakkerij Korst", "position": 1,
       "at": "2026-11-20T09:30:00+01:00"},
      {"type": "caller_leave", "queue": "support", "call_id": "1732701234.56",
       "result": "answered", "at": "..."},
      {"type": "member", "queue": "support", "member": "PJSIP/201", "extension": "201",
       "name": "Rita", "status": "available", "at": "..."},
      {"type": "member_removed", "queue": "support", "member": "PJSIP/201", "at": "..."},
      {"type": "call", "call_id": "...", "state": "ringing", "from_number": "...",
       "to_number": "...", "extension": "201", "at": "..."},
      {"type": "snapshot", "queues": [{"queue": "support", "callers": [...], "members": [...]}],
       "at": "..."}
    ]}

A snapshot replaces the live state of the queues it names (the callers and
members listed are all there are); the other events change one caller,
member or call. ``at`` (ISO 8601 with a UTC offset) orders them: an event
older than what a row already shows changes nothing. :func:`check_events`
reads a posted body for the route.
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_EVENTS = 2000
MAX_SNAPSHOT_QUEUES = 500
MAX_SNAPSHOT_ROWS = 2000
MAX_TEXT = 128

CALLER_JOIN = "caller_join"
CALLER_LEAVE = "caller_leave"
MEMBER = "member"
MEMBER_REMOVED = "member_removed"
CALL = "call"
SNAPSHOT = "snapshot"
TYPES = (CALLER_JOIN, CALLER_LEAVE, MEMBER, MEMBER_REMOVED, CALL, SNAPSHOT)

LEAVE_RESULTS = ("answered", "abandoned", "timeout", "other")
MEMBER_STATUSES = ("available", "on_call", "ringing", "paused", "unavailable")
CALL_STATES = ("ringing", "talking", "ended")


class LiveEventError(ValueError):
    """A live-event body that cannot be read; ``str()`` says why."""


def parse_at(value: object, where: str) -> datetime | None:
    """``at`` as a naive UTC datetime (None when absent).

    >>> parse_at("2026-11-20T09:30:00+01:00", "event 1")
    datetime.datetime(2026, 11, 20, 8, 30)
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LiveEventError(f'{where}: "at" must be an ISO 8601 date and time')
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise LiveEventError(f'{where}: "at" is not an ISO 8601 date and time: {value!r}') from exc
    if moment.tzinfo is None:
        raise LiveEventError(f'{where}: "at" must carry its UTC offset (as in +01:00 or Z)')
    return moment.astimezone(UTC).replace(tzinfo=None)


def _text(event: dict, key: str, where: str, required: bool = False) -> str:
    value = event.get(key)
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise LiveEventError(f'{where}: "{key}" must be a string')
    value = str(value).strip()
    if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
        raise LiveEventError(f'{where}: "{key}" is too long or holds control characters')
    if required and not value:
        raise LiveEventError(f'{where}: "{key}" is required')
    return value


def _choice(event: dict, key: str, choices: tuple, where: str, default: str | None = None) -> str:
    value = event.get(key, default)
    if value not in choices:
        raise LiveEventError(f'{where}: "{key}" must be one of {", ".join(choices)}')
    return value


def _position(event: dict, where: str) -> int:
    value = event.get("position")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 100000:
        raise LiveEventError(f'{where}: "position" must be a whole number from 0')
    return value


def _caller(event: dict, where: str, at: datetime | None, queue: str) -> dict:
    return {
        "type": CALLER_JOIN,
        "queue": queue,
        "call_id": _text(event, "call_id", where, required=True),
        "number": _text(event, "number", where),
        "name": _text(event, "name", where),
        "position": _position(event, where),
        "at": parse_at(event.get("at"), where) or at,
    }


def _member(event: dict, where: str, at: datetime | None, queue: str) -> dict:
    return {
        "type": MEMBER,
        "queue": queue,
        "member": _text(event, "member", where, required=True),
        "extension": _text(event, "extension", where),
        "name": _text(event, "name", where),
        "status": _choice(event, "status", MEMBER_STATUSES, where),
        "at": parse_at(event.get("at"), where) or at,
    }


def _rows(value: object, where: str, key: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_SNAPSHOT_ROWS:
        raise LiveEventError(f'{where}: "{key}" must be a list of at most {MAX_SNAPSHOT_ROWS}')
    for index, row in enumerate(value, 1):
        if not isinstance(row, dict):
            raise LiveEventError(f"{where}, {key} {index}: must be an object")
    return value


def _snapshot(event: dict, where: str, at: datetime | None) -> dict:
    queues = event.get("queues")
    if not isinstance(queues, list) or len(queues) > MAX_SNAPSHOT_QUEUES:
        raise LiveEventError(
            f'{where}: "queues" must be a list of at most {MAX_SNAPSHOT_QUEUES} queues'
        )
    checked = {}
    for index, entry in enumerate(queues, 1):
        place = f"{where}, queue {index}"
        if not isinstance(entry, dict):
            raise LiveEventError(f"{place}: must be an object")
        queue = _text(entry, "queue", place, required=True)
        callers = [
            _caller(row, f"{place}, caller {n}", at, queue)
            for n, row in enumerate(_rows(entry.get("callers"), place, "callers"), 1)
        ]
        members = [
            _member(row, f"{place}, member {n}", at, queue)
            for n, row in enumerate(_rows(entry.get("members"), place, "members"), 1)
        ]
        # Named twice: the last entry counts, as a later event would.
        checked[queue] = {"queue": queue, "callers": callers, "members": members}
    return {"type": SNAPSHOT, "queues": list(checked.values()), "at": at}


def check_event(event: object, where: str = "event") -> dict:
    """One checked event, its texts stripped and ``at`` a naive UTC datetime or None.

    >>> check_event({"type": "caller_leave", "queue": "support", "call_id": "7"})["result"]
    'other'
    """
    if not isinstance(event, dict):
        raise LiveEventError(f"{where}: must be an object")
    kind = event.get("type")
    if kind not in TYPES:
        raise LiveEventError(f'{where}: "type" must be one of {", ".join(TYPES)}')
    at = parse_at(event.get("at"), where)
    if kind == SNAPSHOT:
        return _snapshot(event, where, at)
    if kind == CALL:
        return {
            "type": CALL,
            "call_id": _text(event, "call_id", where, required=True),
            "state": _choice(event, "state", CALL_STATES, where),
            "from_number": _text(event, "from_number", where),
            "to_number": _text(event, "to_number", where),
            "extension": _text(event, "extension", where),
            "at": at,
        }
    queue = _text(event, "queue", where, required=True)
    if kind == CALLER_JOIN:
        return _caller(event, where, at, queue)
    if kind == MEMBER:
        return _member(event, where, at, queue)
    if kind == CALLER_LEAVE:
        return {
            "type": CALLER_LEAVE,
            "queue": queue,
            "call_id": _text(event, "call_id", where, required=True),
            "result": _choice(event, "result", LEAVE_RESULTS, where, default="other"),
            "at": at,
        }
    return {
        "type": MEMBER_REMOVED,
        "queue": queue,
        "member": _text(event, "member", where, required=True),
        "at": at,
    }


def check_events(body: object) -> list[dict]:
    """The checked events of a posted body ``{"events": [...]}``, in order.

    Raises :class:`LiveEventError` for the first problem found: the whole
    batch is refused, nothing of it applied.

    >>> [e["type"] for e in check_events({"events": [{"type": "member_removed",
    ...     "queue": "support", "member": "PJSIP/201"}]})]
    ['member_removed']
    """
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise LiveEventError('the body must be a JSON object {"events": [...]}')
    events = body["events"]
    if len(events) > MAX_EVENTS:
        raise LiveEventError(f"at most {MAX_EVENTS} events per request, not {len(events)}")
    return [check_event(event, f"event {index}") for index, event in enumerate(events, 1)]


def queue_names(events: list[dict]) -> list[str]:
    """Every queue named by checked ``events``, in order of first mention."""
    names = {}
    for event in events:
        if event["type"] == SNAPSHOT:
            names.update((entry["queue"], True) for entry in event["queues"])
        elif "queue" in event:
            names[event["queue"]] = True
    return list(names)
