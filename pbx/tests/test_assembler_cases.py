"""Issue 14: calls sent back out over the trunk, call acceptance, queues,
pickups and Local channels, each written as the AMI v2 events Asterisk 16-20
sends (app_dial, app_followme, app_queue, main/pickup.c, core_local.c).

Rules every record here obeys: the extension is a desk phone's or empty,
never a trunk or a ``Local/`` helper; a call is answered only when the
caller's channel got joined (by bridges and Local pairs) to a person;
forwarded means someone else than the extension(s) rung first took it (a
queue ringing its members in turn is ringing them first); one record per call.

Each case is a builder returning the trace and the record it must give;
``pbx/tests/traces/make_traces.py`` writes the same builders out as ``.ami``
files for ``python -m pbx replay``, so the files cannot drift from these.
"""

from datetime import UTC, datetime

import pytest

from pbx.asterisk.assembler import CallAssembler, assemble
from pbx.testing.ami_trace import START, Trace

TRUNKS = [r"^PJSIP/provider-"]
CALLER = "0612345678"
DID = "0201234567"
MOBILE = "0687654321"


def clock(seconds):
    return datetime.fromtimestamp(START + seconds, UTC).isoformat(timespec="seconds")


def queued_in(queue="support", wait=0, result="answered", position=1):
    """The queue keys of a call whose last visit was ``queue``."""
    return {
        "queue": queue,
        "queue_wait_seconds": wait,
        "queue_result": result,
        "queue_position": position,
    }


def record(trace, end, first="in", **fields):
    """The record of a call whose first channel is ``first``: incoming by default."""
    expected = {
        "external_id": trace.linkedid_of(first),
        "direction": "incoming",
        "from_number": CALLER,
        "to_number": DID,
        "forwarded": False,
        "transferred": False,
        "start": clock(0),
        "end": clock(end),
        "recording": None,
    }
    expected.update(fields)
    return expected


# name -> builder returning (trace, expected record), in the order written.
CASES = {}


def case(build):
    CASES[build.__name__] = build
    return build


def only_call(trace):
    calls = assemble(trace.messages(), TRUNKS)
    assert len(calls) == 1, calls
    return calls[0]


def snapshot(trace, key, prefix):
    """Headers of a channel snapshot under ``prefix`` (Pickup's ``Target``)."""
    return {prefix + name: value for name, value in trace._channels[key].items()}


def incoming(trace):
    trace.channel("in", "PJSIP/provider-00000001", cid=CALLER, exten=DID, state="Ring")
    return trace


def ring_desk_phone_unanswered(trace, until=16):
    """Dial(PJSIP/201,15) from the incoming channel: 201 does not answer."""
    trace.at(1).channel("ph", "PJSIP/201-00000002", cid=DID, linkedid="in")
    trace.dial("in", "ph", "PJSIP/201").at(2).state("ph", "Ringing")
    trace.at(until).dial_end("in", "ph", "NOANSWER").hangup("ph", 19)
    return trace


def local_pair(trace, prefix, name, linked="in"):
    trace.channel(prefix + "1", f"{name};1", linkedid=linked)
    trace.channel(prefix + "2", f"{name};2", linkedid=linked)
    trace.event(
        "LocalBridge",
        **snapshot(trace, prefix + "1", "LocalOne"),
        **snapshot(trace, prefix + "2", "LocalTwo"),
        Context="followme",
        Exten=MOBILE,
        LocalOptimization="Yes",
    )
    return trace


def mobile_answers_behind_local(trace, answer_at):
    """The ;2 half dials the mobile over the trunk; it answers at ``answer_at``."""
    trace.channel("out", "PJSIP/provider-00000005", cid=CALLER, linkedid="in")
    trace.dial("l2", "out", f"PJSIP/{MOBILE}@provider")
    trace.at(answer_at).state("out", "Up").dial_end("l2", "out", "ANSWER")
    trace.event("BridgeCreate", BridgeUniqueid="b-mobile", BridgeType="basic")
    trace.bridge("b-mobile", "out", "l2")
    trace.state("l1", "Up")
    return trace


