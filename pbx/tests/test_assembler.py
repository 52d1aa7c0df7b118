import itertools

import pytest

from pbx.asterisk import assembler as assembler_module
from pbx.asterisk.ami import Parser, parse_bytes, parse_file
from pbx.asterisk.assembler import CallAssembler, assemble
from pbx.testing.ami_trace import START, Trace
from pbx.testing.captures import TRUNKS, capture

# The captures have no Timestamp headers, so times come from the moment of
# reading: a synthetic clock advancing one second per message makes ring and
# talk seconds count messages, which pins down where they start and stop.
CLOCK_START = 1_700_000_000  # 2023-11-14T22:13:20Z


def replay(name):
    clock = itertools.count(CLOCK_START).__next__
    return assemble(parse_file(capture(name)), TRUNKS, clock=clock)


def internal(**fields):
    call = {"direction": "internal", "from_number": "201", "forwarded": False, "transferred": False}
    call.update(fields)
    return call


# What a PBX administrator expects from each capture. Extensions are the
# endpoint names (SIP/150010002-... -> 150010002), see channels.extension_of.
EXPECTED = {
    "simple_ab_success_a_hangup.ami": [
        internal(
            external_id="195176c06ab8-1529936170.42",
            status="answered",
            to_number="202",
            extension="150010002",
            first_extension="150010002",
            hangup_cause="16",
            start="2023-11-14T22:13:22+00:00",
            ring_seconds=4,
            talk_seconds=10,
        ),
    ],
    "simple_ab_a_cancel.ami": [
        # 201 gave up while 202 rang: the call is still 202's to call back.
        internal(
            status="missed",
            to_number="202",
            extension="150010002",
            first_extension="150010002",
            hangup_cause="0",
            ring_seconds=4,
            talk_seconds=0,
        ),
    ],
    "simple_ab_reject.ami": [
        internal(
            status="busy",
            to_number="202",
            extension="150010002",
            first_extension="150010002",
            hangup_cause="17",
            ring_seconds=3,
            talk_seconds=0,
        ),
    ],
    "simple_ab_callgroup.ami": [
        # Both members rang at once; the one that answered is not a forward.
        internal(
            status="answered",
            to_number="401",
            extension="150010002",
            first_extension="150010002",
            ring_seconds=7,
            talk_seconds=8,
        ),
    ],
    "simple_ab_callgroup_no_answer.ami": [
        # One member busy, the other rejected, the group reported NOANSWER:
        # nobody was reached, which is a missed call, not a busy line.
        internal(
            status="missed",
            to_number="401",
            extension="150010003",
            first_extension="150010003",
            hangup_cause="19",
            ring_seconds=11,
            talk_seconds=0,
        ),
    ],
    "simple_ab_success_twoclients.ami": [
        {
            "external_id": "195176c06ab8-1529936734.287",
            "direction": "outgoing",
            "status": "answered",
            "from_number": "+31260010001",
            "to_number": "+31150010001",
            "extension": "260010001",
            "first_extension": "260010001",
            "forwarded": False,
            "transferred": False,
            "ring_seconds": 36,
            "talk_seconds": 21,
        },
        {
            "external_id": "195176c06ab8-1529936734.297",
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31260010001",
            "to_number": "+31150010001",
            "extension": "150010001",
            "first_extension": "150010001",
            "forwarded": False,
            "transferred": False,
            "ring_seconds": 4,
            "talk_seconds": 29,
        },
    ],
    "queue_queue_simple.ami": [
        {
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31150010001",
            "to_number": "+31150010004",
            "extension": "150010002",
            "first_extension": "150010002",
            "forwarded": False,
            "transferred": False,
            "ring_seconds": 15,
            "talk_seconds": 10,
        },
    ],
    "queue_queue_a_cancel.ami": [
        # The queue answered the caller's channel; no person ever did.
        {
            "direction": "incoming",
            "status": "missed",
            "from_number": "+31150010001",
            "to_number": "+31150010004",
            "extension": "150010002",
            "first_extension": "150010002",
            "forwarded": False,
            "transferred": False,
            "ring_seconds": 7,
            "talk_seconds": 0,
            "hangup_cause": "0",
            # QueueCallerAbandon (the capture has no Join or Leave): HoldTime
            # and OriginalPosition; no QUEUESTATUS, the caller hung up.
            "queue": "670100-540100",
            "queue_wait_seconds": 11,
            "queue_result": "abandoned",
            "queue_position": 1,
        },
    ],
    "xfer_misc_call_forwarding.ami": [
        {
            "external_id": "b6093874285e-1530191379.305",
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31260010001",
            "to_number": "+31150010001",
            "extension": "150010002",
            "first_extension": "150010001",
            "forwarded": True,
            "transferred": False,
            "ring_seconds": 34,
            "talk_seconds": 31,
        },
    ],
    "xfer_blind_xfer_blind_abbcac.ami": [
        # 202 took the call and handed it to 203: one call, answered by 202.
        internal(
            external_id="07b796be1962-1529998959.65",
            status="answered",
            to_number="202",
            extension="150010002",
            first_extension="150010002",
            transferred=True,
            ring_seconds=4,
            talk_seconds=22,
        ),
    ],
    "xfer_attended_xfer_abbcac.ami": [
        # The consultation call 202 -> 203 is welded into the original call.
        internal(
            external_id="195176c06ab8-1529941338.663",
            status="answered",
            to_number="202",
            extension="150010002",
            first_extension="150010002",
            transferred=True,
            ring_seconds=4,
            talk_seconds=57,
        ),
    ],
    "originate_ctd-account-world.ami": [
        # Click-to-dial: phone 201 (account 150010001) rings first, then the
        # outside number is dialled; ringing counts from the outside dial.
        {
            "external_id": "c4061ca6474c-1531990515.302",
            "direction": "outgoing",
            "status": "answered",
            "from_number": "201",
            "to_number": "+31260010001",
            "extension": "150010001",
            "first_extension": "150010001",
            "forwarded": False,
            "transferred": False,
            "ring_seconds": 7,
            "talk_seconds": 37,
            "hangup_cause": "16",
        },
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture(name):
    calls = replay(name)
    assert len(calls) == len(EXPECTED[name])
    for call, expected in zip(calls, EXPECTED[name], strict=True):
        for key, value in expected.items():
            assert call[key] == value, f"{name}: {key}"
        assert call["recording"] is None
        assert call["start"] <= call["end"]
        # Queue keys only for a call that queued (queue_simple has no queue event).
        assert ("queue" in call) == ("queue" in expected), name


def test_capture_replay_does_not_depend_on_chunking():
    # Same events through the incremental parser in tiny chunks.
    parser = Parser()
    data = capture("xfer_attended_xfer_abbcac.ami").read_bytes()
    messages = []
    for i in range(0, len(data), 97):
        messages += parser.feed(data[i : i + 97])
    clock = itertools.count(CLOCK_START).__next__
    assert assemble(messages + parser.flush(), TRUNKS, clock=clock) == replay(
        "xfer_attended_xfer_abbcac.ami"
    )


def test_calls_are_emitted_when_the_last_channel_hangs_up():
    assembler = CallAssembler(TRUNKS)
    messages = parse_file(capture("simple_ab_success_a_hangup.ami"))
    emitted = [assembler.feed(message, CLOCK_START + i) for i, message in enumerate(messages)]
    assert [i for i, calls in enumerate(emitted) if calls] == [len(messages) - 1]
    assert assembler.open_calls == 0
    assert assembler.flush() == []


# -- synthetic traces -------------------------------------------------------

PJSIP_TRUNKS = [r"^PJSIP/provider-"]


def incoming_answered():
    """A PJSIP provider call to DID 0201234567, answered by 201 after 8 s."""
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="+31612345678", exten="0201234567", state="Ring"
    )
    trace.at(1).channel("ph", "PJSIP/201-00000002", cid="0201234567", exten="s", linkedid="in")
    trace.dial("in", "ph", "201")
    trace.at(2).state("ph", "Ringing")
    trace.at(9).state("ph", "Up").dial_end("in", "ph", "ANSWER")
    trace.event("BridgeCreate", BridgeUniqueid="b1", BridgeType="basic")
    trace.bridge("b1", "ph", "in")
    trace.event(
        "VarSet",
        "in",
        Variable="MIXMONITOR_FILENAME",
        Value="/var/spool/asterisk/monitor/2026/01/01/in-0201234567.wav",
    )
    trace.at(134).unbridge("b1", "ph").hangup("ph")
    trace.unbridge("b1", "in").hangup("in")
    return trace


def test_timestamps_give_exact_ring_and_talk_seconds():
    (call,) = assemble(incoming_answered().messages(), PJSIP_TRUNKS)
    assert call == {
        "external_id": f"{START:.0f}.1",
        "direction": "incoming",
        "status": "answered",
        "from_number": "+31612345678",
        "to_number": "0201234567",
        "extension": "201",
        "first_extension": "201",
        "forwarded": False,
        "transferred": False,
        "start": "2026-01-01T09:00:00+00:00",
        "end": "2026-01-01T09:02:14+00:00",
        "ring_seconds": 8,
        "talk_seconds": 125,
        "recording": "/var/spool/asterisk/monitor/2026/01/01/in-0201234567.wav",
        "hangup_cause": "16",
    }


def test_timestamp_header_wins_over_reading_time():
    calls = assemble(incoming_answered().messages(), PJSIP_TRUNKS, clock=lambda: 5.0)
    assert (calls[0]["ring_seconds"], calls[0]["talk_seconds"]) == (8, 125)


def test_reading_time_is_used_without_timestamps():
    trace = Trace(timestamps=False)
    trace.channel("in", "PJSIP/provider-00000001", cid="+31612345678", exten="0201234567")
    trace.channel("ph", "PJSIP/201-00000002", linkedid="in").dial("in", "ph", "201")
    trace.dial_end("in", "ph", "ANSWER").bridge("b1", "ph", "in")
    trace.unbridge("b1", "ph").hangup("ph").unbridge("b1", "in").hangup("in")
    moments = iter([100, 100, 103, 110, 111, 111, 141, 141, 142, 142])
    assembler = CallAssembler(PJSIP_TRUNKS)
    calls = [c for m in trace.messages() for c in assembler.feed(m, next(moments))]
    assert (calls[0]["ring_seconds"], calls[0]["talk_seconds"]) == (7, 30)
    assert calls[0]["start"] == "1970-01-01T00:01:40+00:00"


def test_outgoing_pjsip_with_chan_variable_recording():
    trace = Trace()
    trace.channel("ph", "PJSIP/201-0000000a", cid="201", exten="0612345678", state="Ring")
    trace.at(1).channel("out", "PJSIP/provider-0000000b", cid="0612345678", linkedid="ph")
    trace.dial("ph", "out", "0612345678@provider")
    trace.at(6).dial_end("ph", "out", "ANSWER").bridge("b7", "out", "ph")
    trace.at(66).event(
        "Hangup",
        "ph",
        Cause=16,
        ChanVariable="MIXMONITOR_FILENAME=/rec/out-201.wav",
    )
    trace.event("BridgeLeave", "out", BridgeUniqueid="b7").hangup("out")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert call["direction"] == "outgoing"
    assert call["status"] == "answered"
    assert (call["from_number"], call["to_number"]) == ("201", "0612345678")
    assert (call["extension"], call["first_extension"]) == ("201", "201")
    assert (call["ring_seconds"], call["talk_seconds"]) == (5, 60)
    assert call["recording"] == "/rec/out-201.wav"


def test_repeated_chan_variable_headers():
    wire = (
        "Event: Newchannel\r\nTimestamp: 10\r\nChannel: PJSIP/201-00000001\r\nUniqueid: u1\r\n"
        "Linkedid: u1\r\nCallerIDNum: 201\r\nExten: 202\r\n"
        "ChanVariable: ACCOUNT=7\r\nChanVariable: MIXMONITOR_FILENAME=/rec/a.wav\r\n\r\n"
        "Event: Hangup\r\nTimestamp: 11\r\nChannel: PJSIP/201-00000001\r\nUniqueid: u1\r\n"
        "Linkedid: u1\r\nCause: 16\r\n\r\n"
    )
    (call,) = assemble(parse_bytes(wire.encode()), PJSIP_TRUNKS)
    assert call["recording"] == "/rec/a.wav"
    assert call["direction"] == "internal"
    assert call["status"] == "missed"


def queue_trace():
    """Incoming call answered by a queue; the caller leaves while 201 rings."""
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="0612345678", exten="0201234500", state="Ring"
    )
    trace.at(1).state("in", "Up")
    trace.event("QueueCallerJoin", "in", Queue="support", Position=1, Count=1)
    trace.at(20).channel("l1", "Local/201@from-queue-00000001;1", linkedid="in")
    trace.channel("l2", "Local/201@from-queue-00000001;2", linkedid="in")
    trace.dial("in", "l1", "Local/201@from-queue")
    trace.channel("ph", "PJSIP/201-00000002", cid="0201234500", linkedid="in")
    trace.dial("l2", "ph", "201")
    trace.at(21).state("ph", "Ringing")
    trace.at(32).event("QueueCallerAbandon", "in", Queue="support", Position=1, HoldTime=31)
    trace.dial_end("in", "l1", "CANCEL").dial_end("l2", "ph", "CANCEL")
    trace.hangup("ph").hangup("l2", 0).hangup("l1", 0).hangup("in", 0)
    return trace


