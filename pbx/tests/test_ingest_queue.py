"""Issue 23: the queue keys of the call contract (pbx/ingest.py).

A delivery says something about queues only with the ``queue`` key; then
the four queue fields come back from clean_call, checked. Without it the
clean dict is what it was before queues existed, digest included, so a
stored call's redelivery is still recognised.
"""

import pytest

from pbx import vendors
from pbx.ingest import KNOWN_KEYS, QUEUE_KEYS, InvalidCall, clean_call, fingerprint

BASE = {
    "external_id": "1767258000.1",
    "direction": "incoming",
    "status": "answered",
    "from_number": "+31612345678",
    "to_number": "0201234567",
    "extension": "202",
    "start": "2026-01-01T09:00:00+00:00",
    "ring_seconds": 10,
    "talk_seconds": 60,
}
QUEUED = {
    "queue": "support",
    "queue_wait_seconds": 11,
    "queue_result": "answered",
    "queue_position": 2,
}


def item(**changes):
    return {**BASE, **changes}


def test_every_queue_key_is_known():
    assert {*QUEUE_KEYS, "queue_only"} <= KNOWN_KEYS


def test_queue_fields_come_back_typed_only_with_the_queue_key():
    clean = clean_call(item(**QUEUED))
    assert {key: clean[key] for key in QUEUE_KEYS} == QUEUED
    assert clean["queue_only"] is False
    plain = clean_call(item())
    assert not set(QUEUE_KEYS) & set(plain)
    assert plain["queue_only"] is False


def test_text_numbers_and_case_are_read():
    clean = clean_call(
        item(queue=" sales ", queue_wait_seconds="7.4", queue_result="Timeout", queue_position="3")
    )
    assert (clean["queue"], clean["queue_wait_seconds"]) == ("sales", 7)
    assert (clean["queue_result"], clean["queue_position"]) == ("timeout", 3)


def test_an_empty_queue_says_the_call_never_queued():
    clean = clean_call(item(queue="", queue_wait_seconds=0, queue_result="", queue_position=None))
    assert {key: clean[key] for key in QUEUE_KEYS} == {
        "queue": "",
        "queue_wait_seconds": 0,
        "queue_result": "",
        "queue_position": 0,
    }


def test_queue_only_is_a_flag():
    clean = clean_call(item(**QUEUED, queue_only="yes"))
    assert clean["queue_only"] is True
    assert clean_call(item(**QUEUED, queue_only=0))["queue_only"] is False


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"queue_result": None}, r"queue_result is missing \(one of: answered, abandoned,"),
        ({"queue_result": ""}, "queue_result is missing"),
        ({"queue_result": "lost"}, "queue_result 'lost' is not one of"),
        ({"queue": "", "queue_result": "answered"}, "queue_result 'answered' is given but queue"),
        ({"queue": "", "queue_wait_seconds": 5, "queue_result": ""}, "need a queue"),
        ({"queue_wait_seconds": -1}, "queue_wait_seconds must not be negative"),
        ({"queue_wait_seconds": "long"}, "queue_wait_seconds must be a number of seconds"),
        ({"queue_wait_seconds": 90000}, "queue_wait_seconds of 90000 seconds is longer"),
        ({"queue_position": -1}, "queue_position is not a position from 0 to 100000"),
        ({"queue_position": "1.5"}, "queue_position '1.5' is not a whole number"),
        ({"queue_position": 1.0}, "queue_position must be a whole number, not 1.0"),
        ({"queue_position": True}, "queue_position must be a whole number, not True"),
        ({"queue_position": "9" * 5000}, "queue_position is not a position"),
        ({"queue_position": 10**5000}, "queue_position is not a position"),
        ({"queue": "sup\x00port"}, "queue contains a control character"),
        ({"queue": ["support"]}, "queue must be text, not list"),
        ({"queue": "q" * 256}, "queue is longer than 255"),
        ({"queue_only": "maybe"}, "queue_only 'maybe' is not a yes/no value"),
    ],
)
def test_bad_queue_values_say_why(changes, reason):
    with pytest.raises(InvalidCall, match=reason):
        clean_call(item(**{**QUEUED, **changes}))


@pytest.mark.parametrize("key", ["queue_wait_seconds", "queue_result", "queue_position"])
def test_a_queue_value_without_the_queue_is_refused(key):
    with pytest.raises(InvalidCall, match=f"{key} is given without queue"):
        clean_call(item(**{key: QUEUED[key]}))


def test_queue_only_needs_the_queue():
    with pytest.raises(InvalidCall, match="queue_only is set but queue"):
        clean_call(item(queue_only=True))


def test_a_delivery_without_queue_keys_keeps_its_digest():
    # The digest of this item as stored before queues existed: recomputed by
    # hand from the pre-queue clean dict (no queue_only key).
    clean = clean_call(item())
    before = {key: value for key, value in clean.items() if key != "queue_only"}
    assert fingerprint(clean, "pbx-1") == fingerprint(before, "pbx-1")


def test_the_digest_changes_with_every_queue_value():
    seen = {fingerprint(clean_call(item()), "pbx-1")}
    seen.add(fingerprint(clean_call(item(**QUEUED)), "pbx-1"))
    for key, value in [
        ("queue", "sales"),
        ("queue_wait_seconds", 12),
        ("queue_result", "abandoned"),
        ("queue_position", 3),
        ("queue_only", True),
    ]:
        seen.add(fingerprint(clean_call(item(**{**QUEUED, key: value})), "pbx-1"))
    assert len(seen) == 7
    # Unchanged, it is the same digest: a redelivery is still recognised.
    assert fingerprint(clean_call(item(**QUEUED)), "pbx-1") in seen


def test_the_native_webhook_takes_the_queue_keys():
    body = {"calls": [item(**QUEUED), item(external_id="2", queue_only=True, **QUEUED)]}
    items = [vendors.map_item(one, "native") for one in vendors.batch_items(body, "native")]
    cleaned = [clean_call(one) for one in items]
    assert [clean["queue"] for clean in cleaned] == ["support", "support"]
    assert [clean["queue_only"] for clean in cleaned] == [False, True]


def test_the_native_webhook_refuses_a_bad_queue_value_by_name():
    (posted,) = vendors.batch_items([item(queue="support", queue_result="gone")], "native")
    with pytest.raises(InvalidCall, match="queue_result 'gone' is not one of"):
        clean_call(vendors.map_item(posted, "native"))
