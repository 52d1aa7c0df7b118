"""The listener posts ringing events when ``odoo.ringing`` is on (and only then)."""

import time

import pytest

from pbx.listener.config import ConfigError, check_listen_config
from pbx.listener.service import Listener
from pbx.testing.captures import capture, listen_config
from pbx.testing.fake_ami import FakeAmiServer, split_messages
from pbx.testing.fake_odoo import PBX_ID, TOKEN

pytestmark = pytest.mark.filterwarnings(
    r"ignore:(isSet|setDaemon)\(\) is deprecated:DeprecationWarning"
)
RINGING_PATH = f"/phone_call_accounting/pbx/{PBX_ID}/ringing"


def config_for(tmp_path, ami_port, odoo_url, **odoo):
    return listen_config(tmp_path, ami_port, odoo_url, odoo=odoo)


def ringing_posts(odoo):
    return [
        headers
        for path, headers in zip(odoo.paths, odoo.headers, strict=True)
        if path == RINGING_PATH
    ]


def replay(tmp_path, odoo, name, until, **options):
    """Run a listener against a fake AMI replaying ``name`` until ``until()``."""
    server = FakeAmiServer(split_messages(capture(name).read_bytes()))
    config = config_for(tmp_path, server.port, odoo.url, **options)
    server.start()
    listener = Listener(check_listen_config(config)).start()
    try:
        assert listener.wait_connected()
        deadline = time.monotonic() + 10
        while not until() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        listener.stop(delivery_seconds=2)
        server.stop()
    return listener


def test_forwarded_call_pops_up_on_both_phones(tmp_path, odoo):
    listener = replay(
        tmp_path,
        odoo,
        "xfer_misc_call_forwarding.ami",
        lambda: len(ringing_posts(odoo)) >= 2 and odoo.store,
        ringing=True,
    )
    posts = ringing_posts(odoo)
    assert len(posts) == 2
    assert all(headers["Authorization"] == f"Bearer {TOKEN}" for headers in posts)
    # The call itself is still delivered, once.
    assert len(odoo.store) == 1
    assert listener.ringing_sender.dropped == 2  # this FakeOdoo answers 404 to ringing


def test_off_by_default(tmp_path, odoo):
    listener = replay(tmp_path, odoo, "xfer_misc_call_forwarding.ami", lambda: odoo.store)
    assert odoo.store
    assert listener.ringing is None
    assert not ringing_posts(odoo)


def test_ringing_must_be_a_boolean(tmp_path):
    config = config_for(tmp_path, 5038, "http://odoo", ringing="yes")
    with pytest.raises(ConfigError, match=r"odoo\.ringing"):
        check_listen_config(config)