def test_queue_answered_the_caller_but_nobody_took_the_call():
    (call,) = assemble(queue_trace().messages(), PJSIP_TRUNKS)
    assert call["direction"] == "incoming"
    assert call["status"] == "missed"
    assert (call["extension"], call["first_extension"]) == ("201", "201")
    assert (call["ring_seconds"], call["talk_seconds"]) == (12, 0)
    assert call["to_number"] == "0201234500"


def test_chanunavail_is_failed():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="202", state="Ring")
    trace.channel("b", "PJSIP/202-00000002", cid="202", linkedid="a").dial("a", "b", "202")
    trace.dial_end("a", "b", "CHANUNAVAIL").hangup("b", 20).at(3).hangup("a", 20)
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert (call["direction"], call["status"]) == ("internal", "failed")
    assert (call["from_number"], call["to_number"], call["extension"]) == ("201", "202", "202")
    assert call["hangup_cause"] == "20"


def test_congestion_on_the_trunk_is_failed():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="0900123", state="Ring")
    trace.channel("t", "PJSIP/provider-00000002", linkedid="a").dial("a", "t", "provider/0900123")
    trace.at(2).dial_end("a", "t", "CONGESTION").hangup("t", 34).hangup("a", 34)
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert (call["direction"], call["status"], call["to_number"]) == (
        "outgoing",
        "failed",
        "0900123",
    )


