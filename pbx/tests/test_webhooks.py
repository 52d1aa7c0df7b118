import json

import pytest

from pbx.ingest import clean_call
from pbx.vendors import batch_items, map_item
from pbx.webhooks import MappingError

YEASTAR = {
    "type": 30012,
    "sn": "3631A2124XXX",
    "msg": json.dumps(
        {
            "call_id": "1651057476.362",
            "time_start": "2022-04-27 19:04:36",
            "call_from": "+31612345678",
            "call_to": "2002",
            "call_duration": 24,
            "talk_duration": 21,
            "src_trunk_name": "KPN",
            "dst_trunk_name": " ",
            "status": "ANSWERED",
            "type": "Inbound",
            "recording": "20220427190445-1651057476.362-2005-2002-Inbound.wav",
            "did_number": "+31207940100",
            "agent_ring_time": 0,
            "uid": "1651057476.362-uid",
        }
    ),
}


def test_yeastar_new_cdr():
    call = map_item(YEASTAR, "yeastar", tz="Europe/Amsterdam")
    assert call["external_id"] == "1651057476.362-uid"
    assert (call["direction"], call["status"]) == ("incoming", "answered")
    assert call["from_number"] == "+31612345678"
    assert call["to_number"] == "+31207940100"
    assert call["extension"] == "2002"
    # 19:04:36 in Amsterdam summer time is 17:04:36 UTC.
    assert call["start"] == "2022-04-27T17:04:36+00:00"
    assert (call["ring_seconds"], call["talk_seconds"]) == (3, 21)
    assert clean_call(call)["status"] == "answered"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("NO ANSWER", "missed"), ("VOICEMAIL", "missed"), ("BUSY", "busy"), ("FAILED", "failed")],
)
def test_yeastar_statuses_have_no_talk_time(status, expected):
    msg = json.loads(YEASTAR["msg"]) | {
        "status": status,
        "type": "Outbound",
        "call_from": "2005",
        "call_to": "0612345678",
    }
    call = map_item({"type": 30012, "msg": msg}, "yeastar")
    assert call["status"] == expected
    assert call["talk_seconds"] == 0
    assert (call["direction"], call["extension"]) == ("outgoing", "2005")


def test_yeastar_other_event_is_refused():
    with pytest.raises(MappingError, match="not 30012"):
        map_item({"type": 30011, "msg": {}}, "yeastar")
    with pytest.raises(MappingError, match="not valid JSON"):
        map_item({"type": 30012, "msg": "{oops"}, "yeastar")


THREECX = {
    "CallType": "Inbound",
    "CallDirection": "Inbound",
    "Number": "+31612345678",
    "Agent": "201",
    "Duration": "00:02:05",
    "CallStartTimeUTC": "11/27/2026 09:15:00",
    "CallEndTimeUTC": "11/27/2026 09:17:20",
}


def test_3cx_journal():
    call = map_item(THREECX, "3cx")
    assert (call["direction"], call["status"]) == ("incoming", "answered")
    assert (call["from_number"], call["to_number"], call["extension"]) == (
        "+31612345678",
        "201",
        "201",
    )
    assert call["start"] == "2026-11-27T09:15:00+00:00"
    assert call["talk_seconds"] == 125
    assert call["external_id"].startswith("3cx-")
    assert map_item(dict(THREECX), "3cx")["external_id"] == call["external_id"], "stable id"
    assert clean_call(call)["end"].minute == 17


def test_3cx_missed_and_not_answered():
    missed = map_item(THREECX | {"CallType": "Missed", "Duration": "00:00:00"}, "3cx")
    assert (missed["direction"], missed["status"], missed["talk_seconds"]) == (
        "incoming",
        "missed",
        0,
    )
    unanswered = map_item(THREECX | {"CallType": "Notanswered"}, "3cx")
    assert (unanswered["direction"], unanswered["status"]) == ("outgoing", "missed")
    assert unanswered["to_number"] == "+31612345678"
    with pytest.raises(MappingError, match="CallType"):
        map_item(THREECX | {"CallType": "Voicemail"}, "3cx")
    with pytest.raises(MappingError, match="h:mm:ss"):
        map_item(THREECX | {"Duration": "two minutes"}, "3cx")


