"""The wallboard in Chromium, fed live by the real listener from a fake Asterisk."""

import shutil
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from odoo.tests import HttpCase, tagged

from ..pbx.listener.config import check_listen_config
from ..pbx.listener.service import Listener
from ..pbx.testing.ami_trace import Trace
from ..pbx.testing.captures import listen_config
from ..pbx.testing.fake_ami import FakeAmiServer
from .common import make_pbx

TRUNKS = ["^PJSIP/provider-"]
MEMBER = {
    "MemberName": "Mitchell",
    "Interface": "PJSIP/201",
    "StateInterface": "PJSIP/201",
    "Status": "1",
    "Paused": "0",
}


class FakePbx:
    """What the PBX does when the tour asks: ``POST /connect`` starts the
    listener (which asks the fake AMI server for QueueStatus and posts the
    snapshot), ``/join`` and ``/answer`` send the AMI events of a caller
    joining the support queue, then of agent 201 answering, at once."""

    def __init__(self, ami, listener):
        self.ami = ami
        self.listener = listener
        self.trace = Trace(start=time.time())
        self.played = []
        pbx = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                what = self.path.strip("/")
                ok = what in ("connect", "join", "answer") and pbx.play(what)
                self.send_response(200 if ok else 404)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def play(self, what):
        if what == "connect":
            self.played.append(what)
            return self.listener.start().wait_connected()
        trace = self.trace
        before = len(trace.wire())
        trace.at(time.time() - trace.start)
        if what == "join":
            trace.channel("caller", "PJSIP/provider-00000010", cid="0612345678", exten="0201234567")
            trace.update("caller", CallerIDName="Bakkerij Korst")
            trace.event("QueueCallerJoin", "caller", Queue="support", Position="1", Count="1")
        else:
            trace.channel("agent", "PJSIP/201-00000011", cid="201", linkedid="caller")
            trace.dial("caller", "agent", "PJSIP/201")
            trace.event("QueueMemberStatus", Queue="support", **(MEMBER | {"Status": "6"}))
            trace.dial_end("caller", "agent", "ANSWER")
            trace.event("QueueCallerLeave", "caller", Queue="support", Position="1", Count="0")
            trace.event(
                "AgentConnect",
                "caller",
                "agent",
                Queue="support",
                MemberName="Mitchell",
                Interface="PJSIP/201",
                HoldTime="3",
                RingTime="1",
            )
            trace.bridge("b1", "caller", "agent")
            trace.event("QueueMemberStatus", Queue="support", **(MEMBER | {"Status": "2"}))
        self.played.append(what)
        return self.ami.push([trace.wire()[before:]]) > 0

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@tagged("post_install", "-at_install")
class TestWallboardTour(HttpCase):
    def test_a_caller_joins_and_is_answered_live(self):
        admin = self.env.ref("base.user_admin")
        admin.write({"phone_extension": "201", "name": "Mitchell Admin"})
        self.env["res.partner"].create({"name": "Bakkerij Korst", "phone": "+31612345678"})
        self.env.company.country_id = self.env.ref("base.nl")
        pbx = make_pbx(
            self.env, name="Wallboard PBX", kind="asterisk_ami", trunk_patterns=TRUNKS[0]
        )
        ami = FakeAmiServer(queues={"support": {"members": [MEMBER], "callers": []}}).start()
        self.addCleanup(ami.stop)
        folder = tempfile.mkdtemp(prefix="pca-wallboard-")
        self.addCleanup(shutil.rmtree, folder, True)
        config = listen_config(
            folder,
            ami.port,
            self.base_url(),
            odoo={"pbx_id": pbx.id, "token": pbx.token, "live": True, "timeout": 10},
        )
        config["trunks"] = TRUNKS
        listener = Listener(check_listen_config(config))
        fake_pbx = FakePbx(ami, listener)
        self.addCleanup(fake_pbx.stop)
        self.env["ir.config_parameter"].set_param(
            "phone_call_accounting.tour_ami_control", fake_pbx.url
        )
        # The listener is a client of its own: it cannot carry the browser's cookie.
        # It starts once the tour runs (the test's cursor is the server's then).
        self.http_request_allow_all = True
        try:
            self.start_tour(
                "/odoo/action-phone_call_accounting.phone_wallboard_action",
                "phone_wallboard_tour",
                login="admin",
            )
        finally:
            self.http_request_allow_all = False
            with self.allow_requests(all_requests=True):
                listener.stop(delivery_seconds=5)
        self.assertEqual(fake_pbx.played, ["connect", "join", "answer"])
        caller = self.env["phone.queue.caller"].search([("number", "=", "0612345678")])
        self.assertEqual((caller.result, bool(caller.left_at)), ("answered", True))
        self.assertEqual(listener.live_sender.dropped, 0)
