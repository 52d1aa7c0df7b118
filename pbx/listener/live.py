"""The listener's side of live events (:mod:`pbx.live`): detect, post.

:class:`LiveTracker` turns AMI events into the wallboard's live events:
queue callers (``QueueCallerJoin``/``Leave``/``Abandon``), queue members
(``QueueMemberStatus``/``Pause``/``Added``/``Removed``, ``AgentConnect``/
``AgentComplete``) and the calls in progress on desk phones (``DialBegin``,
``DialEnd``, ``BridgeEnter``, ``Hangup``). It also reads the answers to the
``QueueStatus`` action (``QueueParams``, ``QueueMember``, ``QueueEntry``
events, then ``QueueStatusComplete``) into one ``snapshot`` event that
replaces the queues' state in Odoo, so the wallboard is right after a restart
and heals from a lost batch; ``QueueSummary`` answers that disagree with what
it tracks ask for such a snapshot (:attr:`LiveTracker.resync_wanted`).

:class:`LiveSender` posts the events from a thread of its own, in batches at
most every ``interval`` seconds, through a bounded queue: a slow or absent
Odoo never holds up the listener, and an event that cannot be queued is
dropped (the next snapshot repairs what it would have told).
"""

import logging
import threading
import time
from collections import OrderedDict, deque
from datetime import UTC, datetime

from ..asterisk.channels import (
    PHONE,
    TRUNK,
    channel_kind,
    clean_number,
    compile_trunks,
    extension_of,
    looks_dialable,
)
from .ringing import post_best_effort

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
# At most one POST per this many seconds: a busy PBX's events go in batches.
DEFAULT_INTERVAL = 0.25
QUEUE_SIZE = 20000
MAX_BATCH = 1000
# Channels, callers and answers remembered (bounded, oldest forgotten first).
MEMORY = 5000

# Asterisk device states (AST_DEVICE_*) of a queue member's Status header.
_ON_CALL = {"2", "3", "7", "8"}  # in use, busy, ringing while in use, on hold
_RINGING = {"6"}
_UNAVAILABLE = {"4", "5"}  # invalid, unavailable
_NOT_ANSWERED = {"NOANSWER", "CANCEL", "BUSY", "CHANUNAVAIL", "CONGESTION", "ABORT"}


def iso(timestamp):
    """An epoch time as ISO 8601 in UTC, as live events carry it."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def _number(*values):
    for value in values:
        value = clean_number(value)
        if looks_dialable(value):
            return value
    return ""


def _name(value):
    value = clean_number(value)
    return value or ""


def member_status(message):
    """A queue member's live status from its AMI headers (Paused, Status, InCall)."""
    if message.get("Paused") == "1":
        return "paused"
    status = message.get("Status")
    if status in _RINGING:
        return "ringing"
    if status in _ON_CALL or message.get("InCall") == "1":
        return "on_call"
    if status in _UNAVAILABLE:
        return "unavailable"
    return "available"


def member_extension(message):
    """The extension behind a queue member: its state interface's endpoint
    (``PJSIP/201``, ``Local/201@agents/n`` give ``201``), else its name."""
    for key in ("StateInterface", "Interface", "Location"):
        value = message.get(key)
        if not value:
            continue
        resource = value.partition("/")[2] or value
        resource = resource.split("@")[0].split(";")[0].split("/")[0]
        extension = extension_of(f"x/{resource}")
        if extension:
            return extension
    return _name(message.get("MemberName") or message.get("Name"))


def _interface(message):
    return message.get("Interface") or message.get("Location") or ""


class _Memory(OrderedDict):
    """A dict that forgets its oldest keys beyond ``size``."""

    def __init__(self, size=MEMORY):
        super().__init__()
        self.size = size

    def __setitem__(self, key, value):
        result = super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return result