def hang_up_all(trace, *keys):
    for key in keys:
        trace.hangup(key)
    return trace


# -- sent back out over the trunk ----------------------------------------


@case
def incoming_to_a_fixed_outside_number_answered():
    trace = incoming(Trace())
    trace.at(1).channel("out", "PJSIP/provider-00000002", cid=CALLER, linkedid="in")
    trace.dial("in", "out", f"PJSIP/{MOBILE}@provider").at(3).state("out", "Ringing")
    trace.at(6).state("out", "Up").dial_end("in", "out", "ANSWER").bridge("b1", "out", "in")
    trace.at(66).unbridge("b1", "out", "in").hangup("out").hangup("in")
    return trace, record(
        trace,
        66,
        status="answered",
        extension=None,
        first_extension=None,
        ring_seconds=5,
        talk_seconds=60,
        hangup_cause="16",
    )


@case
def incoming_to_a_fixed_outside_number_unanswered():
    trace = incoming(Trace())
    trace.at(1).channel("out", "PJSIP/provider-00000002", cid=CALLER, linkedid="in")
    trace.dial("in", "out", f"PJSIP/{MOBILE}@provider").at(3).state("out", "Ringing")
    trace.at(31).dial_end("in", "out", "NOANSWER").hangup("out", 19).at(32).hangup("in")
    return trace, record(
        trace,
        32,
        status="missed",
        extension=None,
        first_extension=None,
        ring_seconds=30,
        talk_seconds=0,
        hangup_cause="16",
    )


# -- Dial with a U() acceptance routine on the called leg -----------------


def dial_local_with_acceptance(trace):
    """201 first, then Dial(Local/MOBILE@followme,,U(accept)) at 16."""
    ring_desk_phone_unanswered(incoming(trace))
    local_pair(trace, "l", f"Local/{MOBILE}@followme-00000003")
    trace.dial("in", "l1", f"Local/{MOBILE}@followme")
    mobile_answers_behind_local(trace, 22)
    # The routine runs on the called ;1 half; the caller hears ringing.
    trace.event("Newexten", "l1", Context="accept", Application="Read", AppData="key,press-1")
    return trace


@case
def acceptance_routine_accepted_over_local():
    trace = dial_local_with_acceptance(Trace())
    trace.at(30).dial_end("in", "l1", "ANSWER")
    trace.event("BridgeCreate", BridgeUniqueid="b-caller", BridgeType="basic")
    trace.bridge("b-caller", "l1", "in")
    trace.at(90).unbridge("b-caller", "in", "l1").unbridge("b-mobile", "l2", "out")
    hang_up_all(trace, "in", "l1", "l2", "out")
    return trace, record(
        trace,
        90,
        status="answered",
        extension=None,  # a mobile took it: no desk phone
        first_extension="201",
        forwarded=True,  # rung at 201 first, taken on the mobile
        ring_seconds=21,  # 201 rang from 1, the mobile answered at 22
        talk_seconds=68,  # the outside leg is billed from its answer
        hangup_cause="16",
    )


@case
def acceptance_routine_times_out_over_local():
    trace = dial_local_with_acceptance(Trace())
    trace.at(40).event("VarSet", "l1", Variable="GOSUB_RESULT", Value="ABORT")
    trace.dial_end("in", "l1", "ABORT")
    trace.unbridge("b-mobile", "l2", "out")
    hang_up_all(trace, "l1", "l2", "out", "in")
    return trace, record(
        trace,
        40,
        status="missed",
        extension="201",  # nobody took it: the desk phone follows it up
        first_extension="201",
        ring_seconds=21,
        talk_seconds=0,
        hangup_cause="16",
    )


