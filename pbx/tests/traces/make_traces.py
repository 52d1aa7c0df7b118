"""Write the issue 14 traces out for ``python -m pbx replay``.

Run from the repository root after changing a case in
``pbx/tests/test_assembler_cases.py`` or ``pbx/tests/test_queue_cases.py``::

    python -m pbx.tests.traces.make_traces

For each case it writes ``NAME.ami`` (the AMI wire bytes, CRLF and all) and
``NAME.expected`` (the line replay prints for the case's record), plus the
``config.json`` replay needs. ``test_replay_traces`` checks that the files
are exactly what this writes, so they cannot drift from the tests.
"""

import json
import sys
from pathlib import Path

from pbx.listener.cli import replay_record
from pbx.tests import test_assembler_cases, test_queue_cases
from pbx.tests.test_assembler_cases import TRUNKS

HERE = Path(__file__).resolve().parent
CONFIG = {"trunks": TRUNKS, "country": "NL", "timezone": "UTC", "stale_seconds": 3600}
# Issue 14's cases, then issue 23's calls through queues.
CASES = {**test_assembler_cases.CASES, **test_queue_cases.CASES}


def replay_line(record):
    """The record as ``python -m pbx replay`` prints it."""
    return json.dumps(replay_record(record), ensure_ascii=False) + "\n"


def generate():
    """File name -> bytes of every file this folder should hold."""
    files = {"config.json": (json.dumps(CONFIG, indent=2) + "\n").encode()}
    for name, build in CASES.items():
        trace, expected = build()
        files[f"{name}.ami"] = trace.wire()
        files[f"{name}.expected"] = replay_line(expected).encode()
    return files


def main():
    files = generate()
    # A renamed or dropped case must not leave its old trace behind.
    for path in [*HERE.glob("*.ami"), *HERE.glob("*.expected")]:
        if path.name not in files:
            path.unlink()
    for name, content in files.items():
        (HERE / name).write_bytes(content)
    sys.stdout.write(f"{len(CASES)} traces written to {HERE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