def test_busy_from_hangup_cause_alone():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="202", state="Ring")
    trace.at(1).hangup("a", 17)
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert call["status"] == "busy"


def test_ivr_answering_without_a_person_is_missed():
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="0612345678", exten="0201234500", state="Ring"
    )
    trace.at(1).state("in", "Up")  # Answer() + Background(menu)
    trace.at(25).hangup("in")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert (call["direction"], call["status"]) == ("incoming", "missed")
    assert (call["extension"], call["ring_seconds"], call["talk_seconds"]) == (None, 0, 0)


def test_voicemail_behind_a_local_channel_is_not_a_person():
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="0612345678", exten="0201234500", state="Ring"
    )
    trace.channel("ph", "PJSIP/201-00000002", linkedid="in").dial("in", "ph", "201")
    trace.at(15).dial_end("in", "ph", "NOANSWER").hangup("ph", 19)
    # Dial(Local/vm-201@voicemail): the Local half answers and is bridged.
    trace.channel("l1", "Local/vm-201@voicemail-00000003;1", linkedid="in")
    trace.channel("l2", "Local/vm-201@voicemail-00000003;2", linkedid="in")
    trace.dial("in", "l1", "vm-201@voicemail").dial_end("in", "l1", "ANSWER")
    trace.bridge("b9", "in", "l1")
    trace.event("VarSet", "l2", Variable="MIXMONITOR_FILENAME", Value="")
    trace.at(40).unbridge("b9", "in", "l1").hangup("l2").hangup("l1").hangup("in")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert call["status"] == "missed"
    assert (call["extension"], call["talk_seconds"], call["ring_seconds"]) == ("201", 0, 15)
    assert call["recording"] is None