class LiveTracker:
    """Feed AMI messages (from one thread); get live event dicts back.

    :meth:`expect_status` / :meth:`expect_summary` (from any thread) name the
    ActionID of a ``QueueStatus`` / ``QueueSummary`` action about to be sent;
    the events that answer it are read into a snapshot / compared with what
    is tracked.
    """

    def __init__(self, trunks, clock=time.time, memory=MEMORY):
        self._trunks = compile_trunks(trunks)
        self.clock = clock
        self._lock = threading.Lock()
        self._linked = _Memory(memory)  # uniqueid -> linkedid
        self._waiting = {}  # queue -> {call_id: caller channel uniqueid}
        self._answered = _Memory(memory)  # caller channel uniqueids answered by a dial
        self._left = _Memory(memory)  # (queue, call_id) already told as left
        self._abandoned = _Memory(memory)  # (queue, call_id) with a QueueCallerAbandon
        self._numbers = _Memory(memory)  # call_id -> the queue caller's number
        self._members = {}  # (queue, interface) -> {"extension", "name", "status"}
        self._legs = _Memory(memory)  # phone channel -> {"call_id", "extension", "state", ...}
        self._status = None  # the QueueStatus being read
        self._summary = None  # the ActionID of the QueueSummary being read
        self.resync_wanted = False
        self.snapshots = 0

    # -- actions -----------------------------------------------------------

    def expect_status(self, action_id):
        with self._lock:
            self._status = {"action_id": action_id, "queues": OrderedDict()}

    def expect_summary(self, action_id):
        with self._lock:
            self._summary = action_id

    # -- events ------------------------------------------------------------

    def feed(self, message):
        """The live events (a list of dicts, usually empty or one) of one message."""
        name = message.get("Event")
        handler = self._HANDLERS.get(name)
        if handler is None:
            return []
        uniqueid, linkedid = message.get("Uniqueid"), message.get("Linkedid")
        if uniqueid and linkedid:
            self._linked[uniqueid] = linkedid
        return handler(self, message) or []

    def _at(self, message):
        stamp = message.get("Timestamp")
        try:
            return iso(float(stamp)) if stamp else iso(self.clock())
        except ValueError:
            return iso(self.clock())

    # queue callers

    def _call_id(self, message):
        uniqueid = message.get("Uniqueid") or ""
        return message.get("Linkedid") or self._linked.get(uniqueid) or uniqueid

    def _join(self, message):
        queue, call_id = message.get("Queue"), self._call_id(message)
        if not queue or not call_id:
            return []
        self._waiting.setdefault(queue, {})[call_id] = message.get("Uniqueid") or ""
        self._left.pop((queue, call_id), None)
        self._abandoned.pop((queue, call_id), None)
        number = _number(message.get("CallerIDNum"))
        if number:
            self._numbers[call_id] = number
        return [
            {
                "type": "caller_join",
                "queue": queue,
                "call_id": call_id,
                "number": number,
                "name": _name(message.get("CallerIDName")),
                "position": _int(message.get("Position")),
                "at": self._at(message),
            }
        ]

    def _leave(self, message):
        """The caller left the queue: answered when a dial of its channel was
        answered just before, abandoned after a QueueCallerAbandon (app_queue
        sends one for a timeout too: the wallboard need not tell them apart),
        else other."""
        queue, call_id = message.get("Queue"), self._call_id(message)
        if not queue or not call_id or (queue, call_id) in self._left:
            return []
        channel = self._waiting.get(queue, {}).pop(call_id, None)
        if (channel or message.get("Uniqueid")) in self._answered:
            result = "answered"
        elif self._abandoned.pop((queue, call_id), None):
            result = "abandoned"
        else:
            result = "other"
        self._left[(queue, call_id)] = True
        return [
            {
                "type": "caller_leave",
                "queue": queue,
                "call_id": call_id,
                "result": result,
                "at": self._at(message),
            }
        ]

    def _abandon(self, message):
        queue, call_id = message.get("Queue"), self._call_id(message)
        if queue and call_id:
            self._abandoned[(queue, call_id)] = True
        return []

    # queue members

    def _member(self, message, status=None):
        queue, interface = message.get("Queue"), _interface(message)
        if not queue or not interface:
            return []
        known = self._members.get((queue, interface), {})
        member = {
            "extension": member_extension(message) or known.get("extension", ""),
            "name": _name(message.get("MemberName") or message.get("Name"))
            or known.get("name", ""),
            "status": status or member_status(message),
        }
        self._members[(queue, interface)] = member
        return [
            {
                "type": "member",
                "queue": queue,
                "member": interface,
                **member,
                "at": self._at(message),
            }
        ]

    def _member_removed(self, message):
        queue, interface = message.get("Queue"), _interface(message)
        if not queue or not interface:
            return []
        self._members.pop((queue, interface), None)
        return [
            {"type": "member_removed", "queue": queue, "member": interface, "at": self._at(message)}
        ]

    def _agent_member(self, message):
        """The known member an Agent* event names (by interface, else by name)."""
        queue, interface = message.get("Queue"), message.get("Interface")
        if (queue, interface) in self._members:
            return interface
        name = message.get("MemberName")
        for (known_queue, known_interface), member in self._members.items():
            if known_queue == queue and name and member["name"] == name:
                return known_interface
        return None

    def _agent(self, message, connected):
        interface = self._agent_member(message)
        if interface is None:
            return []
        queue = message.get("Queue")
        known = self._members[(queue, interface)]
        if known["status"] == "paused":
            return []
        status = "on_call" if connected else "available"
        if known["status"] == status:
            return []
        known["status"] = status
        return [
            {
                "type": "member",
                "queue": queue,
                "member": interface,
                **known,
                "at": self._at(message),
            }
        ]

    def _agent_connect(self, message):
        return self._agent(message, True)

    def _agent_complete(self, message):
        return self._agent(message, False)

    # calls in progress on desk phones

    def _leg(self, channel, call_id, extension, from_number, to_number):
        leg = {
            "call_id": call_id,
            "extension": extension,
            "state": None,
            "from_number": from_number,
            "to_number": to_number,
        }
        self._legs[channel] = leg
        return leg

    def _call_event(self, leg, state, message):
        if leg["state"] == state:
            return []
        leg["state"] = state
        return [
            {
                "type": "call",
                "call_id": leg["call_id"],
                "state": state,
                "from_number": leg["from_number"],
                "to_number": leg["to_number"],
                "extension": leg["extension"],
                "at": self._at(message),
            }
        ]

    def _dial_begin(self, message):
        dest, channel = message.get("DestChannel"), message.get("Channel")
        call_id = message.get("DestLinkedid") or message.get("Linkedid")
        if not dest or not call_id:
            return []
        if channel_kind(dest, self._trunks) == PHONE:
            extension = extension_of(dest)
            if not extension:
                return []
            leg = self._leg(
                dest,
                call_id,
                extension,
                _number(message.get("DestConnectedLineNum"), message.get("CallerIDNum"))
                or self._numbers.get(call_id, ""),
                _number(message.get("Exten"), message.get("DestExten")) or extension,
            )
            return self._call_event(leg, "ringing", message)
        if (
            channel
            and channel not in self._legs
            and channel_kind(channel, self._trunks) == PHONE
            and channel_kind(dest, self._trunks) == TRUNK
        ):
            extension = extension_of(channel)
            if not extension:
                return []
            leg = self._leg(
                channel,
                call_id,
                extension,
                extension,
                _number(message.get("DestExten"), message.get("Exten"), message.get("DialString")),
            )
            return self._call_event(leg, "ringing", message)
        return []

    def _dial_end(self, message):
        dest, channel = message.get("DestChannel"), message.get("Channel")
        status = (message.get("DialStatus") or "").upper()
        if status == "ANSWER":
            # A queue caller's channel answered by this dial: its leave is "answered".
            if message.get("Uniqueid"):
                self._answered[message.get("Uniqueid")] = True
            for name in (dest, channel):
                leg = self._legs.get(name)
                if leg is not None:
                    return self._call_event(leg, "talking", message)
            return []
        if status in _NOT_ANSWERED:
            for name in (dest, channel):
                leg = self._legs.get(name)
                if leg is not None and leg["state"] == "ringing":
                    self._legs.pop(name, None)
                    return self._call_event(leg, "ended", message)
        return []

    def _bridge_enter(self, message):
        channel = message.get("Channel")
        if not channel or channel_kind(channel, self._trunks) != PHONE:
            return []
        leg = self._legs.get(channel)
        if leg is None:
            extension = extension_of(channel)
            call_id = message.get("Linkedid")
            if not extension or not call_id:
                return []
            leg = self._leg(
                channel,
                call_id,
                extension,
                _number(message.get("ConnectedLineNum"), message.get("CallerIDNum")),
                extension,
            )
        return self._call_event(leg, "talking", message)

    def _hangup(self, message):
        leg = self._legs.pop(message.get("Channel"), None)
        if leg is None:
            return []
        return self._call_event(leg, "ended", message)

    # QueueStatus and QueueSummary answers

    def _status_for(self, message):
        with self._lock:
            status = self._status
        if status is None or message.get("ActionID") != status["action_id"]:
            return None
        return status

    def _queue_params(self, message):
        status = self._status_for(message)
        if status is not None and message.get("Queue"):
            status["queues"].setdefault(message.get("Queue"), {"callers": [], "members": []})
        return []

    def _queue_member(self, message):
        status = self._status_for(message)
        queue = message.get("Queue")
        if status is None or not queue or not _interface(message):
            return []
        entry = status["queues"].setdefault(queue, {"callers": [], "members": []})
        entry["members"].append(
            {
                "member": _interface(message),
                "extension": member_extension(message),
                "name": _name(message.get("MemberName") or message.get("Name")),
                "status": member_status(message),
            }
        )
        return []

    def _queue_entry(self, message):
        status = self._status_for(message)
        queue = message.get("Queue")
        if status is None or not queue:
            return []
        entry = status["queues"].setdefault(queue, {"callers": [], "members": []})
        wait = _int(message.get("Wait"))
        entry["callers"].append(
            {
                "call_id": self._call_id(message),
                "uniqueid": message.get("Uniqueid") or "",
                "number": _number(message.get("CallerIDNum")),
                "name": _name(message.get("CallerIDName")),
                "position": _int(message.get("Position")),
                "at": iso(self.clock() - wait),
            }
        )
        return []

    def _queue_status_complete(self, message):
        status = self._status_for(message)
        if status is None:
            return []
        with self._lock:
            self._status = None
        queues = []
        for queue, entry in status["queues"].items():
            callers = [caller for caller in entry["callers"] if caller["call_id"]]
            # What the tracker knows from now on: the PBX's own word.
            self._waiting[queue] = {c["call_id"]: c.pop("uniqueid") for c in callers}
            for key in [key for key in self._members if key[0] == queue]:
                del self._members[key]
            for member in entry["members"]:
                self._members[(queue, member["member"])] = {
                    k: member[k] for k in ("extension", "name", "status")
                }
            queues.append({"queue": queue, "callers": callers, "members": entry["members"]})
        self.snapshots += 1
        self.resync_wanted = False
        return [{"type": "snapshot", "queues": queues, "at": iso(self.clock())}]

    def _queue_summary(self, message):
        with self._lock:
            expected = self._summary
        queue = message.get("Queue")
        if expected is None or message.get("ActionID") != expected or not queue:
            return []
        callers = _int(message.get("Callers"))
        logged_in = _int(message.get("LoggedIn"))
        members = sum(1 for known_queue, _ in self._members if known_queue == queue)
        if callers != len(self._waiting.get(queue, {})) or logged_in != members:
            _logger.info(
                "Queue %s: the PBX has %d callers and %d members, the wallboard %d and %d; "
                "asking for its status",
                queue,
                callers,
                logged_in,
                len(self._waiting.get(queue, {})),
                members,
            )
            self.resync_wanted = True
        return []

    def _queue_summary_complete(self, message):
        with self._lock:
            if message.get("ActionID") == self._summary:
                self._summary = None
        return []

    _HANDLERS = {
        "QueueCallerJoin": _join,
        "QueueCallerLeave": _leave,
        "QueueCallerAbandon": _abandon,
        "QueueMemberStatus": _member,
        "QueueMemberPause": _member,
        "QueueMemberPaused": _member,
        "QueueMemberAdded": _member,
        "QueueMemberRemoved": _member_removed,
        "AgentConnect": _agent_connect,
        "AgentComplete": _agent_complete,
        "DialBegin": _dial_begin,
        "DialEnd": _dial_end,
        "BridgeEnter": _bridge_enter,
        "Hangup": _hangup,
        "QueueParams": _queue_params,
        "QueueMember": _queue_member,
        "QueueEntry": _queue_entry,
        "QueueStatusComplete": _queue_status_complete,
        "QueueSummary": _queue_summary,
        "QueueSummaryComplete": _queue_summary_complete,
    }


