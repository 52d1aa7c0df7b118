import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from pbx.listener.spool import DELIVERED, FAILED, PENDING, REJECTED, Spool
from pbx.testing.captures import REPO_ROOT


def call(external_id, **fields):
    return {"external_id": external_id, "status": "answered", **fields}


@pytest.fixture
def spool(tmp_path):
    with Spool(tmp_path / "spool" / "calls.sqlite") as spool:
        yield spool


def test_uses_wal_journal(spool):
    db = sqlite3.connect(spool.path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_put_then_pending_in_spool_order(spool):
    assert spool.put([call("a"), call("b")]) == 2
    spool.put([call("c")])
    items = spool.pending(limit=10)
    assert [item.external_id for item in items] == ["a", "b", "c"]
    assert items[0].call == call("a")
    assert [item.external_id for item in spool.pending(limit=2)] == ["a", "b"]
    assert spool.counts() == {PENDING: 3, DELIVERED: 0, REJECTED: 0, FAILED: 0}


def test_put_again_replaces_the_pending_call(spool):
    spool.put([call("a", status="unknown"), call("b")])
    spool.put([call("a", status="missed")])
    items = spool.pending()
    assert [(item.external_id, item.call["status"], item.version) for item in items] == [
        ("a", "missed", 2),
        ("b", "answered", 1),
    ]


def test_a_delivered_call_emitted_again_is_sent_again(spool):
    spool.put([call("a")])
    spool.mark_delivered(spool.pending())
    assert spool.pending() == []
    spool.put([call("a", talk_seconds=9)])
    (item,) = spool.pending()
    assert item.call["talk_seconds"] == 9
    assert spool.counts()[PENDING] == 1


def test_mark_delivered_keeps_odoo_answer(spool):
    spool.put([call("a"), call("b")])
    items = spool.pending()
    results = [{"result": "created", "call_id": 7}, {"result": "updated", "call_id": "8"}]
    assert spool.mark_delivered(items, results) == 2
    rows = spool.rows(DELIVERED)
    assert [(row["external_id"], row["result"], row["odoo_id"]) for row in rows] == [
        ("a", "created", 7),
        ("b", "updated", 8),
    ]


def test_mark_delivered_does_not_cover_a_newer_version(spool):
    """A call replaced while its older version was being sent stays pending."""
    spool.put([call("a", status="unknown")])
    sent = spool.pending()
    spool.put([call("a", status="answered")])
    assert spool.mark_delivered(sent) == 0
    (item,) = spool.pending()
    assert item.call["status"] == "answered"


def test_rejected_and_failed_are_final_with_their_reason(spool):
    spool.put([call("a"), call("b"), call("c")])
    a, b, _ = spool.pending()
    spool.mark_rejected(a, "start is missing")
    spool.mark_failed(b.id, "HTTP 400: bad batch")
    assert [item.external_id for item in spool.pending()] == ["c"]
    assert [(row["external_id"], row["reason"]) for row in spool.rows(REJECTED)] == [
        ("a", "start is missing")
    ]
    assert [(row["external_id"], row["reason"]) for row in spool.rows(FAILED)] == [
        ("b", "HTTP 400: bad batch")
    ]


def test_defer_holds_items_back_until_due(tmp_path):
    now = [1000.0]
    with Spool(tmp_path / "s.sqlite", clock=lambda: now[0]) as spool:
        spool.put([call("a"), call("b")])
        a, _ = spool.pending()
        assert spool.defer([a], until=1010.0, reason="HTTP 503") == 1
        assert [item.external_id for item in spool.pending()] == ["b"]
        assert spool.next_due() == 0
        spool.mark_delivered(spool.pending())
        assert spool.next_due() == 1010.0
        now[0] = 1010.0
        (item,) = spool.pending()
        assert (item.external_id, item.attempts) == ("a", 1)
        assert spool.rows(PENDING)[0]["reason"] == "HTTP 503"


def test_purge_deletes_old_delivered_rows_only(tmp_path):
    now = [1000.0]
    with Spool(tmp_path / "s.sqlite", clock=lambda: now[0]) as spool:
        spool.put([call("old"), call("pending")])
        spool.mark_delivered([spool.pending()[0]])
        now[0] = 5000.0
        spool.put([call("new")])
        spool.mark_delivered([item for item in spool.pending() if item.external_id == "new"])
        assert spool.purge(older_than=2000.0) == 1
        assert [row["external_id"] for row in spool.rows()] == ["pending", "new"]


def test_reopened_spool_keeps_everything(tmp_path):
    path = tmp_path / "s.sqlite"
    with Spool(path) as spool:
        spool.put([call("a"), call("b")])
        spool.mark_rejected(spool.pending()[0], "no")
    with Spool(path) as spool:
        assert [item.external_id for item in spool.pending()] == ["b"]
        assert spool.counts()[REJECTED] == 1


WRITER = textwrap.dedent(
    """
    import sys
    from pbx.listener.spool import Spool

    spool = Spool(sys.argv[1])
    batch = 0
    while True:
        spool.put([{"external_id": f"call-{batch}-{n}", "n": n} for n in range(5)])
        # Printed only once put() has committed.
        print(batch, flush=True)
        batch += 1
    """
)


def test_calls_committed_before_kill_9_survive(tmp_path):
    path = tmp_path / "spool.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        committed = -1
        while committed < 40:
            line = writer.stdout.readline()
            assert line, "the writer died"
            committed = int(line)
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with Spool(path) as spool:
        ids = {item.external_id for item in spool.pending(limit=10**6)}
    expected = {f"call-{batch}-{n}" for batch in range(committed + 1) for n in range(5)}
    assert expected <= ids
    # Anything beyond is whole batches that committed after the last print.
    assert len(ids) % 5 == 0
