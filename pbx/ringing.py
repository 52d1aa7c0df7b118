"""Ringing events: a desk phone starts ringing, Odoo pops up the caller.

Nothing here is stored as a call; a ringing event only tells Odoo which
extensions ring and who calls, so the users behind those extensions see the
client while the phone rings. Odoo's route (the same secrets as the calls
webhook) is::

    POST {url}/phone_call_accounting/pbx/{pbx_id}/ringing
    Authorization: Bearer {token}
    {"from_number": "+31205550101", "to_number": "+31207940100",
     "extensions": ["201"], "call_id": "1732701234.56"}

:func:`check_event` reads such an event for the addon's route; the readers
below first turn another PBX's own event (Yeastar call status, a 3CX CRM
contact lookup, FreeSWITCH channel events) into one, or say why it rings no
desk phone (each vendor's reader is registered in :mod:`.vendors`). The
AMI listener's side (detecting ringing phones and posting the events) is
:mod:`pbx.listener.ringing`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from .numbers import INTERNAL, classify

MAX_EXTENSIONS = 50
# What a vendor's reader answers: (native event, None), or (None, why it is ignored).
Reading = tuple[dict | None, str | None]
MAX_TEXT = 128


class RingingEventError(ValueError):
    """A ringing event that cannot be read; ``str()`` says why."""


def check_event(event: object) -> tuple[list[str], dict[str, str]]:
    """Checked ``(extensions, texts)`` of a posted ringing event.

    ``extensions`` is a list of distinct strings (a single string or number is
    taken as a list of one); ``texts`` holds ``from_number``, ``to_number``
    and ``call_id`` as stripped strings ("" when absent). Raises
    :class:`RingingEventError`.

    >>> check_event({"from_number": "0612345678", "extensions": [201, "202"]})[0]
    ['201', '202']
    """
    if not isinstance(event, dict):
        raise RingingEventError("the body must be a JSON object")
    extensions = event.get("extensions")
    if isinstance(extensions, str | int) and not isinstance(extensions, bool):
        extensions = [extensions]
    if (
        not isinstance(extensions, list)
        or not 0 < len(extensions) <= MAX_EXTENSIONS
        or any(
            isinstance(e, bool) or not isinstance(e, str | int) or not str(e).strip()
            for e in extensions
        )
    ):
        raise RingingEventError(f'"extensions" must be a list of 1 to {MAX_EXTENSIONS} extensions')
    texts = {}
    for key in ("from_number", "to_number", "call_id"):
        value = event.get(key)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise RingingEventError(f'"{key}" must be a string')
        value = str(value).strip()
        if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
            raise RingingEventError(f'"{key}" is too long or holds control characters')
        texts[key] = value
    return list(dict.fromkeys(str(e).strip() for e in extensions)), texts


# -- Other PBXes' ringing events ---------------------------------------------
#
# Each reader turns one vendor event (a JSON object) and the PBX's trunk
# regexes into the native event above, or says why it rings no desk phone
# (``(None, reason)``): PBXes post every call state to one URL, and a 4xx for
# an event that is simply not ours would fill their logs with errors and, for
# some, switch the URL off. :func:`.vendors.read_ringing` picks the reader.


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RingingEventError(f"expected text, got {type(value).__name__}")
    return str(value).strip()


def _object(value: object, what: str) -> dict:
    """A JSON object given as such or as JSON text (Yeastar's ``msg``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise RingingEventError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise RingingEventError(f"{what} must be an object")
    return value


# Yeastar P-Series event 30011 "Call Status Changed": msg.members lists every
# party; an extension member in RING is a ringing desk phone. S-Series and
# Cloud PBX send the same as {"event": "CallStatus"} with shorter key names.
_YEASTAR_KEYS = {
    "p": {"call_id": "call_id", "ext": "extension", "status": "member_status"},
    "s": {"call_id": "callid", "ext": "ext", "status": "memberstatus"},
}


def yeastar_ringing(event: dict, _trunks: Sequence[str]) -> Reading:
    if _text(event.get("event") or event.get("action")) == "CallStatus":
        keys, msg = _YEASTAR_KEYS["s"], event
    elif "type" in event:
        kind = event.get("type")
        if kind not in (30011, "30011"):
            return None, f"Yeastar event {kind!r} is not 30011 (call status changed)"
        keys, msg = _YEASTAR_KEYS["p"], _object(event.get("msg"), "Yeastar msg")
    else:
        raise RingingEventError('a Yeastar event needs "type" (30011) or "event" (CallStatus)')
    members = msg.get("members")
    if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
        raise RingingEventError("Yeastar members must be a list of objects")
    ringing, caller, dialled = [], "", ""
    for member in members:
        for role, info in member.items():
            if not isinstance(info, dict):
                raise RingingEventError(f"Yeastar member {role!r} must be an object")
            status = _text(info.get(keys["status"])).upper()
            if role == keys["ext"]:
                number = _text(info.get("number"))
                if status == "RING" and number:
                    ringing.append(number)
                elif status == "ALERT" and not caller:
                    caller = number  # an internal call: the colleague dialling
            elif role == "inbound":
                # The outside caller wins over any extension in ringback.
                caller, dialled = _text(info.get("from")), _text(info.get("to"))
    if not ringing:
        return None, "no extension rings in this call state"
    return {
        "from_number": caller,
        "to_number": dialled,
        "extensions": ringing,
        "call_id": _text(msg.get(keys["call_id"])),
    }, None


# 3CX: the CRM template's contact lookup (scenario Id="") runs when a call
# reaches a user. The template names the query keys; the README's template
# sends Number=[Number]&CallDirection=[CallDirection]&Agent=[Agent].
_UNFILLED = re.compile(r"^\[\w+\]$")


def threecx_ringing(params: dict, _trunks: Sequence[str]) -> Reading:
    lowered = {str(key).lower(): value for key, value in params.items()}

    def param(name: str, required: bool = False) -> str:
        if name not in lowered:
            if required:
                raise RingingEventError(
                    f"the 3CX lookup has no {name!r}: add it to the template's lookup URL"
                )
            return ""
        value = _text(lowered[name])
        # 3CX leaves a variable it cannot fill as its own name, e.g. "[Agent]".
        return "" if _UNFILLED.match(value) else value

    number = param("number", required=True)
    agent = param("agent", required=True)
    direction = param("calldirection").lower()
    if direction and direction != "inbound":
        return None, f"3CX looks up an {direction} call: no desk phone rings"
    if not agent:
        return None, "3CX sent no agent extension"
    return {
        "from_number": number,
        "to_number": "",
        "extensions": [agent],
        "call_id": param("callid"),
    }, None


# FreeSWITCH: CHANNEL_CREATE or CHANNEL_PROGRESS of the leg FreeSWITCH places
# towards a desk phone (Call-Direction "outbound" from the switch's side).
_FS_RINGING = {"CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"}
_FS_TALKING = {"ACTIVE", "HELD", "HANGUP"}


def freeswitch_ringing(event: dict, trunks: Sequence[str]) -> Reading:
    variables = event.get("variables") if isinstance(event.get("variables"), dict) else {}

    def header(*names: str) -> str:
        for name in names:
            for value in (event.get(name), variables.get(name.removeprefix("variable_"))):
                text = _text(value)
                if text:
                    return text
        return ""

    name = header("Event-Name")
    if not name:
        raise RingingEventError('a FreeSWITCH event needs "Event-Name"')
    if name not in _FS_RINGING:
        return None, f"FreeSWITCH {name} is not a ringing event"
    direction = header("Call-Direction", "variable_direction").lower()
    if not direction:
        raise RingingEventError('a FreeSWITCH channel event needs "Call-Direction"')
    if direction != "outbound":
        return None, "an inbound leg is the caller's own channel, not a ringing phone"
    if header("Answer-State").lower() == "answered" or header("Channel-Call-State") in _FS_TALKING:
        return None, "the channel is already answered"
    channel = header("Channel-Name", "Caller-Channel-Name")
    if (
        "/gateway/" in channel
        or header("variable_sip_gateway_name")
        or any(re.search(pattern, channel) for pattern in trunks)
    ):
        return None, f"channel {channel} is a trunk, not a desk phone"
    extension = header(
        "variable_dialed_user", "Caller-Destination-Number", "Caller-Callee-ID-Number"
    )
    if classify(extension).kind != INTERNAL:
        return None, f"destination {extension!r} is not an extension"
    return {
        "from_number": header("Caller-Caller-ID-Number", "Other-Leg-Caller-ID-Number"),
        "to_number": header("Other-Leg-Destination-Number"),
        "extensions": [extension],
        "call_id": header("variable_call_uuid", "Other-Leg-Unique-ID", "Unique-ID"),
    }, None
