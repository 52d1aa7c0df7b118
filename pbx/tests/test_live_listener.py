"""The listener's live events: AMI queue, member and call events, QueueStatus
snapshots, and their batched posting (``odoo.live``)."""

import threading
import time
from pathlib import Path

import pytest

from pbx.asterisk.ami import parse_file
from pbx.listener.config import ConfigError, check_listen_config
from pbx.listener.live import LiveSender, LiveTracker, live_events, member_status
from pbx.listener.service import Listener
from pbx.live import check_events
from pbx.testing.ami_trace import Trace
from pbx.testing.captures import listen_config
from pbx.testing.fake_ami import FakeAmiServer

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(isSet|setDaemon)\(\) is deprecated:DeprecationWarning"
)
TRACES = Path(__file__).parent / "traces"
TRUNKS = ["^PJSIP/provider-"]


def without_at(events):
    return [{k: v for k, v in event.items() if k != "at"} for event in events]


def replayed(name):
    events = live_events(parse_file(TRACES / f"{name}.ami"), TRUNKS)
    check_events({"events": events})  # what the listener posts, Odoo's route accepts
    return without_at(events)


def test_answered_after_a_wait():
    events = replayed("queue_answered_after_a_wait")
    call = {"call_id": "1767258000.1", "from_number": "0612345678", "to_number": "0201234567"}
    member = {"queue": "support", "member": "PJSIP/201", "extension": "201", "name": "Agent 201"}
    assert events == [
        {"type": "caller_join", "queue": "support", "call_id": "1767258000.1",
         "number": "0612345678", "name": "", "position": 2},
        {"type": "member", **member, "status": "available"},
        {"type": "call", **call, "state": "ringing", "extension": "201"},
        {"type": "member", **member, "status": "ringing"},
        {"type": "call", **call, "state": "talking", "extension": "201"},
        {"type": "caller_leave", "queue": "support", "call_id": "1767258000.1",
         "result": "answered"},
        {"type": "member", **member, "status": "on_call"},
        {"type": "member", **member, "status": "on_call"},
        {"type": "member", **member, "status": "available"},
        {"type": "call", **call, "state": "ended", "extension": "201"},
    ]  # fmt: skip


def test_ring_no_answer_then_another_agent():
    events = replayed("queue_ring_no_answer_then_another_agent_answers")
    calls = [(e["extension"], e["state"]) for e in events if e["type"] == "call"]
    assert calls == [
        ("201", "ringing"), ("201", "ended"), ("202", "ringing"), ("202", "talking"),
        ("202", "ended"),
    ]  # fmt: skip
    [leave] = [e for e in events if e["type"] == "caller_leave"]
    assert leave["result"] == "answered"


def test_abandoned_and_timeout_leave_the_queue():
    for name in ("queue_abandoned_within_seconds", "queue_timeout_to_voicemail"):
        events = replayed(name)
        [leave] = [e for e in events if e["type"] == "caller_leave"]
        assert leave["result"] == "abandoned", name
        rung = [e for e in events if e["type"] == "call"]
        assert [e["state"] for e in rung] == ["ringing", "ended"], name


def test_ringall_over_local_channels_rings_both_agents_with_the_caller():
    events = replayed("queue_ringall_local_agents_with_optimisation")
    rung = [(e["extension"], e["state"], e["from_number"]) for e in events if e["type"] == "call"]
    assert rung == [
        ("201", "ringing", "0612345678"), ("202", "ringing", "0612345678"),
        ("202", "talking", "0612345678"), ("201", "ended", "0612345678"),
        ("202", "ended", "0612345678"),
    ]  # fmt: skip


def test_call_through_two_queues():
    events = replayed("queue_call_through_two_queues")
    visits = [(e["type"], e["queue"]) for e in events if e["type"].startswith("caller")]
    assert visits == [
        ("caller_join", "sales"), ("caller_leave", "sales"),
        ("caller_join", "support"), ("caller_leave", "support"),
    ]  # fmt: skip


