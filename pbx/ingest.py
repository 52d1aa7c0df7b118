"""Validation of call items before they reach the database.

Every road into the addon (AMI listener, webhook, CDR import, demo data)
hands ``phone.call._ingest_calls`` plain dicts; this module turns one such
dict into clean, typed values or a reason a person can act on. It never
guesses: a missing timezone or an unknown status word rejects the item.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, timedelta, timezone

# The call words: every source (AMI assembler, CDRs, webhooks, demo) hands these to
# _ingest_calls, and the models offer them as choices.
DIRECTIONS = ("incoming", "outgoing", "internal")
STATUSES = ("answered", "missed", "busy", "failed", "unknown")
# The source of the calls whose caller names none; with the external id, a
# call's source identifies it.
DEFAULT_SOURCE = "api"
KNOWN_KEYS = frozenset(
    {
        "external_id",
        "direction",
        "status",
        "from_number",
        "to_number",
        "extension",
        "first_extension",
        "forwarded",
        "transferred",
        "start",
        "end",
        "ring_seconds",
        "talk_seconds",
        "recording",
        "hangup_cause",
        "source",
        "call_id",
        "queue",
        "queue_wait_seconds",
        "queue_result",
        "queue_position",
        "queue_only",
    }
)
# How a caller left a queue: answered by a member, hung up while waiting
# (abandoned), the queue's timeout, or anything else (left empty, by key,
# full, transferred out).
QUEUE_RESULTS = ("answered", "abandoned", "timeout", "other")
QUEUE_KEYS = ("queue", "queue_wait_seconds", "queue_result", "queue_position")
# A queue position beyond this is a PBX's corrupt counter, not a line of callers.
MAX_POSITION = 100_000
MAX_TEXT = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A call longer than a day is a clock or PBX error, not a conversation.
MAX_SECONDS = 86400
# Calls from before this or from more than a day ahead come from a PBX's wrong clock.
EARLIEST_START = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_AHEAD = timedelta(days=1)


class InvalidCall(ValueError):
    """Raised with the reason an item cannot become a call."""


def parse_start(value: object) -> datetime:
    """Return an aware UTC datetime from ISO 8601 text or a datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidCall(f"start {value!r} is not an ISO 8601 date and time") from exc
    else:
        raise InvalidCall("start is missing")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidCall(f"start {value!s} has no timezone (add Z or an offset such as +01:00)")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError as exc:
        raise InvalidCall(f"start {value!s} is out of range") from exc


def _check_window(moment, key="start", now=None):
    now = now or datetime.now(timezone.utc)
    if moment < EARLIEST_START or moment > now + MAX_AHEAD:
        raise InvalidCall(
            f"{key} {moment.isoformat()} is not a plausible call time "
            f"(from {EARLIEST_START.year} to a day ahead): check the PBX's clock"
        )


def _check_keys(item):
    """Reject a key no source sends: a misspelt one ("talk_secs") would
    otherwise be dropped, and the call stored without what it meant."""
    unknown = sorted(repr(_shortened(key)) for key in item if key not in KNOWN_KEYS)
    if unknown:
        raise InvalidCall(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:5])}"
            f"{', ...' if len(unknown) > 5 else ''} (known keys: {', '.join(sorted(KNOWN_KEYS))})"
        )


def _shortened(key, size=40):
    if not isinstance(key, str):
        return key
    return key if len(key) <= size else key[:size] + "..."


def _seconds(item, key):
    value = item.get(key)
    if value in (None, ""):
        return 0
    if isinstance(value, bool):
        raise InvalidCall(f"{key} must be a number of seconds, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidCall(f"{key} must be a number of seconds, not {value!r}") from exc
    if math.isnan(number) or number < 0:
        raise InvalidCall(f"{key} must not be negative (got {value!r})")
    if number > MAX_SECONDS:
        raise InvalidCall(f"{key} of {value!r} seconds is longer than a day")
    return round(number)


def _text(item, key, required=False):
    value = item.get(key)
    if value is None or value is False:
        value = ""
    # Text or a whole number (bool is an int, but True is no call id).
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidCall(f"{key} must be text, not {type(value).__name__}")
    try:
        value = str(value).strip()
    except ValueError as exc:
        # An integer of thousands of digits: Python refuses to spell it out.
        raise InvalidCall(f"{key} is longer than {MAX_TEXT} characters") from exc
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate ("\ud800"): JSON allows it, PostgreSQL cannot store it.
        raise InvalidCall(f"{key} is not valid Unicode text") from exc
    if required and not value:
        raise InvalidCall(f"{key} is missing")
    if _CONTROL.search(value):
        raise InvalidCall(f"{key} contains a control character")
    if len(value) > MAX_TEXT:
        raise InvalidCall(f"{key} is longer than {MAX_TEXT} characters")
    return value


def _choice(item, key, allowed):
    value = item.get(key)
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise InvalidCall(f"{key} {value!r} is not one of: {', '.join(allowed)}")
    return value.strip().lower()


def _flag(item, key):
    value = item.get(key, False)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "y"):
            return True
        if lowered in ("", "0", "false", "no", "n"):
            return False
        raise InvalidCall(f"{key} {value!r} is not a yes/no value")
    return bool(value)