def test_stale_call_is_closed_and_late_events_ignored():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="202", state="Ring")
    trace.channel("b", "PJSIP/202-00000002", linkedid="a").dial("a", "b", "202")
    first, second, dial = trace.messages()
    assembler = CallAssembler(PJSIP_TRUNKS, stale_seconds=60)
    for message in (first, second, dial):
        assert assembler.feed(message) == []
    assert assembler.close_stale(START + 59) == []
    (call,) = assembler.close_stale(START + 61)
    assert (call["status"], call["extension"], call["to_number"]) == ("unknown", "202", "202")
    assert assembler.open_calls == 0
    # A Hangup arriving after the close must not bring the call back.
    trace.at(70).hangup("b").hangup("a")
    for message in trace.messages()[3:]:
        assert assembler.feed(message) == []
    assert assembler.flush() == []


def test_ids_of_finished_calls_are_kept_within_a_bound(monkeypatch):
    """A busy PBX finishes thousands of calls an hour: their ids must not pile up."""
    monkeypatch.setattr(assembler_module, "MAX_ENDED", 10)
    assembler = CallAssembler(PJSIP_TRUNKS)
    calls = []
    for n in range(30):
        trace = Trace(start=START + 100 * n)
        trace.channel("a", f"PJSIP/201-{n:08x}", cid="201", exten="202", state="Ring")
        trace.at(5).hangup("a")
        for message in trace.messages():
            calls += assembler.feed(message)
    assert len(calls) == 30
    assert len(assembler._ended) <= 10


