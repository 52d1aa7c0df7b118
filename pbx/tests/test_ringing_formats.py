"""Other PBXes' ringing events read as native ones, or ignored with a reason."""

import json

import pytest

from pbx.ringing import RingingEventError, check_event
from pbx.vendors import read_ringing

# Yeastar P-Series (30011) as the developer guide shows it: msg is JSON text,
# one member per party. An outside caller on a trunk rings extension 2000.
YEASTAR_RING = {
    "type": 30011,
    "sn": "3631A2124XXX",
    "msg": json.dumps(
        {
            "call_id": "1648863604.293",
            "members": [
                {
                    "inbound": {
                        "from": "5503301",
                        "to": "2000",
                        "trunk_name": "peer-to-41",
                        "channel_id": "PJSIP/trunk-peer-to-41-endpoint-000000c2",
                        "member_status": "ALERT",
                        "call_path": "",
                    }
                },
                {
                    "extension": {
                        "number": "2000",
                        "channel_id": "PJSIP/2000-000000c3",
                        "member_status": "RING",
                        "call_path": "",
                    }
                },
            ],
        }
    ),
}


def yeastar(*members, call_id="1648863604.293"):
    return {
        "type": 30011,
        "sn": "3631A2124XXX",
        "msg": {"call_id": call_id, "members": list(members)},
    }


def test_yeastar_inbound_rings_the_extension_with_the_caller():
    event, reason = read_ringing(YEASTAR_RING, "yeastar")
    assert reason is None
    assert event == {
        "from_number": "5503301",
        "to_number": "2000",
        "extensions": ["2000"],
        "call_id": "1648863604.293",
    }
    assert check_event(event)[0] == ["2000"]


def test_yeastar_ring_group_and_internal_call():
    ring_group = yeastar(
        {"inbound": {"from": "+31612345678", "to": "0207940100", "member_status": "ALERT"}},
        {"extension": {"number": "2001", "member_status": "RING", "call_path": "6300"}},
        {"extension": {"number": "2002", "member_status": "RING", "call_path": "6300"}},
    )
    event, _ = read_ringing(ring_group, "yeastar")
    assert (event["from_number"], event["to_number"], event["extensions"]) == (
        "+31612345678",
        "0207940100",
        ["2001", "2002"],
    )
    internal = yeastar(
        {"extension": {"number": "2005", "member_status": "ALERT"}},
        {"extension": {"number": "2002", "member_status": "RING"}},
    )
    event, _ = read_ringing(internal, "yeastar")
    assert (event["from_number"], event["to_number"], event["extensions"]) == ("2005", "", ["2002"])


@pytest.mark.parametrize(
    "payload",
    [
        # Answered: nobody rings any more.
        yeastar(
            {"inbound": {"from": "5503301", "to": "2000", "member_status": "ANSWERED"}},
            {"extension": {"number": "2000", "member_status": "ANSWER"}},
        ),
        # An extension dials out: only the trunk member rings.
        yeastar(
            {"extension": {"number": "2000", "member_status": "ALERT"}},
            {"outbound": {"from": "2000", "to": "0612345678", "member_status": "RING"}},
        ),
        # Hung up, and the caller still on the trunk before any phone rings.
        yeastar({"extension": {"number": "2000", "member_status": "BYE"}}),
        yeastar({"inbound": {"from": "5503301", "to": "2000", "member_status": "ALERT"}}),
    ],
)
def test_yeastar_states_without_a_ringing_phone_are_ignored(payload):
    assert read_ringing(payload, "yeastar") == (None, "no extension rings in this call state")


def test_yeastar_other_events_are_ignored_malformed_ones_refused():
    event, reason = read_ringing({"type": 30012, "msg": "{}"}, "yeastar")
    assert event is None and "not 30011" in reason
    for bad, why in (
        ({"sn": "x"}, "needs"),
        ({"type": 30011, "msg": "{oops"}, "not valid JSON"),
        ({"type": 30011, "msg": {"members": "2000"}}, "members must be a list"),
        ({"type": 30011, "msg": {"members": [{"extension": "2000"}]}}, "must be an object"),
        ({"type": 30011, "msg": {"members": [{"extension": {"number": {}}}]}}, "expected text"),
    ):
        with pytest.raises(RingingEventError, match=why):
            read_ringing(bad, "yeastar")


def test_yeastar_s_series_call_status():
    payload = {
        "event": "CallStatus",
        "callid": "1532068012.185",
        "members": [
            {
                "inbound": {
                    "from": 5503301,
                    "to": 6000,
                    "trunkname": "SIP1",
                    "memberstatus": "ALERT",
                }
            },
            {"ext": {"number": "1000", "channelid": "SIP/1000-1", "memberstatus": "RING"}},
        ],
        "sn": "0000000000000000",
    }
    assert read_ringing(payload, "yeastar") == (
        {
            "from_number": "5503301",
            "to_number": "6000",
            "extensions": ["1000"],
            "call_id": "1532068012.185",
        },
        None,
    )


# 3CX's CRM template lookup, as the README's template sends it.
THREECX = {"Number": "+31612345678", "CallDirection": "Inbound", "Agent": "201"}


def test_3cx_lookup_rings_the_agent():
    assert read_ringing(THREECX, "3cx") == (
        {"from_number": "+31612345678", "to_number": "", "extensions": ["201"], "call_id": ""},
        None,
    )
    # Key names as a template author may spell them, and an optional call id.
    event, _ = read_ringing({"number": "0205550101", "agent": 202, "callid": "7"}, "3cx")
    assert (event["from_number"], event["extensions"], event["call_id"]) == (
        "0205550101",
        ["202"],
        "7",
    )


