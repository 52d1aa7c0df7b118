"""Issue 23: Asterisk's queue log (pbx/asterisk/queue_log.py), the file.

LOG below is a morning of queue "support" (and one call through "sales")
written line by line as app_queue writes them; every call's item and the
day's figures are worked out by hand beside it.
"""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from pbx.asterisk.queue_log import (
    MemberEvent,
    QueueLogPosition,
    calls_from_rows,
    parse_line,
    read_queue_log,
)
from pbx.ingest import clean_call
from pbx.testing.captures import REPO_ROOT

T0 = 1767258000  # 2026-01-01 09:00:00 UTC


def at(seconds):
    return datetime.fromtimestamp(T0 + seconds, UTC).isoformat()


LINES = [
    (-100, "NONE|NONE|NONE|QUEUESTART|"),
    (-50, "NONE|support|PJSIP/201|ADDMEMBER|"),
    (-40, "NONE|support|Local/202@from-queue/n|ADDMEMBER|PAUSED"),
    (-30, "MANAGER|support|Local/202@from-queue/n|UNPAUSE|"),
    # A: waits 25 s (201 rings 15 s unanswered), 202 answers, talks 60 s.
    (0, "A|NONE|NONE|DID|0201234567"),
    (0, "A|support|NONE|ENTERQUEUE||0612345678|1"),
    (1, "NONE|NONE|NONE|CONFIGRELOAD|"),
    (17, "A|support|PJSIP/201|RINGNOANSWER|15000"),
    # B: second in line, hangs up after 3 s: a short abandon.
    (10, "B|support|NONE|ENTERQUEUE||+31201112222|2"),
    (13, "B|support|NONE|ABANDON|1|2|3"),
    (25, "A|support|Local/202@from-queue/n|CONNECT|25|T0.9|3"),
    # C: 201 and 202 ring 15 s each, the 60 s timeout ends it.
    (20, "C|support|NONE|ENTERQUEUE||0611111111|1"),
    (35, "C|support|PJSIP/201|RINGNOANSWER|15000"),
    (50, "C|support|Local/202@from-queue/n|RINGNOANSWER|15000"),
    (80, "C|support|NONE|EXITWITHTIMEOUT|1|1|60"),
    (85, "A|support|Local/202@from-queue/n|COMPLETEAGENT|25|60|1"),
    # D: sales is empty after 4 s; third in support, 201 answers after 20 s.
    (100, "D|sales|NONE|ENTERQUEUE||0622222222|1"),
    (104, "D|sales|NONE|EXITEMPTY|1|1|4"),
    (105, "D|support|NONE|ENTERQUEUE||0622222222|3"),
    (125, "D|support|PJSIP/201|CONNECT|20|T0.10|6"),
    (200, "NONE|support|PJSIP/201|PAUSE|lunch"),
    (245, "D|support|PJSIP/201|COMPLETECALLER|20|120|3"),
    (260, "NONE|support|PJSIP/201|UNPAUSE|"),
    # E: an Asterisk before 18 (no position at entry); leaves with key 5.
    (300, "E|support|NONE|ENTERQUEUE||0633333333"),
    (300, "NONE|NONE|Local/202@from-queue/n|PAUSEALL|"),
    (312, "E|support|NONE|EXITWITHKEY|5|1|1|12"),
    # F: 201 answers after 2 s and blind-transfers the caller to 300.
    (400, "F|support|NONE|ENTERQUEUE||0644444444|1"),
    (402, "F|support|PJSIP/201|CONNECT|2|T0.12|2"),
    # H: second in line, gives up after a minute.
    (410, "H|support|NONE|ENTERQUEUE||0655555555|2"),
    (460, "F|support|PJSIP/201|BLINDTRANSFER|300|from-internal|2|58|1"),
    (470, "H|support|NONE|ABANDON|1|2|60"),
    # G: still waiting when the log ends.
    (500, "G|support|NONE|ENTERQUEUE||0666666666|1"),
]
# Written in time order, as Asterisk writes them (the list groups them by call).
LOG = "".join(
    f"{T0 + s}|{line.replace('T0', str(T0))}\n" for s, line in sorted(LINES, key=lambda x: x[0])
)


def call(callid, start, end, status, wait, result, position, **fields):
    item = {
        "external_id": callid,
        "direction": "incoming",
        "status": status,
        "from_number": "",
        "to_number": "",
        "extension": "",
        "start": at(start),
        "end": at(end),
        "ring_seconds": 0,
        "talk_seconds": 0,
        "queue": "support",
        "queue_wait_seconds": wait,
        "queue_result": result,
        "queue_position": position,
        "queue_only": True,
    }
    item.update(fields)
    return item


