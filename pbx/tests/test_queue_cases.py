"""Issue 23: calls through Asterisk queues, written as the AMI events app_queue
sends (Asterisk 13-22, ``apps/app_queue.c``; see :mod:`pbx.asterisk.queues`
for the sequences), each asserting every field of the call it gives.

Like :mod:`test_assembler_cases`, each case is a builder returning the trace
and its record; ``traces/make_traces.py`` writes them out for
``python -m pbx replay`` (:mod:`test_replay_traces`). Member events
(QueueMemberStatus, QueueMemberPause, ...) are sprinkled in: they belong to
the wallboard, and must change nothing here.
"""

import pytest

from pbx.asterisk.assembler import assemble
from pbx.testing.ami_trace import Trace
from pbx.tests.test_assembler_cases import DID, TRUNKS, incoming, only_call, queued_in, record

CASES = {}


def case(build):
    CASES[build.__name__] = build
    return build


def member_status(trace, ext, status, in_call=0, queue="support"):
    """QueueMemberStatus (device state 1 not in use, 2 in use, 6 ringing)."""
    return trace.event(
        "QueueMemberStatus",
        Queue=queue,
        MemberName=f"Agent {ext}",
        Interface=f"PJSIP/{ext}",
        StateInterface=f"PJSIP/{ext}",
        Membership="dynamic",
        Penalty=0,
        CallsTaken=0,
        LastCall=0,
        LastPause=0,
        LoginTime=1767250000,
        InCall=in_call,
        Status=status,
        Paused=0,
        PausedReason="",
        Ringinuse=0,
        Wrapuptime=0,
    )


def join(trace, at, queue="support", position=1, timeout=""):
    """The dialplan runs Queue(queue) on the caller's channel, which joins it."""
    trace.at(at).event("Newexten", "in", Application="Queue", AppData=f"{queue},t,,,{timeout}")
    return trace.event("QueueCallerJoin", "in", Queue=queue, Position=position, Count=position)


def agent_called(trace, key, ext, at, queue="support"):
    """The queue rings member PJSIP/ext: its channel, AgentCalled, DialBegin."""
    trace.at(at).channel(key, f"PJSIP/{ext}-{int(ext):08x}", cid=DID, linkedid="in")
    member = {"Queue": queue, "Interface": f"PJSIP/{ext}", "MemberName": f"Agent {ext}"}
    trace.event("AgentCalled", "in", key, **member)
    return trace.dial("in", key, f"PJSIP/{ext}").state(key, "Ringing")


def ring_no_answer(trace, key, ext, at, rang, queue="support"):
    member = {"Queue": queue, "Interface": f"PJSIP/{ext}", "MemberName": f"Agent {ext}"}
    trace.at(at).event("AgentRingNoAnswer", "in", key, RingTime=rang * 1000, **member)
    return trace.dial_end("in", key, "NOANSWER").hangup(key, 19)


def agent_connects(trace, key, ext, at, hold, rang, queue="support"):
    """The member answers: the caller leaves the queue, then AgentConnect."""
    trace.at(at).state(key, "Up").dial_end("in", key, "ANSWER")
    trace.event("QueueCallerLeave", "in", Queue=queue, Position=1, Count=0)
    member = {"Queue": queue, "Interface": f"PJSIP/{ext}", "MemberName": f"Agent {ext}"}
    trace.event("AgentConnect", "in", key, HoldTime=hold, RingTime=rang, **member)
    return trace.bridge("b-queue", "in", key)


def agent_completes(trace, key, ext, at, hold, talk, reason, queue="support"):
    """The conversation ends; whoever hung up (``reason``) goes first."""
    first, second = ("in", key) if reason == "caller" else (key, "in")
    trace.at(at).unbridge("b-queue", first, second)
    member = {"Queue": queue, "Interface": f"PJSIP/{ext}", "MemberName": f"Agent {ext}"}
    trace.event("AgentComplete", "in", key, HoldTime=hold, TalkTime=talk, Reason=reason, **member)
    return trace.hangup(first).hangup(second)


def leaves_unanswered(trace, at, hold, position=1, original=1, queue="support"):
    """record_abandoned() then leave_queue(): hung up, timed out or left empty alike."""
    trace.at(at).event(
        "QueueCallerAbandon",
        "in",
        Queue=queue,
        Position=position,
        OriginalPosition=original,
        HoldTime=hold,
    )
    return trace.event("QueueCallerLeave", "in", Queue=queue, Position=position, Count=0)


