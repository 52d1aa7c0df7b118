"""Turn a live stream of AMI events into one record per finished call.

Asterisk has no "call" object on the AMI: it reports channels, dials between
them and bridges joining them. Channels sharing a ``Linkedid`` belong to one
call; an attended transfer or a bridge can give a channel another
``Linkedid``, which then welds the two calls into one. A call is finished
when every channel in it has hung up.

Only channels with a person (or the outside world) behind them are parties;
``Local/...;1/;2`` pairs and similar helpers are plumbing whose dials are
followed but never counted as someone answering. A call is *answered* only
when the caller's channel got joined to another party's (:mod:`.legs`): a
queue, IVR, voicemail or an acceptance prompt answering a channel does not
count, and a pickup counts even when no dial reported the answer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .ami import Message
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
from .legs import (
    answering_dial,
    dialled_number,
    endpoint,
    first_connection,
    first_round,
    local_half,
    parties_of,
    phone_endpoints,
    reach,
)
from .queues import CALLER_EVENTS, QueueVisits
from .summary import (
    ANSWERED,
    BUSY,
    FAILED,
    INCOMING,
    MISSED,
    OUTGOING,
    UNKNOWN,
    Route,
    call_record,
    direction_of,
    first_extension,
    ring_seconds,
)

# Prefixes under which AMI v2 events carry a channel snapshot.
SNAPSHOT_PREFIXES = (
    "",
    "Dest",
    "Transferee",
    "Transferer",
    "OrigTransferer",
    "SecondTransferer",
    "TransferTarget",
    "LocalOne",
    "LocalTwo",
    "Target",
)
# Ids of finished calls kept to recognise their late events: a day of a very
# busy PBX. Oldest first out (dicts keep insertion order).
MAX_ENDED = 20_000
GAVE_UP_DIALS = frozenset({"CANCEL", "NOANSWER"})
FAILED_DIALS = frozenset({"CHANUNAVAIL", "CONGESTION", "DONTCALL", "INVALIDARGS", "TORTURE"})
# Q.850 causes: 17 user busy, 21 call rejected (phones send it for "decline").
BUSY_CAUSES = frozenset({"17", "21"})
# Q.850 causes that mean the network or the number failed, not a person.
FAILURE_CAUSES = frozenset(
    str(code)
    for code in (
        1,
        2,
        3,
        20,
        22,
        27,
        28,
        29,
        34,
        38,
        41,
        42,
        44,
        47,
        50,
        58,
        63,
        65,
        66,
        69,
        79,
        88,
        102,
        111,
        127,
    )
)
# Bridges where callers wait alone together (parking lots, holding bridges).
NON_TALKING_BRIDGES = frozenset({"holding", "parking", "holding_bridge"})


@dataclass(eq=False)
class _Channel:
    uniqueid: str
    name: str
    kind: str
    order: int
    linkedid: str
    call: _Call
    cid: str | None = None
    # First dialable extension: for a trunk channel the DID that was called.
    exten: str | None = None
    # Caller ID and extension at the moment this channel first dialled out,
    # before later dialplan steps or transfers rewrite them.
    dial_cid: str | None = None
    dial_exten: str | None = None
    bridges: set[str] = field(default_factory=set)
    hungup_at: float | None = None
    cause: str | None = None
    # The other half of a Local/...;1/;2 pair.
    partner: _Channel | None = None
    in_queue: bool = False
    # The queue the channel's Queue application last named (its Newexten).
    queue_app: str | None = None
    # Dialled by a queue: a Local agent's ;2 half rings on the queue's behalf.
    queue_leg: bool = False


@dataclass(eq=False)
class _Dial:
    source: _Channel | None
    target: _Channel
    began: float
    begin_order: int
    dial_string: str | None
    dest_exten: str | None
    ended: float | None = None
    end_order: int | None = None
    status: str | None = None
    queued: bool = False


@dataclass(eq=False)
class _Bridge:
    talking: bool
    members: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Call:
    external_id: str
    order: int
    first_seen: float
    last_event: float
    linkedids: set[str] = field(default_factory=set)
    channels: dict[str, _Channel] = field(default_factory=dict)
    dials: list[_Dial] = field(default_factory=list)
    bridges: set[str] = field(default_factory=set)
    talk_spans: list[tuple[float, float]] = field(default_factory=list)
    talk_since: float | None = None
    # (order, moment, party, party) when two parties were first connected.
    links: list[tuple[int, float, _Channel, _Channel]] = field(default_factory=list)
    transferred: bool = False
    abandoned: bool = False
    diverted: bool = False
    recording: str | None = None
    queues: QueueVisits = field(default_factory=QueueVisits)

    def is_over(self) -> bool:
        return bool(self.channels) and all(
            ch.hungup_at is not None for ch in self.channels.values()
        )


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def _event_time(message: Message, now: float | None) -> float:
    # With timestampevents=yes Asterisk stamps each event; prefer that over
    # the moment of reading, which drifts when events are buffered.
    stamp = message.get("Timestamp")
    if stamp:
        with contextlib.suppress(ValueError):
            return float(stamp)
    return time.time() if now is None else now


def _covered_seconds(spans: Iterable[tuple[float, float]]) -> float:
    """Length of the union of (start, end) spans."""
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += end - start
            reach = end
    return total


class CallAssembler:
    """Feed AMI events one by one; get finished calls back as plain dicts.

    ``trunks`` are regexes matched (``re.search``) against channel names.
    A call with no event for ``stale_seconds`` is closed with what is known,
    so a lost ``Hangup`` never keeps it in memory forever.
    """

    def __init__(
        self,
        trunks: Iterable[str],
        stale_seconds: float = 3600,
        recording_variables: Iterable[str] = ("MIXMONITOR_FILENAME",),
    ) -> None:
        self._trunks = compile_trunks(trunks)
        self.stale_seconds = stale_seconds
        self._recording_variables = frozenset(name.upper() for name in recording_variables)
        self._calls = {}  # linkedid -> _Call
        self._channels = {}  # uniqueid -> _Channel
        self._bridges = {}  # bridge uniqueid -> _Bridge
        self._locals = {}  # Local pair name -> the half still waiting for its partner
        # Ids of finished calls and channels: late events for them are dropped
        # instead of resurrecting a call with the same id.
        self._ended = {}
        self._order = 0
        self._last_sweep = None
        self._handlers = {
            "DialBegin": self._on_dial_begin,
            "DialState": self._on_dial_state,
            "DialEnd": self._on_dial_end,
            "BridgeCreate": self._on_bridge_create,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "Hangup": self._on_hangup,
            "VarSet": self._on_var_set,
            "BlindTransfer": self._on_transfer,
            "AttendedTransfer": self._on_transfer,
            "Newexten": self._on_new_exten,
            "Pickup": self._on_pickup,
        }
        # Member events (QueueMemberStatus, ...) name no caller: not a call's.
        self._handlers.update(dict.fromkeys(CALLER_EVENTS, self._on_queue_caller))

    @property
    def open_calls(self) -> int:
        return len(set(self._calls.values()))

    def feed(self, message: Message, now: float | None = None) -> list[dict]:
        """Process one AMI message; return the calls it finished.

        ``now`` (epoch seconds) is the moment of reading, used when the event
        has no ``Timestamp`` header; without either the clock is read.
        """
        event = message.get("Event")
        if not event:
            return []
        moment = _event_time(message, now)
        self._order += 1
        seen = self._observe(message, event, moment)
        handler = self._handlers.get(event)
        if handler:
            handler(message, moment, seen)
        if seen:
            self._take_channel_variables(message, seen)
        finished = []
        for call in {channel.call for channel in seen.values()}:
            call.last_event = max(call.last_event, moment)
            if call.is_over():
                finished.append(self._finish(call, moment, complete=True))
        if self._last_sweep is None or moment - self._last_sweep >= 1:
            self._last_sweep = moment
            finished += self.close_stale(moment)
        return [call for call in finished if call]

    def close_stale(self, now: float) -> list[dict]:
        """Close the calls that saw no event for ``stale_seconds``."""
        cutoff = now - self.stale_seconds
        self._ended = {key: moment for key, moment in self._ended.items() if moment > cutoff}
        stale = [call for call in set(self._calls.values()) if call.last_event <= cutoff]
        stale.sort(key=lambda call: call.order)
        closed = (self._finish(call, call.last_event, complete=False) for call in stale)
        return [call for call in closed if call]

    def flush(self) -> list[dict]:
        """Close every open call, e.g. at the end of a replayed file."""
        calls = sorted(set(self._calls.values()), key=lambda call: call.order)
        closed = (self._finish(call, call.last_event, complete=False) for call in calls)
        self._bridges.clear()
        return [call for call in closed if call]

    # -- channels and calls ------------------------------------------------

    def _observe(self, message, event, moment):
        seen = {}
        for prefix in SNAPSHOT_PREFIXES:
            uniqueid = message.get(prefix + "Uniqueid")
            if not uniqueid:
                continue
            name = message.get(prefix + "Channel")
            linkedid = message.get(prefix + "Linkedid") or uniqueid
            channel = self._channels.get(uniqueid)
            if channel is None:
                late = uniqueid in self._ended or (
                    linkedid in self._ended and event != "Newchannel"
                )
                # An OriginateResponse only names a channel; a failed one
                # names the channel asked for, with "<null>" as its id.
                if late or not name or event in ("Hangup", "OriginateResponse"):
                    continue
                channel = self._new_channel(uniqueid, name, linkedid, moment)
            else:
                if name and name != channel.name:
                    channel.name, channel.kind = name, channel_kind(name, self._trunks)
                if linkedid != channel.linkedid:
                    self._relink(channel, linkedid)
            cid = clean_number(message.get(prefix + "CallerIDNum"))
            if cid:
                channel.cid = cid
            exten = clean_number(message.get(prefix + "Exten"))
            if channel.exten is None and looks_dialable(exten):
                channel.exten = exten
            seen[prefix] = channel
        return seen

    def _new_channel(self, uniqueid, name, linkedid, moment):
        call = self._calls.get(linkedid)
        if call is None:
            call = _Call(linkedid, self._order, moment, moment, {linkedid})
            self._calls[linkedid] = call
        channel = _Channel(
            uniqueid, name, channel_kind(name, self._trunks), self._order, linkedid, call
        )
        call.channels[uniqueid] = channel
        self._channels[uniqueid] = channel
        half = local_half(name)
        if half:
            partner = self._locals.pop(half[0], None)
            if partner is None:
                self._locals[half[0]] = channel
            else:
                channel.partner, partner.partner = partner, channel
        return channel

    def _relink(self, channel, linkedid):
        channel.linkedid = linkedid
        other = self._calls.get(linkedid)
        if other is None:
            channel.call.linkedids.add(linkedid)
            self._calls[linkedid] = channel.call
        elif other is not channel.call:
            self._merge(other, channel.call)

    def _merge(self, one, two):
        """Weld two calls; the older one's id survives."""
        keep, gone = (one, two) if one.order <= two.order else (two, one)
        for channel in gone.channels.values():
            channel.call = keep
        keep.channels.update(gone.channels)
        keep.dials = sorted(keep.dials + gone.dials, key=lambda dial: dial.begin_order)
        keep.bridges |= gone.bridges
        keep.talk_spans += gone.talk_spans
        keep.links = sorted(keep.links + gone.links, key=lambda link: link[0])
        talking = [since for since in (keep.talk_since, gone.talk_since) if since is not None]
        keep.talk_since = min(talking, default=None)
        for linkedid in gone.linkedids:
            self._calls[linkedid] = keep
        keep.linkedids |= gone.linkedids
        keep.first_seen = min(keep.first_seen, gone.first_seen)
        keep.last_event = max(keep.last_event, gone.last_event)
        keep.transferred |= gone.transferred
        keep.abandoned |= gone.abandoned
        keep.diverted |= gone.diverted
        keep.recording = keep.recording or gone.recording
        keep.queues.merge(gone.queues)
        return keep

    def _finish(self, call, moment, complete):
        for uniqueid, channel in call.channels.items():
            self._channels.pop(uniqueid, None)
            self._ended[uniqueid] = moment
            half = local_half(channel.name)
            if half and self._locals.get(half[0]) is channel:
                del self._locals[half[0]]
        # Drop the call's bridges too, or a lost BridgeDestroy would leak them.
        for bridge_id in call.bridges:
            bridge = self._bridges.get(bridge_id)
            if bridge:
                bridge.members.difference_update(call.channels)
                if not bridge.members:
                    del self._bridges[bridge_id]
        for linkedid in call.linkedids:
            if self._calls.get(linkedid) is call:
                del self._calls[linkedid]
            self._ended[linkedid] = moment
        # Late events of a finished call are dropped by these ids for an hour;
        # a busy PBX must not grow the memory this takes without bound.
        while len(self._ended) > MAX_ENDED:
            del self._ended[next(iter(self._ended))]
        return summarize(call, complete)

    # -- event handlers ----------------------------------------------------

    def _on_dial_begin(self, message, moment, seen):
        target = seen.get("Dest")
        if target is None:
            return
        source = seen.get("")
        if source is not None and source.dial_cid is None:
            source.dial_cid = source.cid
            source.dial_exten = clean_number(message.get("Exten"))
        if source is not None:
            source.call.queues.moved_on(source.uniqueid)
        dial = _Dial(
            source,
            target,
            moment,
            self._order,
            message.get("DialString"),
            clean_number(message.get("DestExten")),
        )
        if source is not None:
            # A Local agent's first dial is the queue ringing the member; a
            # later one is the member's own dialplan passing the call on.
            partner = source.partner
            first = not any(other.source is source for other in source.call.dials)
            dial.queued = source.in_queue or (partner is not None and partner.queue_leg and first)
        target.queue_leg |= dial.queued
        target.call.dials.append(dial)

    def _on_dial_state(self, message, moment, seen):
        if message.get("Forward") and seen:
            next(iter(seen.values())).call.diverted = True

    def _on_dial_end(self, message, moment, seen):
        target = seen.get("Dest")
        if target is None:
            return
        source = seen.get("")
        call = target.call
        pair = [dial for dial in call.dials if dial.target is target and dial.source is source]
        dial = next((dial for dial in reversed(pair) if dial.ended is None), None)
        if dial is None:
            if pair:
                return  # Asterisk repeats DialEnd for some queue cancels.
            dial = _Dial(
                source, target, moment, self._order, None, clean_number(message.get("DestExten"))
            )
            call.dials.append(dial)
        dial.ended, dial.end_order = moment, self._order
        dial.status = (message.get("DialStatus") or "").upper() or None
        if message.get("Forward"):
            call.diverted = True

    def _on_bridge_create(self, message, moment, seen):
        bridge_id = message.get("BridgeUniqueid")
        if bridge_id and bridge_id not in self._bridges:
            self._bridges[bridge_id] = _Bridge(self._is_talking_bridge(message))

    def _on_bridge_enter(self, message, moment, seen):
        channel, bridge_id = seen.get(""), message.get("BridgeUniqueid")
        if channel is None or not bridge_id:
            return
        bridge = self._bridges.setdefault(bridge_id, _Bridge(self._is_talking_bridge(message)))
        bridge.members.add(channel.uniqueid)
        if bridge.talking:
            channel.call.queues.moved_on(channel.uniqueid)
        channel.bridges.add(bridge_id)
        channel.call.bridges.add(bridge_id)
        self._link_parties(channel, moment)
        self._update_talk(channel.call, moment)

    def _on_bridge_leave(self, message, moment, seen):
        channel, bridge_id = seen.get(""), message.get("BridgeUniqueid")
        if channel is None or not bridge_id:
            return
        self._leave_bridge(channel, bridge_id)
        self._update_talk(channel.call, moment)

    def _on_bridge_destroy(self, message, moment, seen):
        self._bridges.pop(message.get("BridgeUniqueid"), None)

    def _on_hangup(self, message, moment, seen):
        channel = seen.get("")
        if channel is None:
            return
        channel.hungup_at = moment
        channel.cause = message.get("Cause")
        for bridge_id in list(channel.bridges):
            self._leave_bridge(channel, bridge_id)
        self._update_talk(channel.call, moment)

    def _on_var_set(self, message, moment, seen):
        channel = seen.get("")
        variable = (message.get("Variable") or "").upper()
        if channel is not None and variable in self._recording_variables:
            self._set_recording(channel.call, message.get("Value"))
        if channel is not None and variable == "QUEUESTATUS":
            queue = channel.queue_app or ""
            channel.call.queues.queue_status(channel.uniqueid, message.get("Value"), moment, queue)

    def _on_transfer(self, message, moment, seen):
        if (message.get("Result") or "Success").lower() != "success" or not seen:
            return
        calls = list(dict.fromkeys(channel.call for channel in seen.values()))
        call = calls[0]
        for other in calls[1:]:
            call = self._merge(call, other)
        call.transferred = True

    def _on_queue_caller(self, message, moment, seen):
        channel, event = seen.get(""), message.get("Event")
        if channel is None:
            return
        channel.call.queues.feed(event, message, channel.uniqueid, moment)
        if event == "QueueCallerAbandon":
            channel.call.abandoned = True
        elif event in ("QueueCallerJoin", "QueueCallerLeave"):
            channel.in_queue = event == "QueueCallerJoin"

    def _on_new_exten(self, message, moment, seen):
        channel = seen.get("")
        if channel is not None and (message.get("Application") or "").lower() == "queue":
            channel.queue_app = (message.get("AppData") or "").split(",")[0].strip() or None

    def _on_pickup(self, message, moment, seen):
        # The picking phone starts a call of its own (it dialled *8 or
        # **201); from here on it is the ringing call's, bridge or not.
        picker, target = seen.get(""), seen.get("Target")
        if picker is not None and target is not None and picker.call is not target.call:
            self._merge(picker.call, target.call)

    # -- helpers -----------------------------------------------------------

    def _take_channel_variables(self, message, seen):
        # manager.conf "channelvars" adds "ChanVariable: NAME=value" lines
        # (Asterisk 11: "ChanVariable(SIP/201-0001): NAME=value").
        for key, value in message.pairs:
            lowered = key.lower()
            if not lowered.startswith(("chanvariable", "destchanvariable")):
                continue
            name, _, content = value.partition("=")
            if name.strip().upper() in self._recording_variables:
                channel = seen.get("Dest" if lowered.startswith("dest") else "") or next(
                    iter(seen.values())
                )
                self._set_recording(channel.call, content)

    @staticmethod
    def _set_recording(call, value):
        value = (value or "").strip()
        if value and not call.recording:
            call.recording = value

    @staticmethod
    def _is_talking_bridge(message):
        kinds = {
            (message.get("BridgeType") or "").lower(),
            (message.get("BridgeTechnology") or "").lower(),
        }
        return not kinds & NON_TALKING_BRIDGES

    def _leave_bridge(self, channel, bridge_id):
        channel.bridges.discard(bridge_id)
        bridge = self._bridges.get(bridge_id)
        if bridge:
            bridge.members.discard(channel.uniqueid)

    def _link_parties(self, channel, moment):
        call = channel.call
        parties = parties_of(reach(channel, self._bridges, self._channels))
        known = {(one, two) for _order, _moment, one, two in call.links}
        for i, one in enumerate(parties):
            for two in parties[i + 1 :]:
                if (one, two) not in known:
                    call.links.append((self._order, moment, one, two))

    def _update_talk(self, call, moment):
        # Any two channels in a bridge count, helpers included: an outside
        # leg is billed from its answer, acceptance prompt and all, and a
        # Local optimisation moves channels between bridges without a pause.
        # Only the talk after the answering party's answer is kept.
        talking = any(
            bridge.talking and len(bridge.members) >= 2
            for bridge in map(self._bridges.get, call.bridges)
            if bridge
        )
        if talking and call.talk_since is None:
            call.talk_since = moment
        elif not talking and call.talk_since is not None:
            call.talk_spans.append((call.talk_since, moment))
            call.talk_since = None


