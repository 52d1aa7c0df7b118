"""Where the shared AMI recordings live (a clean skip when they do not), and
the listener configuration that replays them to a fake Odoo."""

from pathlib import Path

import pytest

from pbx.tests.fake_odoo import PBX_ID, TOKEN

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


def listen_config(tmp_path, ami_port, odoo_url, ami=None, odoo=None):
    """A listener configuration: fake AMI server and Odoo both on 127.0.0.1."""
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
        "spool": str(tmp_path / "spool.sqlite"),
    }