def _int(value):
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def live_url(url, pbx_id):
    return f"{url.rstrip('/')}/phone_call_accounting/pbx/{pbx_id}/live"


def post_live(url, pbx_id, token, events, timeout=DEFAULT_TIMEOUT, opener=None):
    """POST ``{"events": events}`` to Odoo; the HTTP status (None: no answer).

    Never raises for network trouble: live events are best effort.
    """
    what = f"{len(events)} live events"
    return post_best_effort(live_url(url, pbx_id), token, {"events": events}, what, timeout, opener)


class LiveSender:
    """Post live events from a background thread; :meth:`send` never blocks.

    Events wait in a bounded queue (beyond ``queue_size`` new ones are
    dropped) and go out in one POST of up to ``max_batch`` at most every
    ``interval`` seconds; the first event after a quiet spell goes at once.
    A batch Odoo did not take is dropped too, and :attr:`lost` turns True
    until :meth:`clear_lost`: the listener then asks the PBX for a snapshot.
    """

    def __init__(
        self,
        url,
        pbx_id,
        token,
        timeout=DEFAULT_TIMEOUT,
        interval=DEFAULT_INTERVAL,
        queue_size=QUEUE_SIZE,
        max_batch=MAX_BATCH,
        post=post_live,
    ):
        self.url, self.pbx_id, self.token, self.timeout = url, pbx_id, token, timeout
        self.interval, self.queue_size, self.max_batch = interval, queue_size, max_batch
        self.post = post
        self._queue = deque()
        self._ready = threading.Condition()
        self.sent = self.dropped = self.posts = 0
        self.lost = False
        self._stopping = False
        self._last_post = 0.0
        self._thread = threading.Thread(target=self._run, name="pbx-live", daemon=True)
        self._thread.start()

    def send(self, event):
        with self._ready:
            if len(self._queue) >= self.queue_size:
                self.dropped += 1
                self.lost = True
                return
            self._queue.append(event)
            self._ready.notify()

    def clear_lost(self):
        self.lost = False

    def pending(self):
        with self._ready:
            return len(self._queue)

    def stop(self, timeout=1.0):
        with self._ready:
            self._stopping = True
            self._ready.notify()
        self._thread.join(timeout)

    def _run(self):
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                if self._stopping:
                    return
            # Batch what arrives until the interval since the last post is over.
            wait = self._last_post + self.interval - time.monotonic()
            if wait > 0:
                with self._ready:
                    self._ready.wait_for(lambda: self._stopping, wait)
                    if self._stopping:
                        return
            with self._ready:
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))
                ]
            self._last_post = time.monotonic()
            status = self.post(self.url, self.pbx_id, self.token, batch, self.timeout)
            self.posts += 1
            if status == 200:
                self.sent += len(batch)
            else:
                self.dropped += len(batch)
                self.lost = True


def live_events(messages, trunks, clock=None):
    """Every live event of a recorded stream, in order (for tests and replays)."""
    tracker = LiveTracker(trunks, **({"clock": clock} if clock else {}))
    return [event for message in messages for event in tracker.feed(message)]