@case
def queue_answered_after_a_wait():
    # Second in line at 1; 201 comes free at 9, rings, answers at 15.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1, position=2)
    member_status(trace.at(8), "201", status=1)
    agent_called(trace, "ph", "201", 9)
    member_status(trace, "201", status=6)
    agent_connects(trace, "ph", "201", 15, hold=14, rang=6)
    member_status(trace, "201", status=2, in_call=1)
    agent_completes(trace, "ph", "201", 75, hold=14, talk=60, reason="caller")
    return trace, record(
        trace,
        75,
        status="answered",
        extension="201",
        first_extension="201",
        ring_seconds=6,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=14, position=2),
    )


@case
def queue_abandoned_within_seconds():
    # 201 rings from 2; the caller hangs up at 4, three seconds after joining.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1)
    agent_called(trace, "ph", "201", 2)
    leaves_unanswered(trace, 4, hold=3)
    trace.dial_end("in", "ph", "CANCEL").hangup("ph", 0).hangup("in")
    return trace, record(
        trace,
        4,
        status="missed",
        extension="201",
        first_extension="201",
        ring_seconds=2,
        talk_seconds=0,
        hangup_cause="16",
        **queued_in(wait=3, result="abandoned"),
    )


@case
def queue_abandoned_after_a_long_wait():
    # Third in line, every member busy or paused; gives up first in line at 95.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1, position=3)
    member_status(trace.at(30), "201", status=2, in_call=1)
    trace.event("QueueMemberPause", Queue="support", MemberName="Agent 202", Interface="PJSIP/202")
    leaves_unanswered(trace, 95, hold=94, position=1, original=3)
    trace.hangup("in")
    return trace, record(
        trace,
        95,
        status="missed",
        extension=None,
        first_extension=None,
        ring_seconds=0,
        talk_seconds=0,
        hangup_cause="16",
        **queued_in(wait=94, result="abandoned", position=3),
    )


@case
def queue_timeout_to_voicemail():
    # Queue(support,t,,,30): 201 rings 2-17 unanswered; at 31 the queue's
    # timeout sends the caller on (QUEUESTATUS=TIMEOUT) to voicemail.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1, timeout=30)
    agent_called(trace, "ph", "201", 2)
    ring_no_answer(trace, "ph", "201", 17, rang=15)
    leaves_unanswered(trace, 31, hold=30)
    trace.event("VarSet", "in", Variable="QUEUESTATUS", Value="TIMEOUT")
    trace.event("Newexten", "in", Application="VoiceMail", AppData="201@default,u")
    trace.at(50).hangup("in")
    return trace, record(
        trace,
        50,
        status="missed",
        extension="201",
        first_extension="201",
        ring_seconds=15,
        talk_seconds=0,
        hangup_cause="16",
        **queued_in(wait=30, result="timeout"),
    )


@case
def queue_ring_no_answer_then_another_agent_answers():
    # strategy=linear: 201 rings 2-17 and times out; after retry 202 rings
    # from 22 and answers at 26; 202 hangs up at 86.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1)
    agent_called(trace, "p1", "201", 2)
    ring_no_answer(trace, "p1", "201", 17, rang=15)
    trace.event("QueueMemberPause", Queue="support", MemberName="Agent 201", Paused=1)
    agent_called(trace, "p2", "202", 22)
    agent_connects(trace, "p2", "202", 26, hold=25, rang=4)
    agent_completes(trace, "p2", "202", 86, hold=25, talk=60, reason="agent")
    return trace, record(
        trace,
        86,
        status="answered",
        extension="202",
        first_extension="202",  # a queue ringing its members in turn: no forward
        ring_seconds=24,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=25),
    )


@case
def queue_caller_transferred_out_while_waiting():
    # Nobody free; at 20 an operator moves the waiting caller (AMI Redirect)
    # to 300: app_queue records it as abandoned, but the caller's channel
    # goes on and dials 300, who answers at 25.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1)
    leaves_unanswered(trace, 20, hold=19)
    trace.event("Newexten", "in", Application="Dial", AppData="PJSIP/300,30")
    trace.channel("op", "PJSIP/300-0000012c", cid=DID, linkedid="in")
    trace.dial("in", "op", "PJSIP/300").state("op", "Ringing")
    trace.at(25).state("op", "Up").dial_end("in", "op", "ANSWER").bridge("b-op", "in", "op")
    trace.at(85).unbridge("b-op", "in", "op").hangup("in").hangup("op")
    return trace, record(
        trace,
        85,
        status="answered",
        extension="300",
        first_extension="300",
        ring_seconds=5,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=19, result="other"),
    )


