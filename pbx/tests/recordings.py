"""Where the shared AMI recordings live, and a clean skip when they do not."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real captures are shared between checkouts and must never be copied into the repo.
RECORDINGS = REPO_ROOT.parent / "shared" / "fixtures" / "ami"
TRUNKS = [r"^SIP/voipgrid-"]


def recording(name):
    """Path of one shared recording; skips the test when the set is absent."""
    path = RECORDINGS / name
    if not path.is_file():
        pytest.skip(f"shared AMI recording {name} not available")
    return path