def test_stale_calls_close_while_events_keep_coming():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="202", state="Ring")
    trace.at(500).channel("x", "PJSIP/203-00000009", cid="203", exten="204", state="Ring")
    assembler = CallAssembler(PJSIP_TRUNKS, stale_seconds=300)
    first, other = trace.messages()
    assert assembler.feed(first) == []
    (call,) = assembler.feed(other)
    assert call["from_number"] == "201"
    assert assembler.open_calls == 1


def test_flush_returns_open_calls_with_unknown_status():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="202", state="Ring")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert call["status"] == "unknown"


def test_only_plumbing_is_no_call():
    trace = Trace()
    trace.channel("l1", "Local/s@app-00000001;1").channel(
        "l2", "Local/s@app-00000001;2", linkedid="l1"
    )
    trace.hangup("l2").hangup("l1")
    assert assemble(trace.messages(), PJSIP_TRUNKS) == []


def test_channel_showing_up_with_another_linkedid_merges_calls():
    trace = Trace()
    trace.channel("a", "PJSIP/201-00000001", cid="201", exten="202", state="Ring")
    trace.channel("b", "PJSIP/202-00000002", linkedid="a").dial("a", "b", "202")
    trace.at(3).dial_end("a", "b", "ANSWER").bridge("b1", "a", "b")
    # 202 consults 203 on a call of its own...
    trace.at(10).channel("b2", "PJSIP/202-00000003", cid="202", exten="203", state="Ring")
    trace.channel("c", "PJSIP/203-00000004", linkedid="b2").dial("b2", "c", "203")
    trace.at(12).dial_end("b2", "c", "ANSWER").bridge("b2b", "b2", "c")
    # ...and 203 is moved into the first call (no AttendedTransfer event).
    trace.at(20).unbridge("b2b", "b2").hangup("b2")
    trace.update("c", Linkedid=trace.linkedid_of("a")).unbridge("b2b", "c")
    trace.unbridge("b1", "b").hangup("b").bridge("b1", "c")
    trace.at(50).unbridge("b1", "a", "c").hangup("a").hangup("c")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert call["external_id"] == trace.linkedid_of("a")
    assert (call["status"], call["extension"], call["talk_seconds"]) == ("answered", "202", 47)
    assert call["transferred"] is False  # bridging alone is no transfer


