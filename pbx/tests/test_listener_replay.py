"""The listener end to end: fake AMI server -> listener -> spool -> fake Odoo.

Everything runs on 127.0.0.1: the fake AMI server replays the shared real
captures, :class:`pbx.testing.fake_odoo.FakeOdoo` plays Odoo's webhook.
"""

import copy
import itertools
import json
import logging
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

from pbx.asterisk.ami import parse_bytes, parse_file
from pbx.asterisk.ami_manager import Manager
from pbx.asterisk.assembler import CallAssembler, assemble
from pbx.listener.cli import main
from pbx.listener.config import check_listen_config
from pbx.listener.service import EVENT_QUEUE_BATCHES, Listener, ListenerManager
from pbx.listener.spool import DELIVERED, PENDING, Spool
from pbx.testing.captures import REPO_ROOT, TRUNKS, capture, listen_config
from pbx.testing.fake_ami import FakeAmiServer, load_messages, split_messages

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(isSet|setDaemon)\(\) is deprecated:DeprecationWarning"
)

NAMES = [
    "originate_ctd-account-world.ami",
    "queue_queue_a_cancel.ami",
    "queue_queue_simple.ami",
    "simple_ab_a_cancel.ami",
    "simple_ab_callgroup.ami",
    "simple_ab_callgroup_no_answer.ami",
    "simple_ab_reject.ami",
    "simple_ab_success_a_hangup.ami",
    "simple_ab_success_twoclients.ami",
    "xfer_attended_xfer_abbcac.ami",
    "xfer_blind_xfer_blind_abbcac.ami",
    "xfer_misc_call_forwarding.ami",
]
CLOCK_START = 1_700_000_000
RECONNECT_LIMIT = 5.0  # seconds, from the issue


def counter():
    """The captures have no Timestamp: one second per event, as in test_assembler."""
    return itertools.count(CLOCK_START).__next__


def all_captures():
    return load_messages([capture(name) for name in NAMES])


def events_in(messages):
    return sum(1 for message in parse_bytes(b"".join(messages)) if message.event)


def expected_calls(messages):
    return assemble(parse_bytes(b"".join(messages)), TRUNKS, clock=counter())


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def config_for(tmp_path, ami_port, odoo, **ami):
    return listen_config(
        tmp_path,
        ami_port,
        odoo.url,
        ami=ami,
        odoo={"batch_size": 50, "backoff_min": 0.05, "backoff_max": 0.2},
    )


@contextmanager
def listening(config, **options):
    listener = Listener(check_listen_config(copy.deepcopy(config)), **options).start()
    try:
        yield listener
    finally:
        listener.stop()


def spooled(config):
    with Spool(config["spool"]) as spool:
        return spool.calls(), spool.counts()


@pytest.mark.parametrize("name", NAMES)
def test_replay_through_the_listener_gives_the_calls_of_assemble(name, tmp_path, odoo):
    messages = split_messages(capture(name).read_bytes())
    expected = assemble(parse_file(capture(name)), TRUNKS, clock=counter())
    with FakeAmiServer(messages) as server:
        config = config_for(tmp_path, server.port, odoo)
        with listening(config, clock=counter()) as listener:
            assert wait_until(lambda: listener.events == len(messages))
    calls, counts = spooled(config)
    assert calls == expected
    assert counts[DELIVERED] == len(expected)
    assert odoo.store == {call["external_id"]: call for call in expected}


def test_reconnects_within_5_s_after_drops_and_keeps_calls_whole(tmp_path, odoo):
    messages = all_captures()
    managers = []

    def new_manager():
        managers.append(Manager())
        return managers[-1]

    # Hang up three times, in the middle of calls.
    with FakeAmiServer(messages, drop_at=[150, 400, 620]) as server:
        config = config_for(tmp_path, server.port, odoo, ping_interval=2)
        with listening(config, clock=counter(), manager_factory=new_manager) as listener:
            assert wait_until(lambda: listener.events == events_in(messages), 20)
        hangups, logins = server.times("hangup"), server.times("login")
    assert len(logins) == 4
    for hangup, login in zip(hangups, logins[1:], strict=False):
        assert 0 < login - hangup < RECONNECT_LIMIT
    assert len({id(manager) for manager in managers}) == 4  # a new Manager each time
    calls, _ = spooled(config)
    assert calls == expected_calls(messages)


