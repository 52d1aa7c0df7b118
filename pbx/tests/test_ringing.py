"""Ringing events from the real AMI captures, and their delivery."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pbx.asterisk.ami import Message, parse_file
from pbx.listener.ringing import RingingDetector, RingingSender, post_ringing, ringing_events
from pbx.testing.captures import TRUNKS, capture


def events(name):
    return ringing_events(parse_file(capture(name)), TRUNKS)


def test_incoming_trunk_call_rings_the_phone_with_the_caller():
    assert events("simple_ab_success_twoclients.ami") == [
        {
            "from_number": "+31260010001",
            "to_number": "+31150010001",
            "extensions": ["150010001"],
            "call_id": "195176c06ab8-1529936734.297",
        }
    ]


def test_queue_rings_every_member_once():
    ringing = events("queue_queue_simple.ami")
    assert [e["extensions"] for e in ringing] == [["150010002"], ["150010003"]]
    assert {e["from_number"] for e in ringing} == {"+31150010001"}
    assert {e["call_id"] for e in ringing} == {"195176c06ab8-1529939196.518"}


def test_forwarded_call_rings_both_phones_with_the_outside_caller():
    ringing = events("xfer_misc_call_forwarding.ami")
    assert [(e["extensions"], e["from_number"]) for e in ringing] == [
        (["150010001"], "+31260010001"),
        (["150010002"], "+31260010001"),
    ]


def test_internal_call_names_the_calling_extension():
    [event] = events("simple_ab_success_a_hangup.ami")
    assert (event["from_number"], event["to_number"], event["extensions"]) == (
        "201",
        "202",
        ["150010002"],
    )


def test_click_to_dial_pops_up_nothing():
    """Originate rings the user's own phone on purpose; the trunk leg is no phone."""
    assert events("originate_ctd-account-world.ami") == []


def test_trunks_helpers_and_other_events_are_ignored():
    detector = RingingDetector(TRUNKS)
    base = {"Event": "DialBegin", "Channel": "SIP/201-1", "DestLinkedid": "L1"}
    for dest in ("SIP/voipgrid-siproute-9", "Local/201@ctx-1;1"):
        assert detector.feed(Message((base | {"DestChannel": dest}).items())) == []
    assert detector.feed(Message([("Event", "Newstate"), ("Channel", "SIP/201-1")])) == []
    rung = detector.feed(
        Message((base | {"DestChannel": "PJSIP/202-0000a", "CallerIDNum": "0612345678"}).items())
    )
    assert rung == [
        {"from_number": "0612345678", "to_number": "", "extensions": ["202"], "call_id": "L1"}
    ]
    # The same phone again in the same call (a later ring-group round): once only.
    again = base | {"DestChannel": "PJSIP/202-0000b"}
    assert detector.feed(Message(again.items())) == []


def test_memory_is_bounded():
    detector = RingingDetector(TRUNKS, memory=3)
    for n in range(10):
        detector.feed(
            Message(
                [("Event", "DialBegin"), ("DestChannel", f"SIP/{n}-1"), ("DestLinkedid", f"L{n}")]
            )
        )
    assert len(detector._originated) == 3


class FakeOdoo:
    def __init__(self, status=200, delay=0.0):
        self.posts = []
        self.status, self.delay = status, delay
        odoo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                odoo.posts.append((self.path, self.headers["Authorization"], json.loads(body)))
                time.sleep(odoo.delay)
                self.send_response(odoo.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"result": "sent"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def odoo():
    server = FakeOdoo()
    yield server
    server.stop()


EVENT = {"from_number": "+31205550101", "to_number": "", "extensions": ["201"], "call_id": "c1"}


def test_post_ringing(odoo):
    assert post_ringing(odoo.url + "/", 3, "tok", EVENT) == 200
    assert odoo.posts == [("/phone_call_accounting/pbx/3/ringing", "Bearer tok", EVENT)]
    odoo.status = 403
    assert post_ringing(odoo.url, 3, "bad", EVENT) == 403


def test_post_ringing_to_nobody_returns_none_quickly():
    server = FakeOdoo()
    url = server.url
    server.stop()
    started = time.monotonic()
    assert post_ringing(url, 1, "t", EVENT, timeout=0.5) is None
    assert time.monotonic() - started < 1


def test_sender_never_blocks_and_drops_when_full(odoo):
    odoo.delay = 0.3
    sender = RingingSender(odoo.url, 1, "t", timeout=2, queue_size=2)
    started = time.monotonic()
    for n in range(10):
        sender.send(EVENT | {"call_id": f"c{n}"})
    assert time.monotonic() - started < 0.1
    assert sender.dropped >= 7
    # The thread may or may not have taken the first event before the queue filled.
    kept = 10 - sender.dropped
    assert kept in (2, 3)
    deadline = time.monotonic() + 5
    while sender.sent < kept and time.monotonic() < deadline:
        time.sleep(0.02)
    sender.stop()
    assert sender.sent == kept
    assert [post[2]["call_id"] for post in odoo.posts] == [f"c{n}" for n in range(kept)]