@case
def acceptance_routine_on_the_trunk_continues_to_voicemail():
    trace = incoming(Trace())
    trace.at(1).channel("out", "PJSIP/provider-00000002", cid=CALLER, linkedid="in")
    trace.dial("in", "out", f"PJSIP/{MOBILE}@provider,30,U(accept)")
    trace.at(5).state("out", "Up")  # picked up; DialEnd waits for the routine
    trace.event("Newexten", "out", Context="accept", Application="Read", AppData="key,press-1")
    trace.at(15).event("VarSet", "out", Variable="GOSUB_RESULT", Value="CONTINUE")
    trace.dial_end("in", "out", "CONTINUE").hangup("out")
    local_pair(trace, "v", "Local/vm-201@voicemail-00000004")
    trace.dial("in", "v1", "Local/vm-201@voicemail").dial_end("in", "v1", "ANSWER")
    trace.bridge("b-vm", "in", "v1")
    trace.event("Newexten", "v2", Context="voicemail", Application="VoiceMail", AppData="201")
    trace.at(45).unbridge("b-vm", "in", "v1")
    hang_up_all(trace, "v2", "v1", "in")
    return trace, record(
        trace,
        45,
        status="missed",
        extension=None,
        first_extension=None,
        ring_seconds=14,  # until the routine gave up
        talk_seconds=0,
        hangup_cause="16",
    )


# -- FollowMe ----------------------------------------------------------------


def follow_me(trace):
    """201 first; then FollowMe(201) answers the caller and dials the mobile."""
    ring_desk_phone_unanswered(incoming(trace))
    trace.state("in", "Up")
    trace.event("Newexten", "in", Application="FollowMe", AppData="201")
    local_pair(trace, "l", f"Local/{MOBILE}@followme-00000003")
    trace.dial("in", "l1", f"{MOBILE}@followme")
    mobile_answers_behind_local(trace, 24)
    # app_followme reports the answer at once, before its prompt.
    trace.dial_end("in", "l1", "ANSWER")
    return trace


@case
def follow_me_accepted_on_the_mobile():
    trace = follow_me(Trace())
    trace.at(31).event("DTMFEnd", "l1", Digit="1", Direction="Received", DurationMs=120)
    trace.event("BridgeCreate", BridgeUniqueid="b-caller", BridgeType="basic")
    trace.bridge("b-caller", "in", "l1")
    trace.at(91).unbridge("b-caller", "in", "l1").unbridge("b-mobile", "l2", "out")
    hang_up_all(trace, "in", "l1", "l2", "out")
    return trace, record(
        trace,
        91,
        status="answered",
        extension=None,
        first_extension="201",
        forwarded=True,
        ring_seconds=23,
        talk_seconds=67,
        hangup_cause="16",
    )


@case
def follow_me_answered_but_never_accepted_is_missed():
    trace = follow_me(Trace())
    # No key within the timeout: FollowMe hangs the mobile up, the caller
    # hears the sorry prompt and leaves.
    trace.at(54).unbridge("b-mobile", "l2", "out")
    hang_up_all(trace, "l1", "l2", "out")
    trace.event("Newexten", "in", Application="Playback", AppData="followme/sorry")
    trace.at(58).hangup("in")
    return trace, record(
        trace,
        58,
        status="missed",
        extension="201",
        first_extension="201",
        ring_seconds=23,
        talk_seconds=0,
        hangup_cause="16",
    )


# -- queues ------------------------------------------------------------------


def queued(trace):
    incoming(trace).at(1).state("in", "Up")
    trace.event("QueueCallerJoin", "in", Queue="support", Position=1, Count=1)
    return trace


def local_agent(trace, key, ext, number):
    """The queue rings member Local/ext@agents; its ;2 half dials PJSIP/ext."""
    local_pair(trace, key, f"Local/{ext}@agents-{number:08x}")
    trace.dial("in", key + "1", f"Local/{ext}@agents/n")
    trace.event("AgentCalled", "in", key + "1", Queue="support", MemberName=ext)
    trace.channel(key + "p", f"PJSIP/{ext}-{number + 1:08x}", cid=DID, linkedid="in")
    trace.dial(key + "2", key + "p", f"PJSIP/{ext}")
    return trace