def _position(item, key):
    value = item.get(key)
    if value in (None, ""):
        return 0
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise InvalidCall(f"{key} {_shortened(value)!r} is not a whole number from 0")
        # Thousands of digits could not even be converted: past the limit anyway.
        value = int(text) if len(text) <= len(str(MAX_POSITION)) else MAX_POSITION + 1
    elif isinstance(value, bool) or not isinstance(value, int):
        raise InvalidCall(f"{key} must be a whole number, not {value!r}")
    if not 0 <= value <= MAX_POSITION:
        raise InvalidCall(f"{key} is not a position from 0 to {MAX_POSITION}")
    return value


def _queue_fields(item):
    """The queue fields of an item, {} when it says nothing about queues.

    A delivery without the ``queue`` key leaves a call's queue fields as
    stored (a CDR row read after the queue log must not erase them), so the
    other queue keys alone would be dropped silently: they are refused.
    """
    if "queue" not in item:
        given = [key for key in QUEUE_KEYS[1:] if item.get(key) not in (None, "", 0)]
        if given:
            raise InvalidCall(f"{given[0]} is given without queue (the queue's name)")
        if _flag(item, "queue_only"):
            raise InvalidCall("queue_only is set but queue (the queue's name) is missing")
        return {}
    queue = _text(item, "queue")
    result = item.get("queue_result")
    if queue and result in (None, "", False):
        raise InvalidCall(f"queue_result is missing (one of: {', '.join(QUEUE_RESULTS)})")
    if queue:
        result = _choice(item, "queue_result", QUEUE_RESULTS)
    elif result not in (None, "", False):
        raise InvalidCall(f"queue_result {result!r} is given but queue is empty")
    fields = {
        "queue": queue,
        "queue_wait_seconds": _seconds(item, "queue_wait_seconds"),
        "queue_result": result or "",
        "queue_position": _position(item, "queue_position"),
    }
    if not queue and (fields["queue_wait_seconds"] or fields["queue_position"]):
        raise InvalidCall("queue_wait_seconds and queue_position need a queue")
    return fields


def clean_call(item: object) -> dict:
    """Validate one ingestion dict; return a dict of typed values.

    The queue fields (:data:`QUEUE_KEYS`) are in it only when the item has
    the ``queue`` key; ``queue_only`` (the item comes from the queue log
    alone) always is. Raises :class:`InvalidCall` with the first problem found.
    """
    if not isinstance(item, dict):
        raise InvalidCall(f"a call must be an object, not {type(item).__name__}")
    _check_keys(item)
    external_id = _text(item, "external_id") or _text(item, "call_id", required=True)
    start = parse_start(item.get("start"))
    _check_window(start)
    ring = _seconds(item, "ring_seconds")
    talk = _seconds(item, "talk_seconds")
    end = start + timedelta(seconds=ring + talk)
    if item.get("end") not in (None, "", False):
        given_end = parse_start(item["end"])
        _check_window(given_end, "end")
        if given_end < start:
            raise InvalidCall(f"end {item['end']} is before start {item['start']}")
        end = max(end, given_end)
    clean = {
        "external_id": external_id,
        "direction": _choice(item, "direction", DIRECTIONS),
        "status": _choice(item, "status", STATUSES),
        "from_number": _text(item, "from_number"),
        "to_number": _text(item, "to_number"),
        "extension": _text(item, "extension"),
        "first_extension": _text(item, "first_extension"),
        "forwarded": _flag(item, "forwarded"),
        "transferred": _flag(item, "transferred"),
        "start": start,
        "end": end,
        "ring_seconds": ring,
        "talk_seconds": talk,
        "recording": _text(item, "recording"),
        "hangup_cause": _text(item, "hangup_cause"),
    }
    if clean["status"] != "answered" and talk and clean["status"] != "unknown":
        raise InvalidCall(f"a {clean['status']} call cannot have {talk} talk seconds")
    # Not part of the call's values (the caller's source wins), but stored when
    # given alone: checked as any text the database must take.
    _text(item, "source")
    if clean["first_extension"] and clean["extension"] and not item.get("forwarded"):
        clean["forwarded"] = clean["first_extension"] != clean["extension"]
    clean.update(_queue_fields(item))
    clean["queue_only"] = _flag(item, "queue_only")
    return clean


def client_number_of(clean: dict) -> str:
    """The raw number of the outside party: caller for incoming, callee for outgoing."""
    if clean["direction"] == "incoming":
        return clean["from_number"]
    if clean["direction"] == "outgoing":
        return clean["to_number"]
    return ""


def fingerprint(clean: dict, source: str) -> str:
    """A short digest of a cleaned call (what :func:`clean_call` returned) as
    ``source`` delivered it.

    Stored with the call, it lets a delivery of the same call, unchanged,
    be recognised by one indexed lookup and written nowhere.
    """
    # queue_only is False for every delivery made before queues existed: left
    # out then, so their stored digests still recognise them.
    values = sorted((key, value) for key, value in clean.items() if key != "queue_only" or value)
    canonical = repr((source, values))
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
