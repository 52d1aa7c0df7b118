import json
import logging
import threading
import time

import pytest

from pbx.listener.delivery import Deliverer, Webhook
from pbx.listener.spool import DELIVERED, FAILED, PENDING, REJECTED, Spool
from pbx.testing.fake_odoo import PBX_ID, TOKEN


@pytest.fixture
def spool(tmp_path):
    with Spool(tmp_path / "spool.sqlite") as spool:
        yield spool


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def calls(count, prefix="call"):
    return [{"external_id": f"{prefix}-{n}", "status": "answered"} for n in range(count)]


def deliverer(spool, odoo, clock=None, **options):
    webhook = Webhook(odoo.url, PBX_ID, TOKEN, timeout=options.pop("timeout", 2.0))
    return Deliverer(spool, webhook, clock=clock or time.time, **options)


def test_posts_json_batches_with_bearer_token_to_the_pbx_url(spool, odoo):
    spool.put(calls(5))
    sender = deliverer(spool, odoo, batch_size=2)
    assert sender.deliver_all() == 5
    assert odoo.requests == [(200, 2), (200, 2), (200, 1)]
    assert odoo.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert odoo.headers[0]["Content-Type"] == "application/json"
    assert odoo.paths[0] == f"/phone_call_accounting/pbx/{PBX_ID}/calls?format=native"
    assert odoo.store == {call["external_id"]: call for call in calls(5)}
    assert spool.counts()[DELIVERED] == 5
    assert [row["result"] for row in spool.rows()] == ["created"] * 5
    assert sender.deliver_once() == 0


def test_rejected_items_are_final_and_keep_the_reason(spool, odoo, caplog):
    spool.put(calls(3))
    odoo.reject = {"call-1"}
    sender = deliverer(spool, odoo)
    with caplog.at_level(logging.WARNING, logger="pbx.listener.delivery"):
        assert sender.deliver_all() == 3
    (row,) = spool.rows(REJECTED)
    assert (row["external_id"], row["reason"]) == ("call-1", "status 'bogus' is unknown")
    assert spool.counts()[DELIVERED] == 2
    assert "call-1" in caplog.text
    assert sender.deliver_once() == 0  # never resent
    assert len(odoo.requests) == 1


def test_server_errors_keep_items_and_back_off_exponentially(spool, odoo):
    spool.put(calls(3))
    odoo.status = 503
    clock = Clock()
    sender = deliverer(spool, odoo, clock=clock, backoff_min=1.0, backoff_max=60.0)
    delays = []
    for _ in range(9):
        assert sender.deliver_once() is None
        delays.append(sender.retry_at - clock.now)
        assert sender.deliver_once() is None  # waiting: no request
        clock.now = sender.retry_at
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert len(odoo.requests) == 9
    assert spool.counts()[PENDING] == 3
    assert spool.rows()[0]["attempts"] == 9
    assert "503" in spool.rows()[0]["reason"]
    odoo.status = None
    assert sender.deliver_once() == 3
    assert (sender.failures, sender.backoff()) == (0, 0)
    assert spool.counts()[DELIVERED] == 3


def test_forced_attempt_ignores_the_backoff(spool, odoo):
    spool.put(calls(3))
    odoo.status = 500
    clock = Clock()
    sender = deliverer(spool, odoo, clock=clock, backoff_min=30)
    assert sender.deliver_once() is None
    odoo.status = None
    assert sender.deliver_all() is None  # waiting for the backoff
    assert sender.deliver_all(force=True) == 3
    assert spool.counts()[DELIVERED] == 3


def test_wrong_token_keeps_items_and_logs_an_error(spool, odoo, caplog):
    spool.put(calls(2))
    clock = Clock()
    sender = Deliverer(
        spool, Webhook(odoo.url, PBX_ID, "wrong", timeout=2), clock=clock, backoff_min=1
    )
    with caplog.at_level(logging.ERROR, logger="pbx.listener.delivery"):
        assert sender.deliver_once() is None
    assert odoo.requests == [(401, 0)]
    assert "odoo.token" in caplog.text
    assert spool.counts()[PENDING] == 2
    clock.now = sender.retry_at
    sender.webhook.token = TOKEN  # configuration fixed
    assert sender.deliver_once() == 2


def test_unknown_pbx_is_a_configuration_error_too(spool, odoo, caplog):
    spool.put(calls(1))
    sender = Deliverer(spool, Webhook(odoo.url, 99, TOKEN, timeout=2))
    with caplog.at_level(logging.ERROR, logger="pbx.listener.delivery"):
        assert sender.deliver_once() is None
    assert "odoo.pbx_id" in caplog.text
    assert spool.counts()[PENDING] == 1