def test_3cx_outbound_and_unfilled_agent_are_ignored():
    event, reason = read_ringing(THREECX | {"CallDirection": "Outbound"}, "3cx")
    assert event is None and "outbound" in reason
    # 3CX leaves a variable it has no value for as its own name.
    event, reason = read_ringing(THREECX | {"Agent": "[Agent]"}, "3cx")
    assert event is None and "no agent" in reason
    event, _ = read_ringing(THREECX | {"CallDirection": "[CallDirection]"}, "3cx")
    assert event["extensions"] == ["201"]


def test_3cx_template_without_number_or_agent_is_refused():
    with pytest.raises(RingingEventError, match="no 'number'"):
        read_ringing({"Agent": "201"}, "3cx")
    with pytest.raises(RingingEventError, match="no 'agent'"):
        read_ringing({"Number": "0205550101"}, "3cx")
    with pytest.raises(RingingEventError, match="expected text"):
        read_ringing(THREECX | {"Number": ["1", "2"]}, "3cx")


# FreeSWITCH event JSON (ESL "event json CHANNEL_PROGRESS"): the leg the switch
# places to desk phone 1001 for a call from a gateway. Trimmed to the headers read.
FS_PROGRESS = {
    "Event-Name": "CHANNEL_PROGRESS",
    "Core-UUID": "6ddf010e-bc0b-4366-8413-6becd7f77076",
    "Channel-State": "CS_CONSUME_MEDIA",
    "Channel-Call-State": "RINGING",
    "Channel-Name": "sofia/internal/1001@192.168.1.20:5060",
    "Unique-ID": "b2f8e0a6-1c2d-4c6e-9a7b-0f1e2d3c4b5a",
    "Call-Direction": "outbound",
    "Answer-State": "ringing",
    "Caller-Caller-ID-Number": "+31612345678",
    "Caller-Destination-Number": "1001",
    "Caller-Callee-ID-Number": "1001",
    "Other-Leg-Unique-ID": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
    "Other-Leg-Destination-Number": "0207940100",
    "variable_dialed_user": "1001",
    "variable_call_uuid": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
}


def test_freeswitch_progress_towards_a_desk_phone():
    assert read_ringing(FS_PROGRESS, "freeswitch", trunks=[r"^sofia/gateway/"]) == (
        {
            "from_number": "+31612345678",
            "to_number": "0207940100",
            "extensions": ["1001"],
            "call_id": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
        },
        None,
    )
    created = FS_PROGRESS | {"Event-Name": "CHANNEL_CREATE", "Answer-State": ""}
    assert read_ringing(created, "freeswitch")[0]["extensions"] == ["1001"]


def test_freeswitch_json_cdr_style_variables():
    event = {
        "Event-Name": "CHANNEL_PROGRESS",
        "Call-Direction": "outbound",
        "Channel-Name": "sofia/internal/1002@pbx",
        "Caller-Caller-ID-Number": "1001",
        "Unique-ID": "leg-b",
        "variables": {"dialed_user": "1002", "call_uuid": "leg-a"},
    }
    assert read_ringing(event, "freeswitch")[0] == {
        "from_number": "1001",
        "to_number": "",
        "extensions": ["1002"],
        "call_id": "leg-a",
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Event-Name": "CHANNEL_ANSWER"}, "not a ringing event"),
        ({"Call-Direction": "inbound"}, "caller's own channel"),
        ({"Answer-State": "answered"}, "already answered"),
        ({"Channel-Call-State": "ACTIVE"}, "already answered"),
        ({"Channel-Name": "sofia/gateway/provider/0612345678"}, "is a trunk"),
        ({"Channel-Name": "sofia/external/0612345678@sip.provider.example"}, "is a trunk"),
        ({"variable_sip_gateway_name": "provider"}, "is a trunk"),
        (
            {"variable_dialed_user": "", "Caller-Destination-Number": "0612345678"},
            "not an extension",
        ),
    ],
)
def test_freeswitch_legs_that_are_no_ringing_phone_are_ignored(change, reason):
    event, why = read_ringing(FS_PROGRESS | change, "freeswitch", trunks=[r"^sofia/external/"])
    assert event is None
    assert reason in why


def test_freeswitch_malformed_events_are_refused():
    with pytest.raises(RingingEventError, match="Event-Name"):
        read_ringing({"Unique-ID": "x"}, "freeswitch")
    with pytest.raises(RingingEventError, match="Call-Direction"):
        read_ringing({"Event-Name": "CHANNEL_PROGRESS"}, "freeswitch")
    with pytest.raises(RingingEventError, match="expected text"):
        read_ringing(FS_PROGRESS | {"Caller-Caller-ID-Number": {"x": 1}}, "freeswitch")


def test_native_events_pass_in_any_format_and_bodies_are_checked():
    native = {"from_number": "0205550101", "extensions": ["201"]}
    for fmt in ("native", "yeastar", "3cx", "freeswitch"):
        assert read_ringing(native, fmt) == (native, None)
    with pytest.raises(RingingEventError, match="unknown format"):
        read_ringing(native, "avaya")
    with pytest.raises(RingingEventError, match="JSON object"):
        read_ringing([YEASTAR_RING], "yeastar")