@case
def queue_ringall_local_agents_with_optimisation():
    trace = queued(Trace())
    trace.at(2)
    local_agent(trace, "a", "201", 0x10)
    local_agent(trace, "b", "202", 0x20)
    trace.at(12).state("bp", "Up").dial_end("b2", "bp", "ANSWER")
    trace.bridge("b-agent", "bp", "b2").state("b1", "Up")
    trace.dial_end("in", "b1", "ANSWER").dial_end("in", "a1", "CANCEL")
    trace.dial_end("a2", "ap", "CANCEL").hangup("ap", 26).hangup("a2").hangup("a1")
    trace.event("QueueCallerLeave", "in", Queue="support", Position=1, Count=0)
    trace.event("AgentConnect", "in", "b1", Queue="support", MemberName="202", HoldTime=11)
    trace.bridge("b-queue", "in", "b1")
    # core_local swaps 202 into the caller's bridge and drops the helpers.
    trace.event(
        "LocalOptimizationBegin",
        **snapshot(trace, "b1", "LocalOne"),
        **snapshot(trace, "b2", "LocalTwo"),
        **snapshot(trace, "bp", "Source"),
        DestUniqueId="b-queue",
        Id=1,
    )
    trace.unbridge("b-agent", "bp")
    trace.event("BridgeEnter", "bp", BridgeUniqueid="b-queue", SwapUniqueid="x")
    trace.unbridge("b-queue", "b1").unbridge("b-agent", "b2")
    trace.event(
        "LocalOptimizationEnd",
        **snapshot(trace, "b1", "LocalOne"),
        **snapshot(trace, "b2", "LocalTwo"),
        Success="Yes",
        Id=1,
    )
    hang_up_all(trace, "b1", "b2")
    trace.at(72).unbridge("b-queue", "in", "bp").hangup("in").hangup("bp")
    return trace, record(
        trace,
        72,
        status="answered",
        extension="202",
        first_extension="202",
        ring_seconds=10,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=11),  # AgentConnect's HoldTime
    )


def linear_queue(trace, answer=True):
    """strategy=linear: 201 rings 2-17, then 202 from 17."""
    queued(trace)
    trace.at(2).channel("p1", "PJSIP/201-00000002", cid=DID, linkedid="in")
    trace.dial("in", "p1", "PJSIP/201")
    trace.event("AgentCalled", "in", "p1", Queue="support", MemberName="201")
    trace.at(17).event("AgentRingNoAnswer", "in", "p1", Queue="support", RingTime=15)
    trace.dial_end("in", "p1", "NOANSWER").hangup("p1", 19)
    trace.channel("p2", "PJSIP/202-00000003", cid=DID, linkedid="in")
    trace.dial("in", "p2", "PJSIP/202")
    trace.event("AgentCalled", "in", "p2", Queue="support", MemberName="202")
    if answer:
        trace.at(25).state("p2", "Up").dial_end("in", "p2", "ANSWER")
        trace.event("QueueCallerLeave", "in", Queue="support", Position=1, Count=0)
        trace.event("AgentConnect", "in", "p2", Queue="support", MemberName="202")
        trace.bridge("b-q", "in", "p2").at(85).unbridge("b-q", "in", "p2")
        hang_up_all(trace, "p2", "in")
    return trace


@case
def queue_linear_second_member_taking_it_is_no_forward():
    trace = linear_queue(Trace())
    return trace, record(
        trace,
        85,
        status="answered",
        extension="202",
        first_extension="202",
        ring_seconds=23,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=24),  # joined at 1, AgentConnect at 25
    )


@case
def queue_linear_caller_gives_up():
    trace = linear_queue(Trace(), answer=False)
    trace.at(20).event("QueueCallerAbandon", "in", Queue="support", Position=1, HoldTime=19)
    trace.dial_end("in", "p2", "CANCEL").hangup("p2", 0).hangup("in")
    return trace, record(
        trace,
        20,
        status="missed",
        extension="201",
        first_extension="201",
        ring_seconds=18,
        talk_seconds=0,
        hangup_cause="16",
        **queued_in(wait=19, result="abandoned"),  # QueueCallerAbandon's HoldTime
    )