def test_outgoing_call_from_a_desk_phone():
    trace = Trace()
    trace.channel("phone", "PJSIP/201-00000001", cid="201", exten="0612345678")
    trace.channel("trunk", "PJSIP/provider-00000002", cid="0201234567", linkedid="phone")
    trace.at(1).dial("phone", "trunk", "PJSIP/0612345678@provider")
    trace.at(6).dial_end("phone", "trunk", "ANSWER")
    trace.at(6).bridge("b1", "phone", "trunk")
    trace.at(60).hangup("phone")
    events = without_at(live_events(trace.messages(), TRUNKS))
    assert [(e["state"], e["extension"], e["to_number"]) for e in events] == [
        ("ringing", "201", "0612345678"),
        ("talking", "201", "0612345678"),
        ("ended", "201", "0612345678"),
    ]
    assert events[0]["from_number"] == "201"


def test_member_status_from_device_states():
    assert member_status({"Paused": "1", "Status": "1"}) == "paused"
    assert member_status({"Status": "1"}) == "available"
    assert member_status({"Status": "0"}) == "available"
    for status in ("2", "3", "7", "8"):
        assert member_status({"Status": status}) == "on_call"
    assert member_status({"Status": "6"}) == "ringing"
    assert member_status({"Status": "5"}) == "unavailable"
    assert member_status({"Status": "1", "InCall": "1"}) == "on_call"


def test_members_added_paused_removed_and_agent_events():
    trace = Trace()
    member = {"Queue": "support", "MemberName": "Rita", "Interface": "Local/201@agents/n"}
    member["StateInterface"] = "PJSIP/201"
    trace.event("QueueMemberAdded", **member, Status="1", Paused="0")
    trace.event("QueueMemberPause", **member, Status="1", Paused="1", PausedReason="lunch")
    trace.event("QueueMemberPause", **member, Status="1", Paused="0")
    trace.event("AgentConnect", Queue="support", MemberName="Rita", Interface="Local/201@agents/n")
    trace.event("AgentComplete", Queue="support", MemberName="Rita", Interface="x")
    trace.event("QueueMemberRemoved", **member)
    events = without_at(live_events(trace.messages(), TRUNKS))
    assert [(e["type"], e.get("status")) for e in events] == [
        ("member", "available"), ("member", "paused"), ("member", "available"),
        ("member", "on_call"), ("member", "available"), ("member_removed", None),
    ]  # fmt: skip
    assert {e["member"] for e in events} == {"Local/201@agents/n"}
    assert events[0]["extension"] == "201" and events[0]["name"] == "Rita"


def status_answer(action_id, clock):
    trace = Trace(timestamps=False)
    ids = {"ActionID": action_id}
    trace.event("QueueParams", Queue="support", Calls="1", **ids)
    trace.event(
        "QueueMember",
        Queue="support",
        Name="Rita",
        Location="PJSIP/201",
        StateInterface="PJSIP/201",
        Status="2",
        Paused="0",
        InCall="1",
        **ids,
    )
    trace.event(
        "QueueMember",
        Queue="support",
        MemberName="Bo",
        Interface="PJSIP/202",
        Status="1",
        Paused="1",
        **ids,
    )
    trace.event(
        "QueueEntry",
        Queue="support",
        Position="1",
        Channel="PJSIP/provider-01",
        Uniqueid="99.1",
        CallerIDNum="0612345678",
        CallerIDName="Bakkerij",
        Wait="42",
        **ids,
    )
    trace.event("QueueParams", Queue="sales", Calls="0", **ids)
    trace.event("QueueStatusComplete", EventList="Complete", ListItems="5", **ids)
    return trace.messages()  # fmt: skip