def test_reconnects_when_pings_go_unanswered(tmp_path, odoo):
    messages = split_messages(capture("queue_queue_simple.ami").read_bytes())
    with FakeAmiServer(messages) as server:
        config = config_for(tmp_path, server.port, odoo, ping_interval=0.2, ping_timeout=0.3)
        with listening(config) as listener:
            assert wait_until(lambda: listener.events == len(messages))
            assert wait_until(lambda: len(server.actions) >= 3)  # Login, Pings
            server.answer_pings = False
            # Waits on the new login itself; how soon it comes is the benchmark's business.
            assert wait_until(lambda: len(server.times("login")) == 2, RECONNECT_LIMIT * 12)
            server.answer_pings = True
            time.sleep(0.8)
            assert len(server.times("login")) == 2  # answered again: stays
            assert listener.connected.is_set()
    # The listener hung up the silent connection itself.
    assert [what for _, what, number in server.history if number == 1] == [
        "accept",
        "login",
        "closed",
    ]


def test_a_ping_answer_late_behind_busy_callbacks_is_no_dead_link(tmp_path, odoo, caplog):
    """Events read but not yet dispatched delay the Ping answer: not a reason to hang up."""
    messages = all_captures()

    def small_queue_manager():
        manager = Manager(read_size=4096)
        manager._event_queue = queue.Queue(2)
        return manager

    with FakeAmiServer(messages, chunk_size=4096) as server:
        # The answer waits behind ~1.6 s of slow callbacks, well past this timeout;
        # the margin keeps a loaded machine's scheduling pauses from looking dead.
        config = config_for(tmp_path, server.port, odoo, ping_interval=0.2, ping_timeout=0.6)
        with listening(config, manager_factory=small_queue_manager) as listener:
            feed = listener.assembler.feed

            def slow_feed(message, now=None):
                time.sleep(0.002)
                return feed(message, now)

            listener.assembler.feed = slow_feed
            with caplog.at_level(logging.INFO, "pbx.listener.service"):
                assert wait_until(lambda: listener.events == len(messages), 30)
    assert "Ping answer late" in caplog.text
    assert server.logins == 1


def test_callbacks_behind_leave_the_events_unparsed_in_the_socket(tmp_path, odoo):
    """A parsed event takes ten times its bytes: while the callbacks fall behind,
    the listener's Manager reads only a few batches ahead (pyst2's: 256 reads)."""
    messages = load_messages([capture(name) for name in NAMES], repeat=4)
    total = sum(map(len, messages))
    with FakeAmiServer(messages) as server:
        # No Ping while the callbacks are held: nothing to mistake for a dead link.
        config = config_for(tmp_path, server.port, odoo, ping_interval=5)
        listener = Listener(check_listen_config(copy.deepcopy(config)))
        feed, released = listener.assembler.feed, threading.Event()

        def held_feed(message, now=None):
            released.wait(10)
            return feed(message, now)

        listener.assembler.feed = held_feed  # before the first event
        listener.start()
        try:
            assert wait_until(lambda: listener.manager and listener.manager.bytes_read)
            manager = listener.manager
            time.sleep(0.5)  # the reader fills the queue, then waits
            ahead = manager.bytes_read
            released.set()
            assert wait_until(lambda: listener.events == events_in(messages), 30)
        finally:
            released.set()
            listener.stop()
    assert isinstance(manager, ListenerManager)
    assert manager._event_queue.maxsize == EVENT_QUEUE_BATCHES
    # The queued reads, the one being dispatched, the one waiting to be queued
    # and the Login response's.
    assert ahead <= (EVENT_QUEUE_BATCHES + 3) * manager.read_size < total


