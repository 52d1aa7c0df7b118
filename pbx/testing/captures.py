"""Where the shared AMI captures live (a clean skip when they do not), and
the listener configuration that replays them to a fake Odoo.

A capture is the byte stream an AMI connection delivered after login, kept
in a ``*.ami`` file (not to be confused with a call's audio recording).
"""

import unittest
from pathlib import Path

from .fake_odoo import PBX_ID, TOKEN

REPO_ROOT = Path(__file__).resolve().parents[2]
# Real captures are shared between checkouts and must never be copied into the repo.
CAPTURES_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "ami"
# The trunk channels of the captures.
TRUNKS = [r"^SIP/voipgrid-"]


def capture(name):
    """Path of one shared capture; skips the test when the set is absent."""
    path = CAPTURES_DIR / name
    if not path.is_file():
        # unittest's skip: pytest and Odoo's test runner both honour it.
        raise unittest.SkipTest(f"shared AMI capture {name} not available")
    return path


def listen_config(tmp_path, ami_port, odoo_url, ami=None, odoo=None, spool="spool.sqlite"):
    """A listener configuration: fake AMI server and Odoo both on 127.0.0.1.

    ``ami`` and ``odoo`` override keys of those parts (a real Odoo's PBX id
    and token, for instance); ``spool`` is a file name in ``tmp_path``.
    """
    return {
        "trunks": TRUNKS,
        "country": "NL",
        "stale_seconds": 3600,
        "ami": {
            "host": "127.0.0.1",
            "port": ami_port,
            "username": "listener",
            "secret": "secret",
            "ping_interval": 0.2,
            **(ami or {}),
        },
        "odoo": {"url": odoo_url, "pbx_id": PBX_ID, "token": TOKEN, "timeout": 2, **(odoo or {})},
        "spool": str(Path(tmp_path) / spool),
    }
