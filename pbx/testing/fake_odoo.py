"""A stand-in for Odoo's call webhook on 127.0.0.1, for the listener's tests."""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "s3cret-token"
PBX_ID = 3


class FakeOdoo:
    """Odoo's call webhook on 127.0.0.1, as the contract describes it.

    Upserts by external_id into ``store`` (answering created/updated), so a
    call sent twice is still one call; ``received`` counts every call posted
    per external_id. Scriptable: ``status`` answers every request with that
    HTTP status (nothing stored); ``slow`` stores, then sleeps that long
    before answering (the client times out after Odoo committed);
    ``reject`` ids are answered ``rejected``; ``bad`` ids make the whole
    batch a 400; batches above ``max_batch`` get 413. ``down()``/``up()``
    stop and restart listening on the same port (connection refused between).
    Live events posted to ``.../live`` are kept in ``live``, one list per
    request (answered 200, or ``live_status`` when that is set).
    """

    def __init__(self, token=TOKEN, pbx_id=PBX_ID):
        self.token, self.pbx_id = token, pbx_id
        self.store = {}
        self.received = Counter()
        self.requests = []  # (HTTP status, number of calls)
        self.headers = []
        self.paths = []
        self.status = None
        self.slow = 0.0
        self.reject = set()
        self.bad = set()
        self.max_batch = None
        self.live = []
        self.live_status = None
        self.lock = threading.Lock()
        self.port = 0
        self.server = None
        self.up()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def up(self):
        odoo = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                odoo.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def down(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def handle(self, request):
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        path = f"/phone_call_accounting/pbx/{self.pbx_id}/calls"
        with self.lock:
            self.headers.append(dict(request.headers))
            self.paths.append(request.path)
        if request.path == f"/phone_call_accounting/pbx/{self.pbx_id}/live":
            return self.handle_live(request, body)
        if request.path.partition("?")[0] != path:
            return self.answer(request, 404, {"error": "not found"}, 0)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.answer(request, 401, {"error": "invalid token"}, 0)
        calls = json.loads(body)["calls"]
        if self.status:
            return self.answer(request, self.status, {"error": "scripted"}, len(calls))
        if self.max_batch and len(calls) > self.max_batch:
            return self.answer(request, 413, {"error": "too many calls"}, len(calls))
        bad = [call["external_id"] for call in calls if call["external_id"] in self.bad]
        if bad:
            return self.answer(request, 400, {"error": f"malformed call {bad[0]}"}, len(calls))
        results = []
        with self.lock:
            for call in calls:
                external_id = call["external_id"]
                self.received[external_id] += 1
                if external_id in self.reject:
                    result = {"result": "rejected", "reason": "status 'bogus' is unknown"}
                else:
                    result = {"result": "updated" if external_id in self.store else "created"}
                    self.store[external_id] = call
                    result["call_id"] = list(self.store).index(external_id) + 1
                results.append({"external_id": external_id, **result})
        if self.slow:
            time.sleep(self.slow)
        return self.answer(request, 200, {"results": results}, len(calls))

    def handle_live(self, request, body):
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self.answer(request, 401, {"error": "invalid token"}, 0)
        events = json.loads(body)["events"]
        if self.live_status:
            return self.answer(request, self.live_status, {"error": "scripted"}, len(events))
        with self.lock:
            self.live.append(events)
        return self.answer(request, 200, {"result": "applied", "events": len(events)}, len(events))

    def live_events(self):
        """Every live event received, in order."""
        with self.lock:
            return [event for batch in self.live for event in batch]

    def answer(self, request, status, data, count):
        with self.lock:
            self.requests.append((status, count))
        payload = json.dumps(data).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except OSError:  # pylint: disable=except-pass
            pass  # the client gave up (the timeout test)