def test_forward_header_marks_the_call_forwarded():
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="0612345678", exten="0201234500", state="Ring"
    )
    trace.channel("ph", "PJSIP/201-00000002", linkedid="in").dial("in", "ph", "201")
    trace.event("DialState", "in", "ph", DialStatus="PROGRESS", Forward="PJSIP/202")
    trace.at(4).dial_end("in", "ph", "ANSWER").bridge("b", "in", "ph")
    trace.at(9).unbridge("b", "in", "ph").hangup("in").hangup("ph")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert call["forwarded"] is True


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nothing_is_kept_once_calls_finish(name):
    # A listener runs for months: finished calls must leave no state behind.
    assembler = CallAssembler(TRUNKS)
    for i, message in enumerate(parse_file(capture(name))):
        assembler.feed(message, CLOCK_START + i)
    assert assembler.open_calls == 0
    assert assembler._channels == {}
    assert assembler._bridges == {}


def test_lost_bridge_destroy_does_not_leak():
    trace = incoming_answered()
    messages = [m for m in trace.messages() if m.event not in ("BridgeLeave", "BridgeDestroy")]
    assembler = CallAssembler(PJSIP_TRUNKS)
    calls = [call for message in messages for call in assembler.feed(message)]
    assert [call["talk_seconds"] for call in calls] == [125]
    assert assembler._bridges == {}


def test_queue_ringing_members_again_is_no_forward():
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="0612345678", exten="0201234500", state="Ring"
    )
    trace.at(1).state("in", "Up").event("QueueCallerJoin", "in", Queue="support", Position=1)
    for round_start, (a, b) in ((2, ("a1", "b1")), (20, ("a2", "b2"))):
        trace.at(round_start)
        trace.channel(a, f"PJSIP/202-{round_start:08x}", linkedid="in").dial("in", a, "202")
        trace.channel(b, f"PJSIP/203-{round_start + 1:08x}", linkedid="in").dial("in", b, "203")
    trace.at(17).dial_end("in", "a1", "NOANSWER").dial_end("in", "b1", "NOANSWER").hangup(
        "a1"
    ).hangup("b1")
    trace.at(25).dial_end("in", "b2", "ANSWER").dial_end("in", "a2", "CANCEL").hangup("a2", 26)
    trace.bridge("q", "in", "b2").at(85).unbridge("q", "in", "b2").hangup("in").hangup("b2")
    (call,) = assemble(trace.messages(), PJSIP_TRUNKS)
    assert (call["status"], call["extension"], call["first_extension"]) == (
        "answered",
        "203",
        "203",
    )
    assert call["forwarded"] is False
    assert (call["ring_seconds"], call["talk_seconds"]) == (23, 60)