def rrmemory_queue(trace):
    """strategy=rrmemory: 203 (after the last answerer) first, then 201."""
    queued(trace).at(2)
    local_agent(trace, "c", "203", 0x30)
    trace.at(17).dial_end("c2", "cp", "NOANSWER").hangup("cp", 19)
    trace.dial_end("in", "c1", "NOANSWER").hangup("c2").hangup("c1")
    local_agent(trace, "a", "201", 0x10)
    return trace


@case
def queue_rrmemory_local_agents_without_optimisation():
    trace = rrmemory_queue(Trace())
    trace.at(21).state("ap", "Up").dial_end("a2", "ap", "ANSWER").bridge("b-agent", "ap", "a2")
    trace.dial_end("in", "a1", "ANSWER").bridge("b-queue", "in", "a1")
    trace.at(81).unbridge("b-queue", "in", "a1").unbridge("b-agent", "a2", "ap")
    hang_up_all(trace, "in", "a1", "a2", "ap")
    return trace, record(
        trace,
        81,
        status="answered",
        extension="201",
        first_extension="201",
        ring_seconds=19,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=20),  # no AgentConnect: 201 took it at 21
    )


@case
def queue_member_passing_the_call_on_is_a_forward():
    trace = rrmemory_queue(Trace())
    # 201's own dialplan (Local ;2) tries its desk phone, then 204.
    trace.at(25).dial_end("a2", "ap", "NOANSWER").hangup("ap", 19)
    trace.channel("fw", "PJSIP/204-00000040", cid=DID, linkedid="in")
    trace.dial("a2", "fw", "PJSIP/204")
    trace.at(30).state("fw", "Up").dial_end("a2", "fw", "ANSWER").bridge("b-agent", "fw", "a2")
    trace.dial_end("in", "a1", "ANSWER").bridge("b-queue", "in", "a1")
    trace.at(90).unbridge("b-queue", "in", "a1").unbridge("b-agent", "a2", "fw")
    hang_up_all(trace, "in", "a1", "a2", "fw")
    return trace, record(
        trace,
        90,
        status="answered",
        extension="204",
        first_extension="203",
        forwarded=True,
        ring_seconds=28,
        talk_seconds=60,
        hangup_cause="16",
        **queued_in(wait=29),  # 204 took it at 30
    )


# -- pickup ------------------------------------------------------------------


def ringing_then_picked_up(trace, caller_key, directed):
    """201 rings; 202 picks it up (``*8`` group or ``**201`` directed).

    ast_do_pickup answers 202's channel and masquerades it into the ringing
    one: the Dial now holds 202's identity, 201's is hung up as a zombie.
    """
    trace.at(5).channel(
        "pk", "PJSIP/202-00000009", cid="202", exten="**201" if directed else "*8", state="Ring"
    )
    app = ("Pickup", "201@PICKUPMARK") if directed else ("Pickup", "")
    trace.event("Newexten", "pk", Application=app[0], AppData=app[1])
    trace.state("pk", "Up")
    trace.event("Pickup", "pk", **snapshot(trace, "ph", "Target"))
    trace.hangup("ph", 26)
    trace.update("pk", Linkedid=trace.linkedid_of(caller_key))
    return trace


@case
def group_pickup_with_dial_end_internal():
    trace = Trace()
    trace.channel("in", "PJSIP/203-00000001", cid="203", exten="201", state="Ring")
    trace.at(1).channel("ph", "PJSIP/201-00000002", cid="201", linkedid="in")
    trace.dial("in", "ph", "PJSIP/201").at(2).state("ph", "Ringing")
    ringing_then_picked_up(trace, "in", directed=False)
    trace.dial_end("in", "pk", "ANSWER").bridge("b1", "pk", "in")
    trace.at(65).unbridge("b1", "pk", "in").hangup("pk").hangup("in")
    return trace, record(
        trace,
        65,
        direction="internal",
        status="answered",
        from_number="203",
        to_number="201",
        extension="202",
        first_extension="201",
        forwarded=True,  # rung at 201, taken by 202
        ring_seconds=4,
        talk_seconds=60,
        hangup_cause="16",
    )