FS = {
    "Event-Name": "CHANNEL_HANGUP_COMPLETE",
    "Unique-ID": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
    "Channel-Name": "sofia/gateway/provider/0612345678",
    "Caller-Caller-ID-Number": "+31612345678",
    "Caller-Destination-Number": "1001",
    "Hangup-Cause": "NORMAL_CLEARING",
    "variable_start_epoch": "1795770000",
    "variable_answer_epoch": "1795770008",
    "variable_billsec": "62",
    "variable_duration": "70",
    "variable_record_file": "/recordings/a5c9.wav",
}


def test_freeswitch_answered_incoming():
    call = map_item(FS, "freeswitch", trunks=[r"^sofia/gateway/"])
    assert (call["direction"], call["status"]) == ("incoming", "answered")
    assert call["extension"] == "1001"
    assert (call["ring_seconds"], call["talk_seconds"]) == (8, 62)
    assert call["start"].startswith("2026-11-27T")
    assert call["recording"] == "/recordings/a5c9.wav"


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        ("NO_ANSWER", "missed"),
        ("ORIGINATOR_CANCEL", "missed"),
        ("USER_BUSY", "busy"),
        ("CALL_REJECTED", "busy"),
        ("UNALLOCATED_NUMBER", "failed"),
    ],
)
def test_freeswitch_unanswered_causes(cause, status):
    event = FS | {"Hangup-Cause": cause, "variable_answer_epoch": "0", "variable_billsec": "0"}
    call = map_item(event, "freeswitch", trunks=[r"^sofia/gateway/"])
    assert call["status"] == status
    assert call["talk_seconds"] == 0


def test_freeswitch_outgoing_and_internal():
    out = FS | {
        "Channel-Name": "sofia/internal/1001@pbx",
        "Caller-Caller-ID-Number": "1001",
        "Caller-Destination-Number": "0612345678",
    }
    assert map_item(out, "freeswitch")["direction"] == "outgoing"
    internal = out | {"Caller-Destination-Number": "1002"}
    assert map_item(internal, "freeswitch")["direction"] == "internal"
    with pytest.raises(MappingError, match="start_epoch"):
        map_item(FS | {"variable_start_epoch": ""}, "freeswitch")


def test_batch_shapes():
    assert batch_items({"calls": [1, 2]}) == [1, 2]
    assert batch_items([1]) == [1]
    assert batch_items({"type": 30012}, "yeastar") == [{"type": 30012}]
    with pytest.raises(MappingError, match="unknown format"):
        batch_items([], "avaya")
    with pytest.raises(MappingError, match="JSON object"):
        batch_items("text")


# Yeastar S-Series and Cloud PBX post NewCdr reports; these are the documented
# examples (Cloud PBX API v2 "event", S-Series API v1 "action").
NEW_CDR_INTERNAL = {
    "event": "NewCdr",
    "callid": "1571897930.5",
    "timestart": "2019-10-23 22:18:50",
    "callfrom": "1023",
    "callto": "2023",
    "callduraction": "19",
    "talkduraction": "14",
    "srctrunkname": "",
    "dsttrcunkname": "",
    "pincode": "",
    "status": "ANSWERED",
    "type": "Internal",
    "recording": "20191024201242-1571897930.5-203-201-Internal.wav",
    "didnumber": "",
    "agentringtime": "0",
    "sn": "369451090405",
}
NEW_CDR_OUTBOUND = {
    "action": "NewCdr",
    "callid": "1547392142.330",
    "timestart": "2019-01-13 23:09:02",
    "callfrom": "1005",
    "callto": "9283737733",
    "desttrunkname": "SPS-6-36",
    "callduraction": "6",
    "talkduraction": "3",
    "status": "ANSWERED",
    "type": "Outbound",
    "recording": "20180315201242-1521173562.46-203-201-Internal.yswav",
    "sn": "369362089179",
}
# callto and didnumber are documented as integers.
NEW_CDR_INBOUND = NEW_CDR_INTERNAL | {
    "callid": "1589959139.2135",
    "timestart": "2020-05-20 10:18:59",
    "callfrom": "0612345678",
    "callto": 2002,
    "callduraction": "10",
    "talkduraction": "4",
    "srctrunkname": "KPN",
    "type": "Inbound",
    "recording": "",
    "didnumber": 207940100,
    "agentringtime": "3",
}