def _status(call: _Call, answer: _Channel | None, caller: _Channel, complete: bool) -> str:
    if answer is not None:
        return ANSWERED
    if call.abandoned:
        return MISSED
    statuses = {dial.status for dial in call.dials if dial.status and dial.status != "ANSWER"}
    if statuses and statuses <= FAILED_DIALS | {"BUSY"}:
        return BUSY if "BUSY" in statuses else FAILED
    if statuses & GAVE_UP_DIALS:
        return MISSED
    if caller.cause in BUSY_CAUSES:
        return BUSY
    if caller.cause in FAILURE_CAUSES:
        return FAILED
    # Everyone hung up and no person ever answered: IVR, voicemail, or the
    # caller gave up in the dialplan.
    return MISSED if complete else UNKNOWN


def _caller_and_direction(call: _Call, parties: list[_Channel]) -> tuple[_Channel | None, str]:
    """The party who placed the call (None: the PBX itself) and the direction.

    The first party seen is the caller, except a trunk leg the PBX dialled
    itself: an originate through ``Local/`` (a call-back) reaches the trunk
    before the phone on the other side, if there is one at all.
    """
    first = parties[0]
    if first.kind == TRUNK and any(dial.target is first for dial in call.dials):
        return next((ch for ch in parties if ch.kind == PHONE), None), OUTGOING
    return first, direction_of([ch.kind for ch in parties])


