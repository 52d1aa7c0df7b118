"""The five pyst2 0.5.1 defects: each shown on stock pyst2, then shown fixed.

Every test talks TCP to the fake AMI server (:mod:`pbx.testing.fake_ami`) on
127.0.0.1, which replays the shared real captures. The ``stock`` tests
document what :class:`pbx.asterisk.ami_manager.Manager` exists for; if a pyst2
upgrade fixes a defect, its stock test fails and says so.
"""

import itertools
import logging
import random
import socket
import threading
import time
from contextlib import suppress

import pytest
from asterisk import manager as stock

from pbx.asterisk.ami import Parser, parse_bytes
from pbx.asterisk.ami_manager import (
    AmiEvent,
    ChunkParser,
    Manager,
    ManagerException,
    ManagerSocketException,
    ManagerTimeout,
)
from pbx.asterisk.assembler import assemble
from pbx.testing.captures import TRUNKS, capture
from pbx.testing.fake_ami import FakeAmiServer, add_channel_variables, split_messages

# pyst2 0.5.1 itself calls the deprecated Event.isSet() and Thread.setDaemon().
pytestmark = pytest.mark.filterwarnings(
    r"ignore:(isSet|setDaemon)\(\) is deprecated:DeprecationWarning"
)
CAPTURE = "simple_ab_success_a_hangup.ami"
CLOCK_START = 1_700_000_000

stock_thread_death = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnhandledThreadExceptionWarning"
)


def captured(name=CAPTURE):
    return split_messages(capture(name).read_bytes())


def with_recording_file(messages):
    """What manager.conf ``channelvars = MIXMONITOR_FILENAME`` adds to events."""
    return add_channel_variables(
        messages,
        lambda message: [("MIXMONITOR_FILENAME", f"/rec/{message['Linkedid']}.wav")],
    )


class Collect:
    """A ``*`` callback keeping every event."""

    def __init__(self):
        self.events = []

    def __call__(self, event, manager):
        self.events.append(event)

    def wait(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.events) >= count


def log_in(manager, server, *callbacks):
    manager.connect("127.0.0.1", server.port)
    for callback in callbacks:
        manager.register_event("*", callback)
    manager.login("listener", "secret")
    return manager


def retire_stock(manager, server):
    """Stop a stock pyst2 Manager by hand: its close() could wait forever."""
    server.drop()
    manager.message_thread.join(5)
    manager._event_queue.put(None)
    manager._response_queue.put(None)
    manager.event_dispatch_thread.join(5)
    manager._running.clear()
    manager._connected.clear()


def unanswered(call, seconds):
    """True when ``call()`` is still blocked after ``seconds``."""
    done = threading.Event()

    def run():
        # Only whether it returns matters, not how.
        with suppress(Exception):
            call()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return not done.wait(seconds)


# -- 1. one byte per system call ---------------------------------------------


def test_stock_pyst2_reads_one_byte_per_system_call(monkeypatch):
    sizes = []
    readinto = socket.SocketIO.readinto

    def counting(self, buffer):
        sizes.append(len(buffer))
        return readinto(self, buffer)

    monkeypatch.setattr(socket.SocketIO, "readinto", counting)
    messages = captured()
    with FakeAmiServer(messages) as server:
        seen = Collect()
        manager = log_in(stock.Manager(), server, seen)
        assert seen.wait(len(messages))
        retire_stock(manager, server)
    assert set(sizes) == {1}
    assert len(sizes) >= sum(map(len, messages))


def test_manager_reads_in_chunks():
    messages = captured()
    with FakeAmiServer(messages) as server:
        seen = Collect()
        manager = log_in(Manager(), server, seen)
        assert seen.wait(len(messages))
        manager.close()
    assert manager.bytes_read >= sum(map(len, messages))
    assert manager.bytes_read / manager.reads > 1000
    assert [event.ami for event in seen.events] == parse_bytes(b"".join(messages))