def test_queue_status_answer_is_one_snapshot():
    clock = lambda: 1767258000.0
    tracker = LiveTracker(TRUNKS, clock=clock)
    # Another client's QueueStatus: not ours, nothing happens.
    assert [e for m in status_answer("someone-else", clock) for e in tracker.feed(m)] == []
    tracker.expect_status("pbx-live-1")
    [snapshot] = [e for m in status_answer("pbx-live-1", clock) for e in tracker.feed(m)]
    check_events({"events": [snapshot]})
    assert snapshot["type"] == "snapshot"
    assert snapshot["at"] == "2026-01-01T09:00:00.000+00:00"
    support, sales = snapshot["queues"]
    assert (sales["queue"], sales["callers"], sales["members"]) == ("sales", [], [])
    assert support["callers"] == [
        {"call_id": "99.1", "number": "0612345678", "name": "Bakkerij", "position": 1,
         "at": "2026-01-01T08:59:18.000+00:00"}
    ]  # fmt: skip
    assert support["members"] == [
        {"member": "PJSIP/201", "extension": "201", "name": "Rita", "status": "on_call"},
        {"member": "PJSIP/202", "extension": "202", "name": "Bo", "status": "paused"},
    ]
    # The snapshot is what is known now: a QueueSummary that agrees asks for nothing.
    tracker.expect_summary("pbx-live-2")
    summary = Trace(timestamps=False)
    summary.event("QueueSummary", ActionID="pbx-live-2", Queue="support", LoggedIn="2", Callers="1")
    summary.event("QueueSummary", ActionID="pbx-live-2", Queue="sales", LoggedIn="0",
                  Callers="0")  # fmt: skip
    for message in summary.messages():
        tracker.feed(message)
    assert not tracker.resync_wanted
    tracker.expect_summary("pbx-live-3")
    late = Trace(timestamps=False)
    late.event("QueueSummary", ActionID="pbx-live-3", Queue="support", LoggedIn="2", Callers="3")
    for message in late.messages():
        tracker.feed(message)
    assert tracker.resync_wanted


def test_sender_batches_at_most_every_interval_and_drops_when_full():
    posts = []
    gate = threading.Event()

    def post(url, pbx_id, token, events, timeout):
        posts.append((time.monotonic(), list(events)))
        gate.wait(5)
        return 200

    sender = LiveSender("http://odoo", 3, "t", interval=0.2, queue_size=50, post=post)
    try:
        sender.send({"n": 0})  # the first one goes at once
        deadline = time.monotonic() + 5
        while not posts and time.monotonic() < deadline:
            time.sleep(0.005)
        for n in range(1, 80):  # while the first post hangs: 50 wait, the rest are dropped
            sender.send({"n": n})
        assert sender.dropped == 29 and sender.lost
        gate.set()
        while sender.sent < 51 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [len(events) for _, events in posts] == [1, 50]
        assert posts[1][0] - posts[0][0] >= 0.2
        assert [event["n"] for _, events in posts for event in events] == list(range(51))
    finally:
        gate.set()
        sender.stop()


def test_sender_counts_a_refused_batch_as_lost():
    sender = LiveSender("http://odoo", 3, "t", interval=0.01, post=lambda *args: 503)
    try:
        sender.send({"n": 1})
        deadline = time.monotonic() + 5
        while not sender.dropped and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (sender.dropped, sender.lost) == (1, True)
        sender.clear_lost()
        assert not sender.lost
    finally:
        sender.stop()


def test_live_options_are_checked(tmp_path):
    config = listen_config(tmp_path, 5038, "http://odoo", odoo={"live": "yes"})
    with pytest.raises(ConfigError, match=r"odoo\.live"):
        check_listen_config(config)
    config = listen_config(tmp_path, 5038, "http://odoo", odoo={"live_interval": 0})
    with pytest.raises(ConfigError, match=r"odoo\.live_interval"):
        check_listen_config(config)
    config = check_listen_config(listen_config(tmp_path, 5038, "http://odoo"))
    assert config["odoo"]["live"] is False
    assert Listener(config).live is None


