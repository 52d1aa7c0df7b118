"""Issue 23: the AMI and the queue log tell the same call the same way.

For some of test_queue_cases' traces, the lines app_queue writes to the
queue log for the same call (same moments, the caller's uniqueid as callid).
Both sources must give the same external id, so ingestion keeps one record
whichever arrives first, and the same queue keys, so neither undoes the other.
"""

import pytest

from pbx.asterisk.queue_log import calls_from_rows, parse_line
from pbx.testing.ami_trace import START
from pbx.tests.test_assembler_cases import only_call
from pbx.tests.test_queue_cases import CASES

CALLER = "1767258000.1"  # the trace's first channel: the caller's uniqueid
LOGS = {
    "queue_answered_after_a_wait": [
        (1, "support|NONE|ENTERQUEUE||0612345678|2"),
        (15, "support|Agent 201|CONNECT|14|1767258000.2|6"),
        (75, "support|Agent 201|COMPLETECALLER|14|60|2"),
    ],
    "queue_abandoned_within_seconds": [
        (1, "support|NONE|ENTERQUEUE||0612345678|1"),
        (4, "support|NONE|ABANDON|1|1|3"),
    ],
    "queue_timeout_to_voicemail": [
        (1, "support|NONE|ENTERQUEUE||0612345678|1"),
        (17, "support|Agent 201|RINGNOANSWER|15000"),
        (31, "support|NONE|EXITWITHTIMEOUT|1|1|30"),
    ],
    "queue_ring_no_answer_then_another_agent_answers": [
        (1, "support|NONE|ENTERQUEUE||0612345678|1"),
        (17, "support|Agent 201|RINGNOANSWER|15000"),
        (26, "support|Agent 202|CONNECT|25|1767258000.3|4"),
        (86, "support|Agent 202|COMPLETEAGENT|25|60|1"),
    ],
    "queue_call_through_two_queues": [
        (1, "sales|NONE|ENTERQUEUE||0612345678|1"),
        (17, "sales|Agent 201|RINGNOANSWER|15000"),
        (21, "sales|NONE|EXITWITHTIMEOUT|1|1|20"),
        (21, "support|NONE|ENTERQUEUE||0612345678|2"),
        (30, "support|Agent 202|CONNECT|9|1767258000.3|8"),
        (90, "support|Agent 202|COMPLETECALLER|9|60|2"),
    ],
}
AGREE = ("external_id", "status", "talk_seconds", "from_number")
QUEUE = ("queue", "queue_wait_seconds", "queue_result", "queue_position")


@pytest.mark.parametrize("name", LOGS)
def test_the_ami_and_the_queue_log_agree(name):
    trace, _expected = CASES[name]()
    ami = only_call(trace)
    lines = [f"{START + at:.0f}|{CALLER}|{line}" for at, line in LOGS[name]]
    (logged,) = calls_from_rows([parse_line(line) for line in lines]).calls
    assert {key: logged[key] for key in AGREE + QUEUE} == {key: ami[key] for key in AGREE + QUEUE}
    assert logged["queue_only"] is True and "queue_only" not in ami