@pytest.mark.parametrize("seed", range(5))
def test_chunk_parser_gives_what_parser_gives(seed):
    captures = [
        "simple_ab_success_a_hangup.ami",
        "xfer_attended_xfer_abbcac.ami",
        "queue_queue_simple.ami",
    ]
    wire = b"".join(capture(name).read_bytes() for name in captures)
    # Odd but legal input: LF only, whitespace-only separator lines, a line
    # without a colon, an empty key, a repeated header, UTF-8 split anywhere.
    wire += (
        b"Event: UserEvent\nUserEvent: caf\xc3\xa9 \xe2\x82\xac\n \t \n"
        b"Asterisk Call Manager/5.0.1\r\nResponse: Success\r\n: no key\r\n"
        b"Output: a\r\nOutput: b \r\n  Spaced :  value  \r\n\r\n\r\n\r\n"
        b"Event: Bad\r\nValue: \xff\xfe\r\n\r\nEvent: Last\r\nTail: unfinished"
    )
    rng = random.Random(seed)
    expected, got = Parser(), ChunkParser()
    want, have, offset = [], [], 0
    while offset < len(wire):
        size = rng.choice([1, 2, 3, 7, 100, 1000, 65536])
        chunk = wire[offset : offset + size]
        want += expected.feed(chunk)
        have += got.feed(chunk)
        offset += size
    assert have == want
    assert got.flush() == expected.flush()
    assert [dict(message.pairs) for message in have][-2:] == [
        {"Response": "Success", "Output": "b", "Spaced": "value"},
        {"Event": "Bad", "Value": "\ufffd\ufffd"},
    ]


# -- 2. ChanVariable kills the reader ---------------------------------------


@stock_thread_death
def test_stock_pyst2_reader_dies_on_chanvariable_while_connected_says_true():
    messages = with_recording_file(captured())
    first = next(n for n, raw in enumerate(messages) if b"ChanVariable" in raw)
    with FakeAmiServer(messages) as server:
        seen = Collect()
        manager = log_in(stock.Manager(), server, seen)
        assert server.wait_for(lambda: server.sent == len(messages))
        assert server.wait_for(lambda: len(seen.events) >= first)
        time.sleep(0.3)  # room for events that must not come
        assert len(seen.events) == first  # nothing after the first ChanVariable
        assert manager.connected()
        assert unanswered(manager.ping, 0.5)  # no keepalive can notice either
        retire_stock(manager, server)


def test_manager_keeps_chanvariable_headers():
    messages = with_recording_file(captured())
    with FakeAmiServer(messages) as server:
        seen = Collect()
        manager = log_in(Manager(), server, seen)
        assert seen.wait(len(messages))
        assert manager.ping().get_header("Ping") == "Pong"
        manager.close()
    event = next(event for event in seen.events if event.name == "Newchannel")
    linkedid = event.get_header("Linkedid")
    # pyst2's own shape for it, as its has_key code meant to build it.
    assert event.headers["ChanVariable"] == {"MIXMONITOR_FILENAME": f"/rec/{linkedid}.wav"}
    assert event.ami.get_all("ChanVariable") == [f"MIXMONITOR_FILENAME=/rec/{linkedid}.wav"]
    clock = itertools.count(CLOCK_START).__next__
    (call,) = assemble([event.ami for event in seen.events], TRUNKS, clock=clock)
    assert call["recording"] == f"/rec/{call['external_id']}.wav"


# -- 3. an exception in a callback kills dispatching ------------------------


def failing_on(count):
    seen = []

    def callback(event, manager):
        seen.append(event)
        if len(seen) == count:
            raise RuntimeError("bug in a callback")

    return callback


@stock_thread_death
def test_stock_pyst2_stops_dispatching_after_a_failing_callback():
    messages = captured()
    with FakeAmiServer(messages) as server:
        seen = Collect()
        manager = log_in(stock.Manager(), server, failing_on(3), seen)
        assert server.wait_for(lambda: server.sent == len(messages))
        assert server.wait_for(lambda: len(seen.events) >= 2)
        time.sleep(0.3)  # room for events that must not come
        assert len(seen.events) == 2
        assert not manager.event_dispatch_thread.is_alive()
        assert manager.connected()
        retire_stock(manager, server)


def test_manager_logs_a_failing_callback_and_goes_on(caplog):
    messages = captured()
    with (
        FakeAmiServer(messages) as server,
        caplog.at_level(logging.ERROR, "pbx.asterisk.ami_manager"),
    ):
        seen = Collect()
        manager = log_in(Manager(), server, failing_on(3), seen)
        assert seen.wait(len(messages))
        manager.close()
    assert len(seen.events) == len(messages)
    assert manager.callback_errors == 1
    assert "bug in a callback" in caplog.text
    assert "dispatching goes on" in caplog.text