@case
def queue_call_through_two_queues():
    # sales: 201 rings 2-17, the 20 s timeout at 21 sends the caller to
    # support, second in line there; 202 answers at 30 (9 s in support).
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1, queue="sales", timeout=20)
    agent_called(trace, "p1", "201", 2, queue="sales")
    ring_no_answer(trace, "p1", "201", 17, rang=15, queue="sales")
    leaves_unanswered(trace, 21, hold=20, queue="sales")
    trace.event("VarSet", "in", Variable="QUEUESTATUS", Value="TIMEOUT")
    join(trace, 21, queue="support", position=2)
    agent_called(trace, "p2", "202", 22)
    agent_connects(trace, "p2", "202", 30, hold=9, rang=8)
    agent_completes(trace, "p2", "202", 90, hold=9, talk=60, reason="caller")
    return trace, record(
        trace,
        90,
        status="answered",
        extension="202",
        first_extension="202",
        ring_seconds=28,
        talk_seconds=60,
        hangup_cause="16",
        # The last visit (support, second in line), the wait of both: 20 + 9.
        **queued_in(wait=29, position=2),
    )


@pytest.mark.parametrize("name", CASES)
def test_case(name):
    trace, expected = CASES[name]()
    assert only_call(trace) == expected


def without_member_events(trace):
    kept = [m for m in trace.messages() if not m.get("Event").startswith("QueueMember")]
    return assemble(kept, TRUNKS)


@pytest.mark.parametrize("name", CASES)
def test_member_events_change_nothing(name):
    trace, _expected = CASES[name]()
    assert assemble(trace.messages(), TRUNKS) == without_member_events(trace)


def test_a_caller_leaving_by_a_key_is_other():
    # EXITWITHKEY: no QueueCallerAbandon, no QUEUESTATUS; the caller goes on.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1)
    trace.at(12).event("QueueCallerLeave", "in", Queue="support", Position=1, Count=0)
    trace.event("Newexten", "in", Application="VoiceMail", AppData="100@default")
    trace.at(40).hangup("in")
    assert {key: only_call(trace)[key] for key in queued_in()} == queued_in(wait=11, result="other")


def test_without_varset_events_a_timeout_reads_as_abandoned():
    # A manager user without the "dialplan" read class gets no VarSet: the
    # QueueCallerAbandon app_queue also sends for a timeout is all there is.
    trace, _expected = CASES["queue_timeout_to_voicemail"]()
    kept = [m for m in trace.messages() if m.get("Event") != "VarSet"]
    (call,) = assemble(kept, TRUNKS)
    assert (call["queue_result"], call["queue_wait_seconds"]) == ("abandoned", 30)


@pytest.mark.parametrize(("status", "result"), [("LEAVEEMPTY", "other"), ("WITHDRAW", "other")])
def test_other_ways_out_named_by_queuestatus(status, result):
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    join(trace, 1)
    leaves_unanswered(trace, 6, hold=5)
    trace.event("VarSet", "in", Variable="QUEUESTATUS", Value=status)
    trace.at(8).hangup("in")
    assert only_call(trace)["queue_result"] == result


def test_a_full_queue_is_a_visit_of_no_wait():
    # Queue(support) on a full queue: no QueueCallerJoin, QUEUESTATUS=FULL.
    trace = incoming(Trace())
    trace.at(1).state("in", "Up")
    trace.event("Newexten", "in", Application="Queue", AppData="support,t")
    trace.event("VarSet", "in", Variable="QUEUESTATUS", Value="FULL")
    trace.at(3).hangup("in")
    call = only_call(trace)
    assert {key: call[key] for key in queued_in()} == queued_in(result="other", position=0)


def test_a_call_that_never_queued_has_no_queue_keys():
    trace = incoming(Trace())
    trace.at(1).state("in", "Up").at(5).hangup("in")
    assert "queue" not in only_call(trace)