def test_supervisor_survives_an_unexpected_error(tmp_path, odoo, caplog):
    messages = split_messages(capture("simple_ab_callgroup.ami").read_bytes())
    made = []

    def flaky_manager():
        made.append(None)
        if len(made) == 1:
            raise RuntimeError("unexpected")
        return Manager()

    with FakeAmiServer(messages) as server:
        config = config_for(tmp_path, server.port, odoo, reconnect_max=0.2)
        with (
            caplog.at_level(logging.ERROR, "pbx.listener.service"),
            listening(config, manager_factory=flaky_manager) as listener,
        ):
            assert wait_until(lambda: listener.events == len(messages))
    assert "AMI supervision failed" in caplog.text
    assert len(made) == 2


def test_reconnects_after_asterisk_restarts(tmp_path, odoo, caplog):
    first = FakeAmiServer(split_messages(capture("simple_ab_reject.ami").read_bytes()))
    messages = split_messages(capture("simple_ab_a_cancel.ami").read_bytes())
    port = first.port
    first.start()
    config = config_for(tmp_path, port, odoo)
    # Every wait below is on a condition, with bounds far above any load: only
    # a listener that never gets there fails, never a slow one.
    with caplog.at_level(logging.WARNING, "pbx.listener.service"), listening(config) as listener:
        # The whole first stream must be read before Asterisk goes away: the
        # login alone says nothing of the events still on their way, and a
        # stop then would cut them off (the busy call would never be seen).
        assert wait_until(lambda: listener.events == len(first.messages), 60)
        first.stop()  # Asterisk goes away: connection refused for a while
        assert wait_until(lambda: not listener.connected.is_set(), 60)
        # At least one attempt refused, instead of sleeping and hoping one was.
        assert wait_until(lambda: "Cannot connect to AMI" in caplog.text, 60)
        with FakeAmiServer(messages, port=port) as second:
            # Waits on the login itself: how fast it comes back depends on the machine's
            # load, and a bound on it here made the suite flicker (a speed is a benchmark).
            assert wait_until(lambda: second.logins >= 1, RECONNECT_LIMIT * 12)
            total = len(first.messages) + len(messages)
            assert wait_until(lambda: listener.events == total, 60)
    calls, _ = spooled(config)
    assert [call["status"] for call in calls] == ["busy", "missed"]


def test_calls_wait_in_the_spool_while_odoo_is_down(tmp_path, odoo):
    messages = all_captures()
    expected = expected_calls(messages)
    # The calls finished while streaming (the others are closed at stop).
    assembler, clock = CallAssembler(TRUNKS), counter()
    finished = [
        call for m in parse_bytes(b"".join(messages)) for call in assembler.feed(m, clock())
    ]
    assert 0 < len(finished) <= len(expected)
    odoo.down()
    with FakeAmiServer(messages) as server:
        config = config_for(tmp_path, server.port, odoo)
        with listening(config, clock=counter()) as listener:
            assert wait_until(lambda: listener.events == len(messages))
            assert wait_until(lambda: listener.spool.counts()[PENDING] == len(finished))
            assert wait_until(lambda: listener.deliverer.failures >= 1)
            assert not odoo.store
            odoo.up()
            assert wait_until(lambda: listener.spool.counts()[DELIVERED] == len(finished))
    calls, counts = spooled(config)
    assert calls == expected
    assert counts[DELIVERED] == len(expected)
    assert odoo.store == {call["external_id"]: call for call in expected}
    assert set(odoo.received.values()) == {1}


def test_stop_makes_a_last_delivery_attempt_despite_the_backoff(tmp_path, odoo):
    messages = split_messages(capture("xfer_blind_xfer_blind_abbcac.ami").read_bytes())
    odoo.down()
    with FakeAmiServer(messages) as server:
        config = config_for(tmp_path, server.port, odoo)
        config["odoo"].update(backoff_min=30, backoff_max=60)
        with listening(config) as listener:
            assert wait_until(lambda: listener.deliverer.failures == 1)
            odoo.up()  # back, but the next try is half a minute away
    calls, counts = spooled(config)
    assert counts[DELIVERED] == len(calls) == len(odoo.store) > 0


