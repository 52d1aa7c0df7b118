import json
import subprocess
import sys

import pytest

from pbx.listener.cli import OUTPUT_KEYS, build_parser
from pbx.testing.ami_trace import Trace
from pbx.testing.captures import REPO_ROOT, TRUNKS, capture


def run(*args):
    """``python -m pbx ...`` from the repository root, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pbx", *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "trunks": [*TRUNKS, r"^PJSIP/provider-"],
                "country": "NL",
                "timezone": "Europe/Amsterdam",
            }
        )
    )
    return path


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def test_replay_capture_prints_one_json_object_per_call(config):
    result = run("replay", capture("simple_ab_success_twoclients.ami"), "--config", config)
    assert result.returncode == 0, result.stderr
    calls = json_lines(result.stdout)
    assert [tuple(call) for call in calls] == [OUTPUT_KEYS, OUTPUT_KEYS]
    assert [(c["call_id"], c["direction"], c["status"]) for c in calls] == [
        ("195176c06ab8-1529936734.287", "outgoing", "answered"),
        ("195176c06ab8-1529936734.297", "incoming", "answered"),
    ]
    assert calls[1]["from_number"] == "+31260010001"
    assert calls[1]["extension"] == "150010001"


def test_replay_forwarded_call(config):
    result = run(
        "replay", capture("xfer_misc_call_forwarding.ami"), "--config", config, "--format", "ami"
    )
    (call,) = json_lines(result.stdout)
    assert (call["direction"], call["status"], call["forwarded"], call["transferred"]) == (
        "incoming",
        "answered",
        True,
        False,
    )
    assert call["start"].endswith("+00:00")


def test_replay_trace_with_timestamps(tmp_path, config):
    trace = Trace()
    trace.channel(
        "in", "PJSIP/provider-00000001", cid="+31612345678", exten="0201234567", state="Ring"
    )
    trace.at(1).channel("ph", "PJSIP/201-00000002", linkedid="in").dial("in", "ph", "201")
    trace.at(5).dial_end("in", "ph", "ANSWER").bridge("b", "in", "ph")
    trace.at(65).event("VarSet", "ph", Variable="MIXMONITOR_FILENAME", Value="/rec/x.wav")
    # No hangup: the call is still open at the end of the file and is flushed,
    # its talk time counted up to the last event seen.
    path = tmp_path / "live.ami"
    path.write_bytes(trace.wire())
    (call,) = json_lines(run("replay", path, "--config", config).stdout)
    assert call["start"] == "2026-01-01T09:00:00+00:00"
    assert (call["ring_seconds"], call["talk_seconds"], call["recording"]) == (4, 60, "/rec/x.wav")
    assert call["hangup_cause"] is None


def test_replay_cdr_reports_bad_rows_on_stderr(tmp_path, config):
    path = tmp_path / "Master.csv"
    path.write_text(
        '"","201","202","from-internal","","PJSIP/201-00000001","PJSIP/202-00000002","Dial","",'
        '"2026-07-01 10:00:00","2026-07-01 10:00:04","2026-07-01 10:01:04",64,60,"ANSWERED",'
        '"DOCUMENTATION","1782900000.1",""\n'
        '"broken row"\n'
    )
    result = run("replay", path, "--config", config)
    assert result.returncode == 1
    (call,) = json_lines(result.stdout)
    assert (call["call_id"], call["status"], call["talk_seconds"]) == (
        "1782900000.1",
        "answered",
        60,
    )
    assert call["start"] == "2026-07-01T08:00:00+00:00"  # Amsterdam summer time
    assert "line 2: 1 columns" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"country": "NL"}', '"trunks" must be a list'),
        ('{"trunks": ["("], "country": "NL"}', "not a valid regular expression"),
        ('{"trunks": []}', '"country" must be'),
        ('{"trunks": [], "country": "NL", "timezone": "Mars/Base"}', "not a known zone"),
        ('{"trunks": [], "country": "NL", "stale_seconds": 0}', "positive number"),
    ],
)
def test_bad_config_exits_2_with_reason(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    result = run("replay", path, "--config", path)
    assert result.returncode == 2
    assert message in result.stderr


def test_missing_file_exits_2(config, tmp_path):
    result = run("replay", tmp_path / "nope.ami", "--config", config)
    assert result.returncode == 2
    assert "nope.ami" in result.stderr


def test_commands_are_subparsers():
    parser = build_parser()
    args = parser.parse_args(["replay", "x.csv", "--config", "c.json"])
    assert (args.command, args.format) == ("replay", None)
    with pytest.raises(SystemExit):
        parser.parse_args([])