@case
def directed_pickup_without_dial_end():
    trace = incoming(Trace())
    trace.at(1).channel("ph", "PJSIP/201-00000002", cid=DID, linkedid="in")
    trace.dial("in", "ph", "PJSIP/201").at(2).state("ph", "Ringing")
    ringing_then_picked_up(trace, "in", directed=True)
    trace.at(6).bridge("b1", "pk", "in")
    trace.at(66).unbridge("b1", "pk", "in").hangup("pk").hangup("in")
    return trace, record(
        trace,
        66,
        status="answered",
        extension="202",
        first_extension="201",
        forwarded=True,
        ring_seconds=5,  # until 202 was put through
        talk_seconds=60,
        hangup_cause="16",
    )


# -- Local channels ----------------------------------------------------------


@case
def local_channel_without_optimisation():
    trace = incoming(Trace())
    local_pair(trace, "l", "Local/201@extensions-00000003")
    trace.at(1).dial("in", "l1", "Local/201@extensions/n")
    trace.channel("ph", "PJSIP/201-00000004", cid=DID, linkedid="in")
    trace.dial("l2", "ph", "PJSIP/201")
    trace.at(8).state("ph", "Up").dial_end("l2", "ph", "ANSWER").bridge("b2", "ph", "l2")
    trace.state("l1", "Up").dial_end("in", "l1", "ANSWER").bridge("b1", "in", "l1")
    trace.at(38).unbridge("b1", "in", "l1").unbridge("b2", "l2", "ph")
    hang_up_all(trace, "in", "l1", "l2", "ph")
    return trace, record(
        trace,
        38,
        status="answered",
        extension="201",
        first_extension="201",
        ring_seconds=7,
        talk_seconds=30,
        hangup_cause="16",
    )


@case
def local_only_originate_reaching_two_phones():
    # Originate(Local/201@from-internal, exten 202@from-internal): ;2 rings
    # 201; once it answers, ;1 runs 202 and rings it.
    trace = Trace()
    trace.channel("l1", "Local/201@from-internal-00000001;1", cid="201")
    trace.channel("l2", "Local/201@from-internal-00000001;2", cid="201", linkedid="l1")
    trace.at(1).channel("a", "PJSIP/201-00000002", cid="201", linkedid="l1")
    trace.dial("l2", "a", "PJSIP/201")
    trace.at(4).state("a", "Up").dial_end("l2", "a", "ANSWER").bridge("ba", "a", "l2")
    trace.state("l1", "Up").update("l1", Exten="202")
    trace.event("Newexten", "l1", Application="Dial", AppData="PJSIP/202")
    # app_dial gives the called channel the caller's extension.
    trace.channel("b", "PJSIP/202-00000003", cid="201", exten="202", linkedid="l1")
    trace.dial("l1", "b", "PJSIP/202")
    trace.at(9).state("b", "Up").dial_end("l1", "b", "ANSWER").bridge("bb", "b", "l1")
    trace.at(69).unbridge("bb", "b", "l1").unbridge("ba", "l2", "a")
    hang_up_all(trace, "b", "l1", "l2", "a")
    return trace, {
        "external_id": trace.linkedid_of("l1"),
        "direction": "internal",
        "status": "answered",
        "from_number": "201",
        "to_number": "202",
        "extension": "202",
        "first_extension": "202",
        "forwarded": False,
        "transferred": False,
        "start": clock(0),
        "end": clock(69),
        "ring_seconds": 5,
        "talk_seconds": 60,
        "recording": None,
        "hangup_cause": "16",
    }