def spool_rows(path):
    """external_id -> call of a spool another process is writing."""
    if not path.exists():
        return {}
    db = sqlite3.connect(path, timeout=10)
    try:
        rows = db.execute("SELECT external_id, payload FROM spooled_call").fetchall()
    except sqlite3.OperationalError:  # not created yet
        rows = []
    finally:
        db.close()
    return {external_id: json.loads(payload) for external_id, payload in rows}


def listen_process(config_path, log_path):
    return subprocess.Popen(
        [sys.executable, "-m", "pbx", "listen", "--config", str(config_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
    )


def test_kill_9_loses_no_spooled_call_and_sigterm_stops_cleanly(tmp_path, odoo):
    messages = all_captures()
    spool_path = tmp_path / "spool.sqlite"
    odoo.down()  # nothing leaves the spool before the kill
    with FakeAmiServer(messages, delay=0.003) as server:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config_for(tmp_path, server.port, odoo)))
        first = listen_process(config_path, tmp_path / "first.log")
        try:
            assert wait_until(lambda: len(spool_rows(spool_path)) >= 3, 20)
        finally:
            first.kill()  # SIGKILL, mid-stream
            first.wait(10)
        assert server.sent < len(messages), "the kill should land mid-stream"
        before_kill = spool_rows(spool_path)
        assert len(before_kill) >= 3

        odoo.up()
        second = listen_process(config_path, tmp_path / "second.log")
        try:
            assert wait_until(lambda: set(before_kill) <= set(odoo.store), 20)
            assert wait_until(lambda: server.sent == len(messages), 20)
            time.sleep(0.5)
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
        finally:
            if second.poll() is None:
                second.kill()
        log = (tmp_path / "second.log").read_text()
        last = server.connections
        assert [action.get("Action") for number, action in server.actions if number == last][
            -1
        ] == "Logoff", log
    for external_id, call in before_kill.items():
        assert odoo.store[external_id] == call
        assert odoo.received[external_id] == 1
    with Spool(spool_path) as spool:
        counts = spool.counts()
        assert counts[PENDING] == 0
        assert counts[DELIVERED] == len(spool.rows()) == len(odoo.store)
    assert "Listener stopped" in log
    assert "Traceback" not in log + (tmp_path / "first.log").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ami": None}, '"ami" must be an object'),
        ({"ami": {"host": "pbx", "username": "u", "secret": "s", "port": "x"}}, '"ami.port"'),
        ({"odoo": {"url": "ftp://odoo", "pbx_id": 1, "token": "t"}}, '"odoo.url"'),
        ({"odoo": {"url": "http://odoo", "pbx_id": 1}}, '"odoo.token"'),
        ({"odoo": {"url": "http://odoo", "pbx_id": "1/../x", "token": "t"}}, '"odoo.pbx_id"'),
        ({"spool": ""}, '"spool"'),
    ],
)
def test_listen_refuses_a_bad_config(tmp_path, capsys, change, message):
    config = {
        "trunks": TRUNKS,
        "country": "NL",
        "ami": {"host": "pbx", "username": "u", "secret": "s"},
        "odoo": {"url": "http://odoo:8069", "pbx_id": 1, "token": "t"},
        "spool": str(tmp_path / "spool.sqlite"),
        **change,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(SystemExit) as exit_:
        main(["listen", "--config", str(path)])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_listen_config_defaults():
    config = check_listen_config(
        {
            "trunks": TRUNKS,
            "stale_seconds": 3600,
            "ami": {"host": "pbx", "username": "u", "secret": "s"},
            "odoo": {"url": "https://odoo.example.com", "pbx_id": 1, "token": "t"},
        }
    )
    assert config["ami"]["port"] == 5038
    assert config["ami"]["ping_interval"] == 2.0
    assert config["ami"]["ping_timeout"] == 2.0
    assert (config["odoo"]["batch_size"], config["odoo"]["timeout"]) == (200, 10.0)
    assert config["spool"] == "/var/lib/phone_call_accounting/spool.sqlite"