def test_yeastar_new_cdr_internal_every_field():
    call = map_item(NEW_CDR_INTERNAL, "yeastar", tz="Europe/Amsterdam")
    assert call == {
        "external_id": "1571897930.5",
        "direction": "internal",
        "status": "answered",
        "from_number": "1023",
        "to_number": "2023",
        "extension": "1023",
        # 22:18:50 in Amsterdam summer time is 20:18:50 UTC.
        "start": "2019-10-23T20:18:50+00:00",
        "ring_seconds": 5,
        "talk_seconds": 14,
        "recording": "20191024201242-1571897930.5-203-201-Internal.wav",
        "hangup_cause": "",
    }
    assert clean_call(call)["end"].isoformat() == "2019-10-23T20:19:09+00:00"


def test_yeastar_new_cdr_outbound_from_the_calling_extension():
    call = map_item(NEW_CDR_OUTBOUND, "yeastar", tz="Asia/Shanghai")
    assert (call["direction"], call["extension"]) == ("outgoing", "1005")
    assert (call["from_number"], call["to_number"]) == ("1005", "9283737733")
    assert call["start"] == "2019-01-13T15:09:02+00:00"
    assert (call["ring_seconds"], call["talk_seconds"]) == (3, 3)
    assert call["recording"].endswith("-Internal.yswav")
    assert clean_call(call)["external_id"] == "1547392142.330"


def test_yeastar_new_cdr_inbound_to_an_extension_with_its_did():
    call = map_item(NEW_CDR_INBOUND, "yeastar", tz="Europe/Amsterdam")
    assert (call["direction"], call["status"]) == ("incoming", "answered")
    assert (call["from_number"], call["to_number"], call["extension"]) == (
        "0612345678",
        "207940100",
        "2002",
    )
    assert call["start"] == "2020-05-20T08:18:59+00:00"
    assert (call["ring_seconds"], call["talk_seconds"]) == (6, 4)
    # Inbound to a number that is no extension (a queue's outside number): nobody's.
    outside = map_item(NEW_CDR_INBOUND | {"callto": "+31207940199"}, "yeastar")
    assert outside["extension"] == ""
    assert map_item(NEW_CDR_INBOUND | {"didnumber": ""}, "yeastar")["to_number"] == "2002"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("NO ANSWER", "missed"),
        ("NO ANSWERED", "missed"),
        ("VOICEMAIL", "missed"),
        ("BUSY", "busy"),
        ("FAILED", "failed"),
        ("SOMETHING NEW", "unknown"),
    ],
)
def test_yeastar_new_cdr_statuses_keep_no_talk_time(status, expected):
    call = map_item(NEW_CDR_INBOUND | {"status": status}, "yeastar")
    assert call["status"] == expected
    assert call["talk_seconds"] == 0
    assert call["ring_seconds"] == 10
    clean_call(call)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"callid": ""}, "no callid"),
        ({"type": "Transfer"}, "not Inbound/Outbound/Internal"),
        ({"callduraction": "long"}, "callduraction 'long' is not a number"),
        ({"talkduraction": [1]}, "talkduraction"),
        ({"timestart": "yesterday"}, "cannot read the time"),
        ({"timestart": ""}, "start time is missing"),
    ],
)
def test_yeastar_new_cdr_bad_items_say_why(change, reason):
    with pytest.raises(MappingError, match=reason):
        map_item(NEW_CDR_INBOUND | change, "yeastar")


def test_yeastar_batch_mixes_p_series_and_new_cdr():
    items = batch_items([YEASTAR, NEW_CDR_OUTBOUND], "yeastar")
    calls = [map_item(item, "yeastar", tz="UTC") for item in items]
    assert [c["external_id"] for c in calls] == ["1651057476.362-uid", "1547392142.330"]
    with pytest.raises(MappingError, match="nor a NewCdr"):
        map_item({"event": "CallStatus"}, "yeastar")