EXPECTED = [
    call(
        "A",
        0,
        85,
        "answered",
        25,
        "answered",
        1,
        from_number="0612345678",
        to_number="0201234567",
        extension="202",
        ring_seconds=3,  # CONNECT's ring time: 202's
        talk_seconds=60,
    ),
    call("B", 10, 13, "missed", 3, "abandoned", 2, from_number="+31201112222"),
    # Unanswered: the members' ring times (15 + 15); the first one rung has it.
    call("C", 20, 80, "missed", 60, "timeout", 1, from_number="0611111111", extension="201")
    | {"ring_seconds": 30},
    # The last queue, the wait of both visits (4 + 20).
    call(
        "D",
        100,
        245,
        "answered",
        24,
        "answered",
        3,
        from_number="0622222222",
        extension="201",
        ring_seconds=6,
        talk_seconds=120,
    ),
    call("E", 300, 312, "missed", 12, "other", 1, from_number="0633333333"),
    call(
        "F",
        400,
        460,
        "answered",
        2,
        "answered",
        1,
        from_number="0644444444",
        extension="201",
        ring_seconds=2,
        talk_seconds=58,
    ),
    call("H", 410, 470, "missed", 60, "abandoned", 2, from_number="0655555555"),
]


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "queue_log"
    path.write_text(LOG, encoding="utf-8")
    return path


def rows():
    return [parse_line(line) for line in LOG.splitlines()]


def test_every_call_of_the_log_worked_out_by_hand():
    worked = calls_from_rows(rows())
    assert sorted(worked.calls, key=lambda item: item["start"]) == EXPECTED
    # G has no end yet: not emitted, its lines wait.
    assert [row.callid for row in worked.pending] == ["G"]
    assert worked.dropped == []


def test_the_days_figures_worked_out_by_hand():
    items = calls_from_rows(rows()).calls
    T, short = 20, 5  # service level threshold and short abandon, the defaults

    def count(test):
        return sum(1 for item in items if test(item))

    offered = count(lambda i: True)
    answered = count(lambda i: i["queue_result"] == "answered")
    in_time = count(lambda i: i["queue_result"] == "answered" and i["queue_wait_seconds"] <= T)
    abandoned = count(lambda i: i["queue_result"] == "abandoned")
    shorts = count(lambda i: i["queue_result"] == "abandoned" and i["queue_wait_seconds"] <= short)
    timeouts = count(lambda i: i["queue_result"] == "timeout")
    answered_wait = sum(i["queue_wait_seconds"] for i in items if i["queue_result"] == "answered")
    # A, B, C, D, E, F, H offered; A (25 s), D (24 s), F (2 s) answered, F in time;
    # B (3 s) and H (60 s) abandoned, B a short one; C timed out; E left by a key.
    assert (offered, answered, in_time, abandoned, shorts, timeouts) == (7, 3, 1, 2, 1, 1)
    assert answered_wait == 25 + 24 + 2
    assert round(100 * in_time / (offered - shorts), 1) == 16.7  # service level 1 / 6
    assert round(answered_wait / answered) == 17  # average speed of answer 51 / 3
    assert round(100 * (abandoned - shorts) / (offered - shorts), 1) == 16.7  # abandon rate
    assert max(i["queue_wait_seconds"] for i in items) == 60


def test_every_item_is_a_valid_call():
    for item in EXPECTED:
        clean = clean_call(item)
        assert clean["queue_only"] is True
        assert clean["queue_result"] == item["queue_result"]


def test_member_events(log_file):
    members = read_queue_log(log_file, now=T0 + 600).members
    assert members == [
        MemberEvent(at(-50), "support", "PJSIP/201", "201", "ADDMEMBER", ""),
        MemberEvent(at(-40), "support", "Local/202@from-queue/n", "202", "ADDMEMBER", "PAUSED"),
        MemberEvent(at(-30), "support", "Local/202@from-queue/n", "202", "UNPAUSE", ""),
        MemberEvent(at(200), "support", "PJSIP/201", "201", "PAUSE", "lunch"),
        MemberEvent(at(260), "support", "PJSIP/201", "201", "UNPAUSE", ""),
        MemberEvent(at(300), "NONE", "Local/202@from-queue/n", "202", "PAUSEALL", ""),
    ]


def by_id(items):
    return {item["external_id"]: item for item in items}


def test_read_incrementally_each_call_once_and_whole(log_file):
    # Read after every line as it is written, then once more 10 minutes on:
    # each call comes out once, whole (D waits the settle delay for support).
    path, seen, position = log_file, [], None
    path.write_text("")
    for line in LOG.splitlines(keepends=True):
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line)
        written = parse_line(line).time
        result = read_queue_log(path, position, now=written, settle_seconds=120)
        seen += result.calls
        position = QueueLogPosition.from_json(result.position.to_json())
    seen += read_queue_log(path, position, now=T0 + 1100, settle_seconds=120).calls
    assert sorted(seen, key=lambda item: item["start"]) == EXPECTED
    assert position.offset == len(LOG.encode())
    assert {parse_line(line).callid for line in position.pending} >= {"G"}


