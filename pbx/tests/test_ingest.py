from datetime import datetime, timedelta, timezone

import pytest

from pbx.ingest import InvalidCall, clean_call, client_number_of, parse_start

BASE = {
    "external_id": "abc-1",
    "direction": "incoming",
    "status": "answered",
    "from_number": "+31207940100",
    "to_number": "201",
    "extension": "201",
    "start": "2026-11-27T09:15:00+01:00",
    "ring_seconds": 7,
    "talk_seconds": 125,
}


def item(**changes):
    data = dict(BASE)
    data.update(changes)
    return data


def test_clean_call_types_and_utc():
    clean = clean_call(item())
    assert clean["start"] == datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)
    assert clean["end"] - clean["start"] == timedelta(seconds=132)
    assert clean["ring_seconds"] == 7 and clean["talk_seconds"] == 125
    assert client_number_of(clean) == "+31207940100"


def test_zulu_and_datetime_start():
    assert parse_start("2026-11-27T08:15:00Z").hour == 8
    aware = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert parse_start(aware).hour == 10


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"start": None}, "start is missing"),
        ({"start": "yesterday"}, "not an ISO 8601"),
        ({"start": "2026-11-27T09:15:00"}, "no timezone"),
        ({"ring_seconds": -1}, "must not be negative"),
        ({"talk_seconds": "-5"}, "must not be negative"),
        ({"talk_seconds": "long"}, "number of seconds"),
        ({"talk_seconds": 90000}, "longer than a day"),
        ({"status": "ringing"}, "status 'ringing' is not one of"),
        ({"direction": "sideways"}, "direction 'sideways' is not one of"),
        ({"end": "2026-11-27T09:00:00+01:00"}, "is before start"),
        ({"external_id": "", "call_id": None}, "call_id is missing"),
        ({"status": "missed"}, "cannot have 125 talk seconds"),
        ({"from_number": ["x"]}, "must be text"),
        ({"forwarded": "perhaps"}, "not a yes/no value"),
        ({"recording": "a\x00b"}, "control character"),
    ],
)
def test_bad_items_are_rejected_with_reason(changes, reason):
    with pytest.raises(InvalidCall, match=reason):
        clean_call(item(**changes))


def test_not_a_dict():
    with pytest.raises(InvalidCall, match="must be an object"):
        clean_call(["x"])


def test_unknown_status_may_carry_talk_time():
    assert clean_call(item(status="unknown"))["status"] == "unknown"


def test_forwarded_derived_from_first_extension():
    assert clean_call(item(first_extension="202"))["forwarded"] is True
    assert clean_call(item(first_extension="201"))["forwarded"] is False


def test_outgoing_client_is_callee_and_internal_has_none():
    assert client_number_of(clean_call(item(direction="outgoing"))) == "201"
    assert client_number_of(clean_call(item(direction="internal"))) == ""


def test_end_later_than_durations_is_kept():
    clean = clean_call(item(end="2026-11-27T09:30:00+01:00"))
    assert clean["end"].minute == 30


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"external_id": True}, "external_id must be text, not bool"),
        ({"external_id": 1.5}, "external_id must be text, not float"),
        ({"from_number": "\ud800"}, "from_number is not valid Unicode text"),
        ({"recording": "a\udfffb.wav"}, "recording is not valid Unicode text"),
        ({"start": "1999-12-31T23:59:59Z"}, "not a plausible call time"),
        ({"start": "0001-01-01T00:00:00+05:00"}, "out of range"),
        ({"start": "9999-12-31T23:59:59-05:00"}, "out of range"),
        ({"start": "2100-01-01T00:00:00Z"}, "not a plausible call time"),
        ({"talk_seconds": 10**400}, "must be a number of seconds"),
        ({"ring_seconds": float("inf")}, "longer than a day"),
        ({"end": "9999-12-31T23:59:59Z"}, "end 9999-12-31T23:59:59.00:00 is not a plausible"),
        ({"external_id": 10**5000}, "external_id is longer than 255"),
        ({"source": "pbx\x00"}, "source contains a control character"),
        ({"source": {"name": "pbx"}}, "source must be text, not dict"),
    ],
)
def test_input_postgresql_cannot_store_or_no_pbx_means_is_rejected(changes, reason):
    with pytest.raises(InvalidCall, match=reason):
        clean_call(item(**changes))


def test_unknown_key_is_rejected_by_name():
    # A misspelt duration must not store an answered call with no talk time.
    with pytest.raises(InvalidCall) as caught:
        clean_call(item(talk_secs=95, talk_seconds=None))
    reason = str(caught.value)
    assert reason.startswith("unknown key 'talk_secs' (known keys: call_id, direction,")
    assert "talk_seconds" in reason


def test_several_unknown_keys_are_named_shortened():
    with pytest.raises(InvalidCall) as caught:
        clean_call(item(**{"zz": 1, "a" * 100: 2, "\ud800": 3}))
    reason = str(caught.value)
    assert reason.startswith("unknown keys '\\ud800', 'aaaa")
    assert "a" * 41 not in reason and "'zz'" in reason
    reason.encode("utf-8")  # answered as JSON: no lone surrogate in it


def test_every_source_sends_only_known_keys():
    from pbx import demo
    from pbx.ingest import KNOWN_KEYS

    now = datetime.now(timezone.utc)
    calls = demo.demo_calls(now, ["+31205550101"], ["+31201234567"], ["101", "102"])
    calls += demo.recorded_calls(now, ["+31205550101"] * 4)
    for call in calls:
        assert set(call) <= KNOWN_KEYS, set(call) - KNOWN_KEYS
        clean_call(call)


def test_integer_call_ids_are_text_and_tomorrow_is_still_plausible():
    soon = (datetime.now(timezone.utc) + timedelta(hours=20)).isoformat()
    clean = clean_call(item(external_id=1732701234, start=soon))
    assert clean["external_id"] == "1732701234"


def test_fingerprint_is_stable_and_changes_with_any_delivered_value():
    from pbx.ingest import clean_call, fingerprint

    item = {
        "external_id": "1795770000.1",
        "direction": "incoming",
        "status": "answered",
        "from_number": "+82 10-1234-5678",
        "to_number": "02-555-0101",
        "extension": "201",
        "start": "2026-11-20T09:00:00+09:00",
        "ring_seconds": 4,
        "talk_seconds": 61,
        "recording": "in-1.wav",
    }
    clean = clean_call(item)
    assert fingerprint(clean, "pbx-1") == fingerprint(clean_call(dict(item)), "pbx-1")
    assert fingerprint(clean, "pbx-1") != fingerprint(clean, "pbx-2")
    changed = {
        "talk_seconds": 62,
        "status": "missed",
        "recording": "in-2.wav",
        "from_number": "+82 10-1234-5679",
        "start": "2026-11-20T09:00:01+09:00",
        "extension": "202",
    }
    seen = {fingerprint(clean, "pbx-1")}
    for key, value in changed.items():
        other = dict(item, **{key: value})
        if key == "status":
            other["talk_seconds"] = 0
        seen.add(fingerprint(clean_call(other), "pbx-1"))
    assert len(seen) == len(changed) + 1