def test_bad_batch_is_split_until_the_bad_call_is_alone(spool, odoo):
    spool.put(calls(8))
    odoo.bad = {"call-5"}
    sender = deliverer(spool, odoo)
    assert sender.deliver_all() == 8
    (row,) = spool.rows(FAILED)
    assert row["external_id"] == "call-5"
    assert row["reason"] == "HTTP 400: malformed call call-5"
    assert spool.counts()[DELIVERED] == 7
    assert set(odoo.store) == {f"call-{n}" for n in range(8)} - {"call-5"}
    # 8 -> 4 + 4 -> (2 + 2) -> (1 + 1): a logarithmic number of requests.
    assert [status for status, _ in odoo.requests].count(400) == 4
    assert len(odoo.requests) == 7
    assert sender.batch_size == 200  # a 400 is about content, not size


def test_too_large_batch_is_split_and_later_batches_are_smaller(spool, odoo):
    spool.put(calls(10))
    odoo.max_batch = 3
    sender = deliverer(spool, odoo, batch_size=8)
    assert sender.deliver_all() == 10
    assert spool.counts() == {PENDING: 0, DELIVERED: 10, REJECTED: 0, FAILED: 0}
    assert sender.batch_size <= 3
    spool.put(calls(6, prefix="more"))
    before = len(odoo.requests)
    sender.deliver_all()
    assert all(status == 200 for status, _ in odoo.requests[before:])


def test_garbled_answer_is_retried(spool, odoo):
    spool.put(calls(2))
    clock = Clock()
    sender = deliverer(spool, odoo, clock=clock)
    real = sender.webhook.post
    sender.webhook.post = lambda batch: type(real(batch))(200, {"results": []}, "{}")
    assert sender.deliver_once() is None
    assert spool.counts()[PENDING] == 2
    sender.webhook.post = real
    clock.now = sender.retry_at
    assert sender.deliver_once() == 2
    assert sum(odoo.received.values()) == 4  # sent twice, stored once each
    assert len(odoo.store) == 2


def test_results_out_of_order_are_paired_by_external_id(spool, odoo):
    spool.put(calls(3))
    sender = deliverer(spool, odoo)
    real = sender.webhook.post

    def reversed_answer(batch):
        reply = real(batch)
        data = {"results": list(reversed(reply.data["results"]))}
        return type(reply)(200, data, json.dumps(data))

    sender.webhook.post = reversed_answer
    odoo.reject = {"call-0"}
    assert sender.deliver_once() == 3
    assert [row["external_id"] for row in spool.rows(REJECTED)] == ["call-0"]


def test_timeout_after_odoo_committed_resends_without_duplicate(spool, odoo):
    spool.put(calls(4))
    odoo.slow = 1.0
    clock = Clock()
    sender = deliverer(spool, odoo, clock=clock, timeout=0.3)
    assert sender.deliver_once() is None
    assert spool.counts()[PENDING] == 4
    odoo.slow = 0
    clock.now = sender.retry_at
    assert sender.deliver_once() == 4
    assert all(count == 2 for count in odoo.received.values())
    assert len(odoo.store) == 4
    assert [row["result"] for row in spool.rows()] == ["updated"] * 4


def test_refused_connection_keeps_items(spool, odoo):
    spool.put(calls(2))
    odoo.down()
    sender = deliverer(spool, odoo)
    assert sender.deliver_once() is None
    assert "refused" in spool.rows()[0]["reason"].lower()
    assert spool.counts()[PENDING] == 2


def test_odoo_down_for_a_while_loses_nothing_and_duplicates_nothing(spool, odoo):
    """The delivery thread against an Odoo that is down, then back, twice."""
    sender = deliverer(spool, odoo, batch_size=7, backoff_min=0.02, backoff_max=0.1)
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop, wake, 0.2), daemon=True)
    thread.start()
    try:
        spool.put(calls(20, "a"))
        wake.set()
        deadline = time.monotonic() + 10
        while spool.counts()[DELIVERED] < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        odoo.down()
        spool.put(calls(30, "b"))
        wake.set()
        while sender.failures < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert spool.counts()[PENDING] == 30
        assert sender.failures >= 2
        odoo.up()
        odoo.status = 502  # the proxy is up before Odoo
        time.sleep(0.2)
        odoo.status = None
        spool.put(calls(10, "c"))
        wake.set()
        while spool.counts()[DELIVERED] < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(5)
    expected = {call["external_id"] for call in calls(20, "a") + calls(30, "b") + calls(10, "c")}
    assert spool.counts() == {PENDING: 0, DELIVERED: 60, REJECTED: 0, FAILED: 0}
    assert set(odoo.store) == expected
    assert set(odoo.received) == expected
    # Each call was stored once; nothing was posted twice after a success.
    assert max(odoo.received.values()) == 1
