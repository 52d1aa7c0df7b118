"""The whole road from Asterisk to Odoo, on 127.0.0.1.

A fake AMI server replays the real captures of ../shared/fixtures/ami; the
listener (pyst2, assembler, SQLite spool, delivery) posts the finished calls
to this real Odoo's webhook.
"""

import itertools
import shutil
import tempfile
import time
from pathlib import Path

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..pbx.asterisk.ami import parse_bytes
from ..pbx.asterisk.assembler import assemble
from ..pbx.listener.config import check_listen_config
from ..pbx.listener.service import Listener
from ..pbx.listener.spool import DELIVERED, PENDING, Spool
from ..pbx.testing.captures import CAPTURES_DIR, TRUNKS, listen_config
from ..pbx.testing.fake_ami import FakeAmiServer, load_messages
from .common import make_pbx


def clock():
    return itertools.count(1_795_770_000).__next__


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@tagged("post_install", "-at_install")
class TestAmiToOdoo(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.captures = sorted(CAPTURES_DIR.glob("*.ami"))
        cls.env.company.country_id = cls.env.ref("base.nl")
        cls.pbx = make_pbx(
            cls.env, kind="asterisk_ami", trunk_patterns="\n".join(TRUNKS), timezone="UTC"
        )

    def setUp(self):
        super().setUp()
        if len(self.captures) != 12:
            self.skipTest(f"the shared AMI captures are not at {CAPTURES_DIR}")
        self.messages = load_messages(self.captures)
        # The captures carry no Timestamp: one second per event, as the listener is told.
        self.expected = assemble(parse_bytes(b"".join(self.messages)), TRUNKS, clock=clock())
        self.tmp = Path(tempfile.mkdtemp(prefix="pca-listener-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def config(self, ami_port=5038, url=None, spool="spool.sqlite"):
        return check_listen_config(
            listen_config(
                self.tmp,
                ami_port,
                url or self.base_url(),
                ami={"ping_interval": 1},
                odoo={
                    "pbx_id": self.pbx.id,
                    "token": self.pbx.token,
                    "batch_size": 25,
                    "timeout": 10,
                    "backoff_min": 0.05,
                    "backoff_max": 0.2,
                },
                spool=spool,
            )
        )

    def replay(self, config, messages=None, delivered=True):
        """Serve ``messages`` to a listener until every one is read, then stop it."""
        messages = self.messages if messages is None else messages
        # The listener is an outside client: it cannot carry the test cookie.
        with self.allow_requests(all_requests=True):
            self._replay(config, messages, delivered)

    def _replay(self, config, messages, delivered):
        server = FakeAmiServer(messages).start()
        try:
            config["ami"]["port"] = server.port
            listener = Listener(config, clock=clock()).start()
            try:
                events = sum(1 for m in parse_bytes(b"".join(messages)) if m.event)
                self.assertTrue(wait_until(lambda: listener.events >= events), "events not read")
                if delivered:
                    self.assertTrue(
                        wait_until(lambda: self.spool_counts(config).get(PENDING, 0) == 0, 30),
                        "calls left undelivered",
                    )
            finally:
                listener.stop()
        finally:
            server.stop()

    def spool_counts(self, config):
        with Spool(config["spool"]) as spool:
            return spool.counts()

    def calls(self):
        return self.env["phone.call"].search([("pbx_id", "=", self.pbx.id)])

    def test_replay_creates_exactly_the_calls_twice_without_duplicates(self):
        config = self.config()
        self.replay(config)
        calls = self.calls()
        self.assertEqual(len(calls), len(self.expected))
        self.assertEqual(self.spool_counts(config).get(DELIVERED), len(self.expected))
        by_id = {call.external_id: call for call in calls}
        for item in self.expected:
            call = by_id[item["external_id"]]
            self.assertEqual(call.direction, item["direction"], item["external_id"])
            self.assertEqual(call.status, item["status"], item["external_id"])
            self.assertEqual(call.forwarded, item["forwarded"], item["external_id"])
            self.assertEqual(call.transferred, item["transferred"], item["external_id"])
            self.assertEqual(call.talk_seconds, item["talk_seconds"], item["external_id"])
        incoming = calls.filtered(lambda c: c.direction == "incoming")
        self.assertTrue(incoming)
        self.assertTrue(all(c.client_number.startswith("+31") for c in incoming))

        # The same captures again, through a new listener and spool: no duplicate.
        again = self.config(spool="second.sqlite")
        self.replay(again)
        self.assertEqual(len(self.calls()), len(self.expected))
        self.assertEqual(self.calls(), calls)

    @mute_logger("pbx.listener.delivery", "odoo.addons.phone_call_accounting.pbx.listener.delivery")
    def test_odoo_down_during_the_replay_loses_nothing(self):
        # Odoo is unreachable: the listener keeps every finished call in its spool.
        config = self.config(url="http://127.0.0.1:9/down")
        self.replay(config, delivered=False)
        self.assertFalse(self.calls())
        self.assertEqual(self.spool_counts(config).get(PENDING), len(self.expected))
        # Odoo is back: a listener on the same spool delivers them all, once.
        back = self.config()
        self.replay(back, messages=[])
        self.assertEqual(len(self.calls()), len(self.expected))
        self.assertEqual(self.spool_counts(back).get(DELIVERED), len(self.expected))