def summarize(call: _Call, complete: bool) -> dict | None:
    """The plain-dict record of a call; None when it has no party at all.

    The call is answered by the first party whose channel got joined to the
    caller's (see :mod:`.legs`). Ringing runs from the first dial towards a
    party (so time waiting in a queue or IVR is not ringing) until that party
    answered its dial (or, for a pickup, was joined), or until the last
    attempt ended. Talk time is the time, after that answer, during which two
    parties of the call were joined; the segments before and after a
    transfer add up, overlaps (a consultation while the caller holds) count
    once. ``complete`` is False for calls closed stale or flushed: when they
    give no clue, their status is "unknown" rather than a guess. A call that
    queued has the queue keys too (:mod:`.queues`).
    """
    parties = parties_of(call.channels.values())
    if not parties:
        return None
    caller, direction = _caller_and_direction(call, parties)
    # Dials towards a party other than the caller: for click-to-dial the
    # caller's own phone is dialled first, which is not the call ringing.
    legs = [
        dial for dial in call.dials if dial.target.kind != PLUMBING and dial.target is not caller
    ]
    party, answered_at = _answer(call, caller, parties, legs)
    if direction == OUTGOING:
        route = _outgoing_route(call, caller, legs)
    else:
        route = _incoming_route(call, caller, direction, party, legs)
    hangups = [ch.hungup_at for ch in call.channels.values() if ch.hungup_at is not None]
    end = max(hangups, default=call.last_event)
    rang = legs or call.dials
    record = call_record(
        external_id=call.external_id,
        direction=direction,
        status=_status(call, party, caller or parties[0], complete),
        route=route,
        transferred=call.transferred,
        start=_iso(call.first_seen),
        end=_iso(max(end, call.first_seen)),
        ring_seconds=ring_seconds(
            [dial.began for dial in rang],
            answered_at,
            [dial.ended for dial in rang if dial.ended is not None] or [end],
        ),
        talk_seconds=_talk_seconds(call, answered_at, end) if party is not None else 0,
        recording=call.recording,
        hangup_cause=(party or caller or parties[0]).cause,
    )
    # Only a call that queued says so: the other sources' queue fields stay.
    record.update(call.queues.fields(end, answered_at if party is not None else None))
    return record


