import json

import pytest

from pbx.ingest import clean_call
from pbx.webhooks import MappingError, batch_items, map_item

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