@case
def local_to_local_originate_optimised_away():
    # Originate(Local/201@from-internal, Application=Dial, Data=Local/202@...):
    # two Local pairs between the phones, both optimised out in the end.
    trace = Trace()
    trace.channel("l1", "Local/201@from-internal-00000001;1", cid="201")
    trace.channel("l2", "Local/201@from-internal-00000001;2", cid="201", linkedid="l1")
    trace.at(1).channel("a", "PJSIP/201-00000002", cid="201", linkedid="l1")
    trace.dial("l2", "a", "PJSIP/201")
    trace.at(4).state("a", "Up").dial_end("l2", "a", "ANSWER").bridge("ba", "a", "l2")
    trace.state("l1", "Up")
    local_pair(trace, "m", "Local/202@from-internal-00000002", linked="l1")
    trace.dial("l1", "m1", "Local/202@from-internal")
    trace.channel("b", "PJSIP/202-00000003", cid="201", exten="202", linkedid="l1")
    trace.dial("m2", "b", "PJSIP/202")
    trace.at(9).state("b", "Up").dial_end("m2", "b", "ANSWER").bridge("bb", "b", "m2")
    trace.state("m1", "Up").dial_end("l1", "m1", "ANSWER").bridge("bm", "l1", "m1")
    # Both pairs optimise out: 201 ends up in 202's bridge.
    trace.unbridge("bm", "l1", "m1").unbridge("bb", "m2")
    hang_up_all(trace, "m1", "m2")
    trace.unbridge("ba", "a").bridge("bb", "a").unbridge("ba", "l2")
    hang_up_all(trace, "l1", "l2")
    trace.at(69).unbridge("bb", "b", "a")
    hang_up_all(trace, "b", "a")
    return trace, {
        "external_id": trace.linkedid_of("l1"),
        "direction": "internal",
        "status": "answered",
        "from_number": "201",
        "to_number": "202",
        "extension": "202",
        "first_extension": "202",
        "forwarded": False,
        "transferred": False,
        "start": clock(0),
        "end": clock(69),
        "ring_seconds": 5,
        "talk_seconds": 60,
        "recording": None,
        "hangup_cause": "16",
    }


# -- originate through Local/ that reaches only the trunk ----------------------


def call_back(trace, answer_at=8):
    """Originate(Local/CALLER@from-internal, CallerID DID): a call-back.

    As manager.c and core_local.c report it: the ;1/;2 pair, a DialBegin
    with no caller towards ;1 (the originate itself), then ;2 runs CALLER's
    dialplan and dials the trunk. When the mobile answers, ;1 answers, the
    originate's DialEnd and OriginateResponse follow and ;1 runs the
    application side. ``answer_at=None``: the mobile never answers.
    """
    pair = f"Local/{CALLER}@from-internal-00000001"
    trace.channel("l1", f"{pair};1", exten=CALLER).update("l1", CallerIDNum=DID)
    trace.event("NewCallerid", "l1")
    trace.channel("l2", f"{pair};2", exten=CALLER, linkedid="l1", state="Ring")
    trace.event(
        "LocalBridge",
        **snapshot(trace, "l1", "LocalOne"),
        **snapshot(trace, "l2", "LocalTwo"),
        Context="from-internal",
        Exten=CALLER,
        LocalOptimization="No",
    )
    trace.event("DialBegin", dest="l1", DialString=f"{CALLER}@from-internal")
    trace.update("l2", CallerIDNum=DID).event("NewCallerid", "l2")
    trace.event("Newexten", "l2", Application="Dial", AppData=f"PJSIP/{CALLER}@provider,30")
    # app_dial gives the outside leg the number it dials as caller ID.
    trace.at(1).channel("out", "PJSIP/provider-00000002", cid=CALLER, linkedid="l1")
    trace.dial("l2", "out", f"PJSIP/{CALLER}@provider").at(3).state("out", "Ringing")
    trace.state("l1", "Ringing")
    if answer_at is None:
        trace.at(31).dial_end("l2", "out", "NOANSWER").hangup("out", 19)
        trace.hangup("l2", 19).hangup("l1", 19)
        trace.event("DialEnd", dest="l1", DialStatus="NOANSWER")
        # No channel any more: Asterisk names the one asked for, "<null>" as id.
        trace.event(
            "OriginateResponse",
            Response="Failure",
            Channel=f"Local/{CALLER}@from-internal",
            Context="from-internal",
            Exten="201",
            Reason=1,
            Uniqueid="<null>",
            CallerIDNum=DID,
            CallerIDName="Call-back",
        )
        return trace
    trace.at(answer_at).state("out", "Up").dial_end("l2", "out", "ANSWER")
    trace.event("BridgeCreate", BridgeUniqueid="b-out", BridgeType="basic")
    trace.bridge("b-out", "out", "l2").state("l1", "Up")
    trace.event("DialEnd", dest="l1", DialStatus="ANSWER")
    return trace