def _answer(
    call: _Call, caller: _Channel | None, parties: list[_Channel], legs: list[_Dial]
) -> tuple[_Channel | None, float | None]:
    """``(party, moment)``: who answered the caller and when, else ``(None, None)``."""
    connection = first_connection(call, caller) if caller is not None else None
    party = connection[1] if connection else None
    if caller is None and answering_dial(legs, parties[0]) is not None:
        # Only the PBX itself (a message, an IVR) was there to be joined to:
        # the outside number answering is all the answer there can be.
        party = parties[0]
    answer = answering_dial(legs, party)
    return party, answer.ended if answer is not None else connection and connection[0]


def _outgoing_route(call: _Call, caller: _Channel | None, legs: list[_Dial]) -> Route:
    out = next((dial for dial in legs if dial.target.kind == TRUNK), None)
    if caller is not None:
        extension = extension_of(caller.name)
        from_number = caller.dial_cid or caller.cid or extension
    else:
        extension = None
        # The caller ID the PBX presented: the originate's, on the Local
        # half that dialled out.
        presented = out.source.dial_cid if out and out.source else None
        from_number = presented if looks_dialable(presented) else None
    return Route(from_number, dialled_number(out), extension, extension, call.diverted)


def _incoming_route(
    call: _Call, caller: _Channel, direction: str, party: _Channel | None, legs: list[_Dial]
) -> Route:
    """The route of an incoming or internal call (its caller is a party)."""
    wave = first_round(legs)
    round_phones = phone_endpoints(wave)
    # Only a desk phone has an extension: an outside number reached over
    # the trunk (a fixed destination, follow-me to a mobile) leaves it empty.
    took = extension_of(party.name) if party is not None and party.kind == PHONE else None
    first = first_extension(took, round_phones, round_phones + phone_endpoints(legs))
    forwarded = party is not None and (
        call.diverted or extension_of(party.name) not in {endpoint(dial) for dial in wave}
    )
    from_number = caller.dial_cid or caller.cid
    if direction == INCOMING:
        to_number = caller.exten
    else:
        from_number = from_number or extension_of(caller.name)
        to_number = caller.dial_exten if looks_dialable(caller.dial_exten) else None
    to_number = to_number or next(
        (dial.dest_exten for dial in legs if looks_dialable(dial.dest_exten)), None
    )
    # Nobody answered: the call is still the first phone's to follow up.
    extension = took if party is not None else first
    return Route(from_number, to_number, extension, first, forwarded)


def _talk_seconds(call: _Call, answered_at: float, end: float) -> int:
    """Seconds two parties were joined after the answer, overlaps once."""
    spans = list(call.talk_spans)
    if call.talk_since is not None:
        spans.append((call.talk_since, end))
    return round(_covered_seconds((max(start, answered_at), stop) for start, stop in spans))


def assemble(
    messages: Iterable[Message],
    trunks: Iterable[str],
    stale_seconds: float = 3600,
    clock: Callable[[], float] | None = None,
    **options: Any,
) -> list[dict]:
    """Every call in a sequence of messages, the open ones flushed at the end.

    ``clock`` returns the moment of reading for each message (a real clock
    when omitted); events with a ``Timestamp`` header ignore it.
    """
    assembler = CallAssembler(trunks, stale_seconds=stale_seconds, **options)
    calls = []
    for message in messages:
        calls += assembler.feed(message, clock() if clock else None)
    return calls + assembler.flush()
