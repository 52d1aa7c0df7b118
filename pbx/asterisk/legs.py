"""Who the caller was really connected with, and which legs rang first.

A dial that answered proves little: a mobile reached over the trunk answers
before it has accepted the call, a queue or FollowMe answers its ``Local/``
helper before anybody talks, and a pickup answers a channel the dial never
named. What counts is the bridges: two parties are connected when a chain of
talking bridges and ``Local/...;1``/``;2`` halves joins their channels.
"""

from .channels import PHONE, PLUMBING, extension_of, looks_dialable


def local_half(name):
    """``(pair, half)`` for a ``Local/...;1`` or ``;2`` channel, else None."""
    if not name or not name.lower().startswith("local/"):
        return None
    pair, _, half = name.rpartition(";")
    return (pair, half) if pair and half in ("1", "2") else None


def reach(channel, bridges, channels):
    """Every live channel joined to ``channel`` by bridges and Local pairs."""
    seen, stack = {channel}, [channel]
    while stack:
        current = stack.pop()
        neighbours = []
        partner = current.partner
        # A Local pair carries audio only while both halves are up.
        if partner is not None and partner.hungup_at is None and current.hungup_at is None:
            neighbours.append(partner)
        for bridge_id in current.bridges:
            bridge = bridges.get(bridge_id)
            if bridge is not None and bridge.talking:
                neighbours += filter(None, map(channels.get, bridge.members))
        for other in neighbours:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def parties_of(group):
    return sorted((ch for ch in group if ch.kind != PLUMBING), key=lambda ch: ch.order)


def first_connection(call, caller):
    """``(moment, party)`` of the first party joined to the caller, or None."""
    for _order, moment, one, two in call.links:
        if caller in (one, two):
            return moment, two if one is caller else one
    return None


def answering_dial(legs, party):
    """The last answered dial towards ``party`` (a pickup may have none)."""
    answered = [dial for dial in legs if dial.target is party and dial.status == "ANSWER"]
    return answered[-1] if answered else None


def first_round(legs):
    """The dials that count as ringing first.

    A ring group rings several phones at once (and may ring them again in
    later rounds): the dials that began before any of them ended. A queue
    rings its members as their turn comes (linear, rrmemory) or all at once:
    every dial the queue made is the queue ringing its own members, so a
    member taking the call is no forward, while a member's phone passing it
    on (a ``Forward`` or a dial the queue did not make) still is.
    """
    first_end = min((dial.end_order for dial in legs if dial.end_order is not None), default=None)
    return [
        dial for dial in legs if dial.queued or first_end is None or dial.begin_order < first_end
    ]


def endpoint(dial):
    return extension_of(dial.target.name)


def phone_endpoints(dials):
    return [endpoint(dial) for dial in dials if dial.target.kind == PHONE]


def dialled_number(dial):
    """The number a dial sent out: from the dial string, else the extension."""
    if dial is None:
        return None
    for part in (dial.dial_string or "").split(",")[0].split("/"):
        for prefix in ("sip:", "sips:", "tel:"):
            part = part.removeprefix(prefix)
        candidate = part.split("@")[0]
        if looks_dialable(candidate):
            return candidate
    for candidate in (dial.dest_exten, dial.target.cid):
        if looks_dialable(candidate):
            return candidate
    return None