# -- 4. no reconnect, no keepalive ------------------------------------------


def test_stock_pyst2_cannot_connect_twice_nor_notice_a_silent_server():
    with FakeAmiServer(captured()) as server:
        manager = log_in(stock.Manager(), server)
        server.answer_pings = False
        assert unanswered(manager.ping, 0.5)  # no timeout: waits forever
        server.drop()
        assert server.wait_for(lambda: not manager.connected(), 2)
        with pytest.raises(RuntimeError, match="threads can only be started once"):
            manager.connect("127.0.0.1", server.port)
        retire_stock(manager, server)


def test_manager_ping_times_out_and_a_lost_connection_shows_at_once():
    with FakeAmiServer(captured()) as server:
        manager = log_in(Manager(action_timeout=2), server)
        assert manager.ping(timeout=0.5).get_header("Ping") == "Pong"
        server.answer_pings = False
        started = time.monotonic()
        with pytest.raises(ManagerTimeout):
            manager.ping(timeout=0.3)
        assert time.monotonic() - started < 1
        server.drop()
        assert manager.wait_closed(2)
        assert not manager.connected()
        with pytest.raises(ManagerException, match="Not connected"):
            manager.ping()
        with pytest.raises(ManagerException, match="connects only once"):
            manager.connect("127.0.0.1", server.port)
        manager.close()


def test_manager_close_does_not_wait_for_a_dead_server():
    with FakeAmiServer(captured()) as server:
        manager = log_in(Manager(), server)
        server.answer_pings = False
        server.handle = lambda connection, action: None  # answers nothing at all now
        started = time.monotonic()
        manager.close(timeout=0.3)
        assert time.monotonic() - started < 2
        assert not manager.connected()


def test_pending_action_fails_when_the_connection_drops():
    with FakeAmiServer(captured()) as server:
        manager = log_in(Manager(), server)
        server.answer_pings = False
        threading.Timer(0.2, server.drop).start()
        with pytest.raises(ManagerSocketException):
            manager.ping(timeout=5)
        manager.close()


# -- 5. responses paired by arrival order -----------------------------------


def race(manager):
    """A slow action, then a quick one from another thread; their responses."""
    responses = {}

    def send(action_id, delay):
        action = {"Action": "Ping", "ActionID": action_id, "Delay": delay}
        responses[action_id] = manager.send_action(action).get_header("ActionID")

    slow = threading.Thread(target=send, args=("slow", "0.2"))
    slow.start()
    time.sleep(0.05)
    send("quick", "0")
    slow.join(5)
    return responses


def test_stock_pyst2_hands_responses_to_the_wrong_action():
    # Which waiting thread takes the next response is a race in pyst2; the
    # wrong pairing wins most rounds, so a few rounds always show it.
    with FakeAmiServer(captured()) as server:
        manager = log_in(stock.Manager(), server)
        rounds = [race(manager)]
        while rounds[-1] == {"slow": "slow", "quick": "quick"} and len(rounds) < 10:
            rounds.append(race(manager))
        retire_stock(manager, server)
    assert rounds[-1] == {"slow": "quick", "quick": "slow"}


def test_manager_pairs_responses_by_action_id():
    with FakeAmiServer(captured()) as server:
        manager = log_in(Manager(), server)
        rounds = [race(manager) for _ in range(3)]
        manager.close()
    assert rounds == [{"slow": "slow", "quick": "quick"}] * 3


def test_manager_refuses_header_injection():
    with FakeAmiServer(captured()) as server:
        manager = log_in(Manager(), server)
        with pytest.raises(ValueError, match="line break"):
            manager.send_action({"Action": "Ping", "X": "1\r\nAction: Logoff"})
        assert manager.ping().get_header("Response") == "Success"
        manager.close()
    assert [action.get("Action") for _, action in server.actions] == [
        "Login",
        "Ping",
        "Logoff",
    ]


def test_amievent_is_a_pyst2_event():
    (message,) = parse_bytes(b"Event: Hangup\r\nChannel: SIP/201-1\r\nCause: 16\r\n\r\n")
    event = AmiEvent(message)
    assert isinstance(event, stock.Event)
    assert (event.name, event.get_header("Cause"), event["Channel"]) == (
        "Hangup",
        "16",
        "SIP/201-1",
    )
    assert event.has_header("Cause") and not event.has_header("Uniqueid")
    assert repr(event) == "Hangup"
