"""Small mappers from other PBXes' webhook payloads to ingestion dicts.

Each mapper takes one decoded JSON object, the PBX's time zone and its trunk
regexes and returns one call dict in the native schema (the keys
``phone.call._ingest_calls`` takes), or raises :class:`MappingError` with a
reason. Times without a zone are the PBX's local time, given as a zoneinfo
name. Each vendor's mapper is registered in :mod:`.vendors`, which splits a
webhook body into items and picks the mapper.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from .asterisk.channels import compile_trunks
from .numbers import INTERNAL, classify


class MappingError(ValueError):
    """Raised with the reason a payload cannot be read as a call."""


def _local_time(
    text: object, tz: str | None, formats: Sequence[str] = ("%Y-%m-%d %H:%M:%S",)
) -> str:
    if not text:
        raise MappingError("the start time is missing")
    text = str(text).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
        for fmt in formats:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None:
            raise MappingError(f"cannot read the time {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz or "UTC"))
    return moment.astimezone(timezone.utc).isoformat()


def _int(value: object, name: str) -> int:
    if value in (None, "", " "):
        return 0
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise MappingError(f"{name} {value!r} is not a number") from None


def _blank(value: object) -> str:
    value = "" if value is None else str(value).strip()
    return value


# -- Yeastar: P-Series event 30012 "New CDR", S-Series / Cloud PBX NewCdr ----

_YEASTAR_STATUS = {
    "ANSWERED": "answered",
    "ANSWERD": "answered",
    "NO ANSWER": "missed",
    "NO ANSWERED": "missed",
    "VOICEMAIL": "missed",
    "BUSY": "busy",
    "FAILED": "failed",
}
_YEASTAR_TYPE = {"inbound": "incoming", "outbound": "outgoing", "internal": "internal"}


def yeastar(event: dict, tz: str, _trunks: Sequence[str]) -> dict:
    """Yeastar P-Series event 30012: ``{"type": 30012, "sn": ..., "msg": ...}``,
    or an S-Series / Cloud PBX ``NewCdr`` report (see :func:`yeastar_new_cdr`).

    ``msg`` is the call detail, as an object or as the JSON text Yeastar sends.
    """
    # Checked first: a NewCdr's "type" is the call type (Inbound...), not an event id.
    if _blank(event.get("event") or event.get("action")) == "NewCdr":
        return yeastar_new_cdr(event, tz)
    if event.get("type") not in (30012, "30012"):
        raise MappingError(
            f"Yeastar event type {event.get('type')!r} is not 30012 (New CDR) nor a NewCdr"
        )
    msg = event.get("msg")
    if isinstance(msg, str):
        try:
            msg = json.loads(msg)
        except ValueError:
            raise MappingError("Yeastar msg is not valid JSON") from None
    if not isinstance(msg, dict):
        raise MappingError("Yeastar msg is missing")
    return _yeastar_call(
        external_id=_blank(msg.get("uid")) or _blank(msg.get("call_id")),
        kind=msg.get("type"),
        status=msg.get("status"),
        caller=msg.get("call_from"),
        callee=msg.get("call_to"),
        did=msg.get("did_number"),
        total=_int(msg.get("call_duration"), "call_duration"),
        talk=_int(msg.get("talk_duration"), "talk_duration"),
        start=_local_time(msg.get("time_start"), tz),
        recording=msg.get("recording"),
        reason=msg.get("reason"),
    )


def yeastar_new_cdr(event: dict, tz: str) -> dict:
    """Yeastar S-Series / Cloud PBX ``NewCdr``: flat keys spelled as Yeastar does
    (``callduraction``, ``dsttrcunkname``), numbers often sent as strings.

    The trunk names, ``agentringtime``, ``pincode`` and ``sn`` have no place in
    a call and are left out.
    """
    external_id = _blank(event.get("callid")) or _blank(event.get("cdrid"))
    if not external_id:
        raise MappingError("Yeastar NewCdr has no callid")
    return _yeastar_call(
        external_id=external_id,
        kind=event.get("type"),
        status=event.get("status"),
        caller=event.get("callfrom"),
        callee=event.get("callto"),
        did=event.get("didnumber"),
        total=_int(event.get("callduraction"), "callduraction"),
        talk=_int(event.get("talkduraction"), "talkduraction"),
        start=_local_time(event.get("timestart"), tz),
        recording=event.get("recording"),
    )


def _yeastar_call(
    *,
    external_id: str,
    kind: object,
    status: object,
    caller: object,
    callee: object,
    did: object,
    total: int,
    talk: int,
    start: str,
    recording: object,
    reason: object = "",
) -> dict:
    status = _YEASTAR_STATUS.get(_blank(status).upper(), "unknown")
    direction = _YEASTAR_TYPE.get(_blank(kind).lower())
    if not direction:
        raise MappingError(f"Yeastar call type {kind!r} is not Inbound/Outbound/Internal")
    talk = talk if status == "answered" else 0
    caller, callee = _blank(caller), _blank(callee)
    if direction == "incoming":
        extension, to_number = callee, _blank(did) or callee
    else:
        extension, to_number = caller, callee
    return {
        "external_id": external_id,
        "direction": direction,
        "status": status,
        "from_number": caller,
        "to_number": to_number,
        "extension": extension if classify(extension).kind == INTERNAL else "",
        "start": start,
        "ring_seconds": max(total - talk, 0),
        "talk_seconds": talk,
        "recording": _blank(recording),
        "hangup_cause": _blank(reason),
    }


# -- 3CX: call journaling through a CRM template -----------------------------

_3CX_TYPE = {
    "inbound": ("incoming", "answered"),
    "outbound": ("outgoing", "answered"),
    "missed": ("incoming", "missed"),
    "notanswered": ("outgoing", "missed"),
}
_HMS = re.compile(r"^(?:(\d+)\.)?(\d+):(\d{2}):(\d{2})(?:\.\d+)?$")


def _duration(text: object) -> int:
    text = _blank(text)
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    match = _HMS.match(text)
    if not match:
        raise MappingError(f"duration {text!r} is not h:mm:ss")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def threecx(journal: dict, tz: str, _trunks: Sequence[str]) -> dict:
    """A 3CX call journal posted by the template in the README.

    Keys are 3CX's journal variables: CallType (Inbound, Outbound, Missed,
    Notanswered), Number, Agent, Duration, CallStartTimeUTC, CallEndTimeUTC,
    CallDirection, and optionally CallId.
    """
    kind = _3CX_TYPE.get(_blank(journal.get("CallType")).lower())
    if not kind:
        raise MappingError(f"3CX CallType {journal.get('CallType')!r} is not known")
    direction, status = kind
    number, agent = _blank(journal.get("Number")), _blank(journal.get("Agent"))
    start = _local_time(journal.get("CallStartTimeUTC"), "UTC", ("%m/%d/%Y %H:%M:%S",))
    talk = _duration(journal.get("Duration")) if status == "answered" else 0
    external_id = _blank(journal.get("CallId"))
    if not external_id:
        # 3CX journals carry no call id: the same journal hashes to the same id.
        key = f"{direction}|{number}|{agent}|{start}"
        external_id = "3cx-" + hashlib.sha1(key.encode()).hexdigest()[:20]
    ends = {}
    if journal.get("CallEndTimeUTC"):
        ends["end"] = _local_time(journal["CallEndTimeUTC"], "UTC", ("%m/%d/%Y %H:%M:%S",))
    return {
        "external_id": external_id,
        "direction": direction,
        "status": status,
        "from_number": number if direction == "incoming" else agent,
        "to_number": agent if direction == "incoming" else number,
        "extension": agent,
        "start": start,
        "talk_seconds": talk,
        **ends,
    }


# -- FreeSWITCH: CHANNEL_HANGUP_COMPLETE event as JSON -----------------------

_FS_MISSED = {"NO_ANSWER", "ORIGINATOR_CANCEL", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT"}
_FS_BUSY = {"USER_BUSY", "CALL_REJECTED"}


def freeswitch(event: dict, _tz: str, trunks: Sequence[str]) -> dict:
    """FreeSWITCH ``CHANNEL_HANGUP_COMPLETE`` (mod_event_socket / mod_json_cdr JSON)."""
    if _blank(event.get("Event-Name")) not in ("CHANNEL_HANGUP_COMPLETE", ""):
        raise MappingError(f"FreeSWITCH event {event.get('Event-Name')!r} is not a hangup")

    def var(name: str) -> str:
        return _blank(event.get(f"variable_{name}") or event.get(name))

    start_epoch = _int(var("start_epoch"), "start_epoch")
    if not start_epoch:
        raise MappingError("variable_start_epoch is missing")
    answered = _int(var("answer_epoch"), "answer_epoch")
    cause = _blank(event.get("Hangup-Cause") or var("hangup_cause")).upper()
    if answered:
        status = "answered"
    elif cause in _FS_MISSED:
        status = "missed"
    elif cause in _FS_BUSY:
        status = "busy"
    elif cause:
        status = "failed"
    else:
        status = "unknown"
    caller = _blank(event.get("Caller-Caller-ID-Number") or var("caller_id_number"))
    callee = _blank(event.get("Caller-Destination-Number") or var("destination_number"))
    channel = _blank(event.get("Channel-Name") or event.get("Caller-Channel-Name"))
    trunk_patterns = compile_trunks(trunks)
    from_trunk = any(p.search(channel) for p in trunk_patterns) or bool(var("sip_gateway_name"))
    if from_trunk:
        direction = "incoming"
    elif classify(callee).kind == INTERNAL or not callee:
        direction = "internal"
    else:
        direction = "outgoing"
    extension = callee if direction == "incoming" else caller
    talk = _int(var("billsec"), "billsec") if answered else 0
    ring = (answered - start_epoch) if answered else _int(var("duration"), "duration")
    return {
        "external_id": _blank(event.get("Unique-ID") or var("uuid")),
        "direction": direction,
        "status": status,
        "from_number": caller,
        "to_number": callee,
        "extension": extension if classify(extension).kind == INTERNAL else "",
        "start": datetime.fromtimestamp(start_epoch, timezone.utc).isoformat(),
        "ring_seconds": max(ring, 0),
        "talk_seconds": talk,
        "recording": var("record_file") or var("recording_file"),
        "hangup_cause": cause or var("hangup_cause_q850"),
    }