def originate_response(trace, **target):
    channel = trace._channels["l1"]
    return trace.event(
        "OriginateResponse",
        Response="Success",
        Channel=channel["Channel"],
        Context="from-internal",
        Reason=4,
        Uniqueid=channel["Uniqueid"],
        CallerIDNum=DID,
        CallerIDName="Call-back",
        **target,
    )


def outgoing_call_back(trace, end, **fields):
    placed = {
        "direction": "outgoing",
        "from_number": DID,  # the originate's caller ID, what the mobile sees
        "to_number": CALLER,
        "extension": None,
        "first_extension": None,
        "hangup_cause": "16",
    }
    return record(trace, end, first="l1", **(placed | fields))


@case
def call_back_through_local_playing_a_message():
    # Application=Playback: nobody of ours is on the call, so no extension.
    trace = call_back(Trace())
    originate_response(trace, Application="Playback", Data="callback-reminder")
    trace.event("Newexten", "l1", Application="Playback", AppData="callback-reminder")
    trace.at(38).hangup("l1").unbridge("b-out", "l2").hangup("l2")
    trace.unbridge("b-out", "out").hangup("out")
    return trace, outgoing_call_back(
        trace,
        38,
        status="answered",
        ring_seconds=7,
        talk_seconds=30,
    )


@case
def call_back_through_local_unanswered():
    trace = call_back(Trace(), answer_at=None)
    return trace, outgoing_call_back(
        trace,
        31,
        status="missed",
        ring_seconds=30,
        talk_seconds=0,
        hangup_cause="19",
    )


def test_a_failed_originate_leaves_no_call_open():
    trace = call_back(Trace(), answer_at=None)
    assembler = CallAssembler(TRUNKS)
    finished = [call for message in trace.messages() for call in assembler.feed(message)]
    assert [call["status"] for call in finished] == ["missed"]
    assert assembler.open_calls == 0


@case
def call_back_through_local_put_through_to_a_phone():
    # Exten=201: once the mobile answered, ;1 runs 201 and rings the desk phone.
    trace = call_back(Trace())
    originate_response(trace, Exten="201")
    trace.update("l1", Exten="201")
    trace.event("Newexten", "l1", Application="Dial", AppData="PJSIP/201,20")
    trace.channel("ph", "PJSIP/201-00000003", cid="201", exten="201", linkedid="l1")
    trace.dial("l1", "ph", "PJSIP/201").at(9).state("ph", "Ringing")
    trace.at(12).state("ph", "Up").dial_end("l1", "ph", "ANSWER")
    trace.event("BridgeCreate", BridgeUniqueid="b-ph", BridgeType="basic")
    trace.bridge("b-ph", "ph", "l1")
    trace.at(72).unbridge("b-ph", "ph").hangup("ph").unbridge("b-ph", "l1").hangup("l1")
    trace.unbridge("b-out", "l2").hangup("l2").unbridge("b-out", "out").hangup("out")
    return trace, outgoing_call_back(
        trace,
        72,
        status="answered",
        from_number="201",  # the phone's own, as for a call it dials itself
        extension="201",
        first_extension="201",
        ring_seconds=7,  # the mobile, from its dial to its answer
        talk_seconds=64,  # the outside leg is billed from its answer
    )


@pytest.mark.parametrize("name", CASES)
def test_case(name):
    trace, expected = CASES[name]()
    assert only_call(trace) == expected
