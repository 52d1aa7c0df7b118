"""The listener's side of ringing events (:mod:`pbx.ringing`): detect, post.

:class:`RingingDetector` turns AMI ``DialBegin`` events towards desk phones
into ringing event dicts; :class:`RingingSender` posts them from a thread of
its own through a small bounded queue, so a slow or absent Odoo never holds
up the listener (a ringing event that cannot be sent within a few seconds is
worthless anyway and is dropped). :func:`post_ringing` is the one-shot
client.
"""

import contextlib
import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from http.client import HTTPException
from urllib.parse import urlsplit

from ..asterisk.channels import (
    PHONE,
    channel_kind,
    clean_number,
    compile_trunks,
    extension_of,
    looks_dialable,
)

_logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0
# Ringing events waiting to be posted; more are dropped (they would be late).
QUEUE_SIZE = 100
# Calls remembered to avoid popping up twice for the same phone.
MEMORY = 5000


def _first_number(*values):
    for value in values:
        value = clean_number(value)
        if looks_dialable(value):
            return value
    return None


class RingingDetector:
    """Feed AMI messages; get ringing event dicts back.

    A ``DialBegin`` whose destination is a desk phone (not a trunk, not a
    ``Local/`` helper) rings that phone. The caller is what the ringing
    phone displays (``DestConnectedLineNum``), else the dialling channel's
    caller ID. A call started by an ``Originate`` (click to dial: its first
    dial has no calling channel) rings the user's own phone on purpose and
    pops up nothing. Each phone pops up once per call, even when a ring
    group rings it again in a later round.
    """

    def __init__(self, trunks, memory=MEMORY):
        self._trunks = compile_trunks(trunks)
        self._memory = memory
        self._originated = OrderedDict()  # linkedid -> True
        self._rung = OrderedDict()  # (linkedid, extension) -> True

    def feed(self, message):
        """The ringing events (a list of dicts, usually empty) of one message."""
        if message.get("Event") != "DialBegin":
            return []
        dest = message.get("DestChannel")
        linkedid = message.get("DestLinkedid") or message.get("Linkedid")
        if not dest or not linkedid:
            return []
        if not message.get("Channel"):
            # Dialled by an Originate: nobody calls, the user asked for it.
            self._remember(self._originated, linkedid)
            return []
        if linkedid in self._originated:
            return []
        if channel_kind(dest, self._trunks) != PHONE:
            return []
        extension = extension_of(dest)
        if not extension or (linkedid, extension) in self._rung:
            return []
        self._remember(self._rung, (linkedid, extension))
        return [
            {
                "from_number": _first_number(
                    message.get("DestConnectedLineNum"), message.get("CallerIDNum")
                )
                or "",
                "to_number": _first_number(message.get("Exten"), message.get("DestExten")) or "",
                "extensions": [extension],
                "call_id": linkedid,
            }
        ]

    def _remember(self, store, key):
        store[key] = True
        store.move_to_end(key)
        while len(store) > self._memory:
            store.popitem(last=False)


def ringing_url(url, pbx_id):
    return f"{url.rstrip('/')}/phone_call_accounting/pbx/{pbx_id}/ringing"


def post_ringing(url, pbx_id, token, event, timeout=DEFAULT_TIMEOUT, opener=None):
    """POST one ringing event to Odoo; return the HTTP status (None: no answer).

    Never raises for network trouble: a ringing pop-up is best effort.
    """
    return post_best_effort(
        ringing_url(url, pbx_id), token, event, "a ringing event", timeout, opener
    )


def post_best_effort(endpoint, token, body, what, timeout=DEFAULT_TIMEOUT, opener=None):
    """POST ``body`` as JSON to an Odoo route of a PBX; the HTTP status (None:
    no answer). Never raises for network trouble: what the listener posts
    beside the calls (ringing, live events) is best effort; ``what`` names it
    in the log."""
    if opener is None:
        handlers = []
        if urlsplit(endpoint).hostname in ("127.0.0.1", "localhost", "::1"):
            handlers.append(urllib.request.ProxyHandler({}))
        opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        },
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300]
        exc.close()
        _logger.warning("Odoo refused %s: HTTP %s %s", what, exc.code, detail)
        return exc.code
    except (urllib.error.URLError, OSError, HTTPException) as exc:
        _logger.debug("%s not delivered: %s", what, exc)
        return None


class RingingSender:
    """Post ringing events from a background thread; :meth:`send` never blocks."""

    def __init__(self, url, pbx_id, token, timeout=DEFAULT_TIMEOUT, queue_size=QUEUE_SIZE):
        self.url, self.pbx_id, self.token, self.timeout = url, pbx_id, token, timeout
        self._queue = queue.Queue(queue_size)
        self.sent = self.dropped = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pbx-ringing", daemon=True)
        self._thread.start()

    def send(self, event):
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def stop(self, timeout=1.0):
        self._stopping.set()
        # A full queue is fine: the thread sees _stopping after its current post.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout)

    def _run(self):
        while (event := self._queue.get()) is not None and not self._stopping.is_set():
            status = post_ringing(self.url, self.pbx_id, self.token, event, self.timeout)
            if status == 200:
                self.sent += 1
            else:
                self.dropped += 1


def ringing_events(messages, trunks):
    """Every ringing event of a recorded stream, in order (for tests and replays)."""
    detector = RingingDetector(trunks)
    return [event for message in messages for event in detector.feed(message)]
