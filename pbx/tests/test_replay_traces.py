"""Issue 14's and 23's traces through ``python -m pbx replay``, the command support runs.

The ``.ami`` files in ``traces/`` are written by ``traces/make_traces.py``
from the builders of :mod:`test_assembler_cases` and :mod:`test_queue_cases`;
the replay runs as a real process, as support staff run it, so the command
line, the config file and the reading of the file are part of what is tested.
"""

import subprocess
import sys

import pytest

from pbx.testing.captures import REPO_ROOT
from pbx.tests.traces.make_traces import CASES, HERE, generate

CONFIG = HERE / "config.json"


def replay(path):
    return subprocess.run(
        [sys.executable, "-m", "pbx", "replay", str(path), "--config", str(CONFIG)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", CASES)
def test_replay_prints_the_expected_record(name):
    result = replay(HERE / f"{name}.ami")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (HERE / f"{name}.expected").read_text(encoding="utf-8")


def test_trace_files_are_what_make_traces_writes():
    wanted = generate()
    present = {path.name for path in HERE.iterdir() if path.suffix in {".ami", ".expected"}}
    assert present | {"config.json"} == set(wanted), "run python -m pbx.tests.traces.make_traces"
    for name, content in wanted.items():
        assert (HERE / name).read_bytes() == content, (
            f"{name} is stale: run python -m pbx.tests.traces.make_traces"
        )
