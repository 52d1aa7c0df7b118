"""Every PBX vendor whose own events the addon reads, in one registry.

A vendor is a webhook format: the PBX's choice "Webhook Format" offers the
:data:`VENDORS` below (:func:`selection`), the calls webhook maps each posted
item with the vendor's call mapper (:func:`map_item`) and the ringing route
reads its ringing events with the vendor's ringing reader
(:func:`read_ringing`). A vendor whose PBX *looks the caller up* (3CX's CRM
contact lookup) rather than posting an event also answers a GET, and says
how the request's query and body make one event (:attr:`Vendor.lookup`).

Adding a vendor is one :class:`Vendor` in :data:`VENDORS`: its functions
(call mappers live beside the others in :mod:`.webhooks`, ringing readers in
:mod:`.ringing`), and nothing else to change in the models or controllers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import ringing, webhooks
from .ringing import RingingEventError
from .webhooks import MappingError

# (item, PBX time zone, trunk regexes) -> a call dict in the native schema.
CallMapper = Callable[[dict, str, Sequence[str]], dict]
# (event, trunk regexes) -> (native ringing event, None) or (None, why ignored).
RingingReader = Callable[[dict, Sequence[str]], ringing.Reading]
# (query parameters, the decoded JSON body if the request had one) -> one event.
LookupMerger = Callable[[dict, list], dict]


@dataclass(frozen=True)
class Vendor:
    """One webhook format: how a vendor's PBX tells Odoo about calls."""

    key: str
    # The PBX form's choice (translated through the selection, as written here).
    label: str
    # The vendor as messages name it.
    name: str
    # None: posted items are calls in the native schema already.
    map_call: CallMapper | None = None
    # None: posted events are native ringing events already.
    read_ringing: RingingReader | None = None
    # None: the PBX posts its ringing events as a JSON body. Else the PBX looks
    # the caller up: a GET is allowed and this merges the query and the body.
    lookup: LookupMerger | None = None


def threecx_lookup(query: dict, bodies: list) -> dict:
    """3CX's lookup sends its values in the query (GET), a form or a JSON body."""
    event = dict(query)
    for data in bodies:
        if not isinstance(data, dict):
            raise RingingEventError("a 3cx lookup body must be a JSON object")
        event.update(data)
    return event


NATIVE = Vendor("native", "Native (this addon's call schema)", "native")
VENDORS: dict[str, Vendor] = {
    vendor.key: vendor
    for vendor in (
        NATIVE,
        Vendor(
            "yeastar",
            "Yeastar (P-Series events, S-Series and Cloud PBX NewCdr)",
            "Yeastar",
            map_call=webhooks.yeastar,
            read_ringing=ringing.yeastar_ringing,
        ),
        Vendor(
            "3cx",
            "3CX (CRM template: call journal, contact lookup)",
            "3CX",
            map_call=webhooks.threecx,
            read_ringing=ringing.threecx_ringing,
            lookup=threecx_lookup,
        ),
        Vendor(
            "freeswitch",
            "FreeSWITCH (event JSON)",
            "FreeSWITCH",
            map_call=webhooks.freeswitch,
            read_ringing=ringing.freeswitch_ringing,
        ),
    )
}


def selection() -> list[tuple[str, str]]:
    """The PBX's "Webhook Format" choices, in registry order."""
    return [(vendor.key, vendor.label) for vendor in VENDORS.values()]


def unknown_format(fmt: object) -> str:
    """The reason given for a format no vendor has."""
    return f"unknown format {fmt!r}; use one of {', '.join(VENDORS)}"


def lookup_refused(fmt: str) -> str:
    """The reason a GET is refused for ``fmt``, a vendor that posts its events."""
    lookers = [vendor.name for vendor in VENDORS.values() if vendor.lookup]
    verb = "looks up" if len(lookers) == 1 else "look up"
    return f"the {fmt} format posts its events; only {' and '.join(lookers)} {verb}"


def find(fmt: str, error: type[ValueError]) -> Vendor:
    """The vendor of format ``fmt``; raises ``error`` for an unknown one."""
    vendor = VENDORS.get(fmt)
    if vendor is None:
        raise error(unknown_format(fmt))
    return vendor


def batch_items(payload: object, fmt: str = NATIVE.key) -> list:
    """Turn a decoded webhook body into a list of items for :func:`map_item`.

    Native bodies are a list of calls or ``{"calls": [...]}``; the other
    formats post one event per request, or a list of them. Raises
    :class:`~.webhooks.MappingError`.
    """
    find(fmt, MappingError)
    if isinstance(payload, dict) and isinstance(payload.get("calls"), list):
        return payload["calls"]
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        return [payload]
    raise MappingError("the body must be a JSON object or a list of objects")


def map_item(item: object, fmt: str, tz: str = "UTC", trunks: Sequence[str] = ()) -> object:
    """One call dict in the native schema from one item of ``fmt``.

    ``tz`` is the PBX's zone for times written without one; native items
    pass unchanged (ingestion checks them). Raises
    :class:`~.webhooks.MappingError` with the reason.
    """
    vendor = find(fmt, MappingError)
    if vendor.map_call is None:
        return item
    if not isinstance(item, dict):
        raise MappingError(f"a {fmt} event must be an object")
    return vendor.map_call(item, tz, trunks)


def read_ringing(
    payload: object, fmt: str = NATIVE.key, trunks: Sequence[str] = ()
) -> tuple[object, str | None]:
    """``(event, None)`` for a ringing desk phone, ``(None, reason)`` to ignore.

    ``event`` is a native event for :func:`.ringing.check_event`; ``trunks``
    are the PBX's trunk regexes (FreeSWITCH channel names). Raises
    :class:`~.ringing.RingingEventError` for a body that is not this format
    at all.

    >>> read_ringing({"type": 30011, "msg": {"call_id": "1", "members": []}}, "yeastar")
    (None, 'no extension rings in this call state')
    """
    vendor = find(fmt, RingingEventError)
    # A native event is recognised in any format: the AMI listener and scripts
    # written before a PBX's format was set keep working.
    if vendor.read_ringing is None or (isinstance(payload, dict) and "extensions" in payload):
        return payload, None
    if not isinstance(payload, dict):
        raise RingingEventError(f"a {fmt} ringing event must be a JSON object")
    return vendor.read_ringing(payload, trunks)