def test_a_half_written_line_waits_for_its_end(log_file):
    log_file.write_text(LOG + f"{T0 + 510}|G|support|NONE|ABAN")
    result = read_queue_log(log_file, now=T0 + 600, settle_seconds=0)
    assert result.position.offset == len(LOG.encode())
    with log_file.open("a") as handle:
        handle.write("DON|1|1|10\n")
    later = read_queue_log(log_file, result.position, now=T0 + 600, settle_seconds=0)
    assert [
        (i["external_id"], i["queue_result"], i["queue_wait_seconds"]) for i in later.calls
    ] == [("G", "abandoned", 10)]


def test_a_recent_call_waits_for_a_second_queue(log_file):
    # D left sales at 104: read at 110, a second queue may still follow.
    cut = LOG.index(f"{T0 + 105}|D|support")
    log_file.write_text(LOG[:cut])
    early = read_queue_log(log_file, now=T0 + 110, settle_seconds=120)
    assert "D" not in by_id(early.calls)
    log_file.write_text(LOG)
    late = read_queue_log(log_file, early.position, now=T0 + 600, settle_seconds=120)
    assert by_id(late.calls)["D"]["queue_wait_seconds"] == 24
    assert set(by_id(early.calls)) | set(by_id(late.calls)) == set("ABCDEFH")
    assert not set(by_id(early.calls)) & set(by_id(late.calls))


def test_a_rotated_log_starts_over_and_keeps_the_waiting_calls(log_file, tmp_path):
    first = read_queue_log(log_file, now=T0 + 600, settle_seconds=0)
    # logrotate: the log is renamed, Asterisk opens a new one under the name.
    os.rename(log_file, tmp_path / "queue_log.1")
    log_file.write_text(f"{T0 + 530}|G|support|PJSIP/201|CONNECT|30|x|4\n")
    with log_file.open("a") as handle:
        handle.write(f"{T0 + 590}|G|support|PJSIP/201|COMPLETECALLER|30|60|1\n")
    assert os.stat(log_file).st_ino != first.position.inode
    second = read_queue_log(log_file, first.position, now=T0 + 700, settle_seconds=0)
    (g,) = second.calls
    assert (g["start"], g["queue_wait_seconds"], g["talk_seconds"]) == (at(500), 30, 60)
    assert second.position.pending == []


def test_a_truncated_log_starts_over(log_file):
    first = read_queue_log(log_file, now=T0 + 600, settle_seconds=0)
    log_file.write_text(f"{T0 + 900}|Z|support|NONE|ENTERQUEUE||0677777777|1\n")
    with log_file.open("a") as handle:
        handle.write(f"{T0 + 905}|Z|support|NONE|ABANDON|1|1|5\n")
    again = read_queue_log(log_file, first.position, now=T0 + 1000, settle_seconds=0)
    assert [item["external_id"] for item in again.calls] == ["Z"]


def test_a_visit_without_an_end_for_hours_is_given_up(log_file):
    result = read_queue_log(log_file, now=T0 + 500 + 6 * 3600, settle_seconds=0)
    assert result.dropped == ["G"]
    assert result.position.pending == []


def test_an_answered_visit_that_lost_its_end_still_counts():
    lines = [
        f"{T0}|K|support|NONE|ENTERQUEUE||0688888888|1",
        f"{T0 + 9}|K|support|PJSIP/201|CONNECT|9|x|4",
    ]
    worked = calls_from_rows([parse_line(line) for line in lines], now=T0 + 7 * 3600)
    (item,) = worked.calls
    assert (item["status"], item["queue_result"], item["queue_wait_seconds"]) == (
        "answered",
        "answered",
        9,
    )


def test_bad_lines_are_reported_and_skipped(log_file):
    log_file.write_text("garbage\n" + LOG + "yesterday|A|support|NONE|ENTERQUEUE\n")
    result = read_queue_log(log_file, now=T0 + 600, settle_seconds=0)
    assert result.errors == [
        "at byte 0: 1 fields, a queue log line has at least 5",
        f"at byte {8 + len(LOG.encode())}: time 'yesterday' is not epoch seconds",
    ]
    assert len(result.calls) == len(EXPECTED)


def test_a_position_of_garbage_is_a_fresh_start():
    assert QueueLogPosition.from_json("not json") == QueueLogPosition()
    assert QueueLogPosition.from_json(None) == QueueLogPosition()


def test_the_command_line_prints_the_calls(log_file):
    result = subprocess.run(
        [sys.executable, "-m", "pbx", "queue-log", str(log_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(printed, key=lambda item: item["start"]) == EXPECTED
    assert result.stderr == f"{log_file}: 1 call(s) still in a queue at its end left out\n"


def test_the_command_line_prints_the_member_events(log_file):
    result = subprocess.run(
        [sys.executable, "-m", "pbx", "queue-log", "--members", str(log_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed[3] == {
        "at": at(200),
        "queue": "support",
        "member": "PJSIP/201",
        "extension": "201",
        "event": "PAUSE",
        "reason": "lunch",
    }
    assert len(printed) == 6