QUEUES = {
    "support": {
        "members": [
            {"MemberName": "Rita", "Interface": "PJSIP/201", "StateInterface": "PJSIP/201",
             "Status": "1", "Paused": "0"},
        ],
        "callers": [
            {"Channel": "PJSIP/provider-00000009", "Uniqueid": "1767257990.9",
             "CallerIDNum": "0612345678", "CallerIDName": "Bakkerij", "Wait": "10"},
        ],
    }
}  # fmt: skip


def test_listener_posts_a_snapshot_on_connect_then_live_events(tmp_path, odoo):
    server = FakeAmiServer(queues=QUEUES).start()
    config = check_listen_config(
        listen_config(
            tmp_path,
            server.port,
            odoo.url,
            odoo={"live": True, "live_interval": 0.05, "live_summary_interval": 0.2},
        )
    )
    config["trunks"] = TRUNKS
    listener = Listener(config).start()
    try:
        assert listener.wait_connected()
        deadline = time.monotonic() + 10
        while not odoo.live_events() and time.monotonic() < deadline:
            time.sleep(0.02)
        [snapshot] = odoo.live_events()
        assert snapshot["type"] == "snapshot"
        [support] = snapshot["queues"]
        assert [c["number"] for c in support["callers"]] == ["0612345678"]
        assert [m["status"] for m in support["members"]] == ["available"]
        # A caller joins; an agent answers.
        trace = Trace()
        trace.channel("caller", "PJSIP/provider-00000010", cid="0687654321", exten="0201234567")
        trace.at(1).event("QueueCallerJoin", "caller", Queue="support", Position="2", Count="2")
        server.push([message.encode() for message in _wire(trace)])
        while len(odoo.live_events()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        join = odoo.live_events()[1]
        assert (join["type"], join["number"], join["position"]) == ("caller_join", "0687654321", 2)
        # The PBX's QueueSummary now disagrees (it still says one caller): a new
        # snapshot is asked for, soon.
        actions = [a.get("Action") for _, a in server.actions]
        assert "QueueSummary" in actions or "QueueStatus" in actions[1:]
    finally:
        listener.stop(delivery_seconds=1)
        server.stop()
    actions = [a.get("Action") for _, a in server.actions]
    assert actions[:2] == ["Login", "QueueStatus"]


def _wire(trace):
    data = trace.wire().decode()
    return [part + "\r\n\r\n" for part in data.split("\r\n\r\n") if part.strip()]


class NoQueuesAmi(FakeAmiServer):
    """An Asterisk without app_queue: QueueStatus and QueueSummary are unknown actions."""

    def handle(self, connection, action):
        if (action.get("Action") or "").lower() in ("queuestatus", "queuesummary"):
            with self._changed:
                self.actions.append((connection.number, action))
            reply = (
                f"Response: Error\r\nActionID: {action.get('ActionID')}\r\n"
                "Message: Invalid/unknown command\r\n\r\n"
            )
            connection.send(reply.encode())
            return
        super().handle(connection, action)


def test_a_pbx_without_queues_is_asked_once_per_connection(tmp_path, odoo):
    server = NoQueuesAmi().start()
    options = {"live": True, "live_status_interval": 0.2, "live_summary_interval": 0.1}
    config = check_listen_config(listen_config(tmp_path, server.port, odoo.url, odoo=options))
    listener = Listener(config).start()
    try:
        assert listener.wait_connected()
        time.sleep(1.5)
    finally:
        listener.stop(delivery_seconds=1)
        server.stop()
    asked = [a.get("Action") for _, a in server.actions if a.get("Action") != "Ping"]
    assert asked[:2] == ["Login", "QueueStatus"]
    assert asked.count("QueueStatus") == 1 and asked.count("QueueSummary") <= 1
    assert not odoo.live_events()
