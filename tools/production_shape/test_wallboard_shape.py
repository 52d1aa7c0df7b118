"""The wallboard served as production serves it: a PBX's live events, applied by
a prefork HTTP worker, reach a logged-in manager's bus websocket through the
websocket (gevent) worker, directly and through the deployment kit's nginx.

Runs after test_production_shape.py on the same server; ends with its own
look at the server log.
"""

import json
import re
import ssl
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest
import websocket
from stage_nginx import UNVERIFIED

LIVE = "phone_call_accounting/live"


def _post(url, token, payload):
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    context = UNVERIFIED if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _subscribe(url, cookie, origin, **options):
    socket = websocket.create_connection(url, cookie=cookie, origin=origin, timeout=30, **options)
    socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
    return socket


def _receive(socket, deadline, pbx_id):
    """The first live notification of ``pbx_id`` before ``deadline`` (monotonic)."""
    while time.monotonic() < deadline:
        socket.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            frame = socket.recv()
        except websocket.WebSocketTimeoutException:
            return None
        for notification in json.loads(frame) if frame else []:
            message = notification.get("message", {})
            if message.get("type") == LIVE and message["payload"].get("pbx_id") == pbx_id:
                return message["payload"]
    return None


@pytest.fixture(scope="module")
def live_pbx(admin):
    suffix = uuid.uuid4().hex[:8]
    pbx_id = admin.call(
        "phone.pbx",
        "create",
        [{"name": f"Wallboard shape {suffix}", "kind": "webhook", "timezone": "Europe/Amsterdam"}],
    )[0]
    token = admin.call("phone.pbx", "read", [pbx_id], ["token"])[0]["token"]
    return {"id": pbx_id, "token": token, "queue": f"shape-{suffix}"}


def _join(pbx, call_id, number):
    return {
        "events": [
            {
                "type": "caller_join",
                "queue": pbx["queue"],
                "call_id": call_id,
                "number": number,
                "position": 1,
                "at": datetime.now(UTC).isoformat(),
            }
        ]
    }


def _waiting(admin, pbx):
    board = admin.call("phone.queue", "wallboard_data")
    [queue] = [q for q in board["queues"] if q["name"] == pbx["queue"]]
    return [caller["number"] for caller in queue["callers"]]


def test_a_live_event_reaches_the_managers_websocket(server, admin, live_pbx):
    socket = _subscribe(f"ws://127.0.0.1:{server.gevent_port}/websocket", admin.cookie, server.url)
    try:
        started = time.monotonic()
        status, answer = _post(
            f"{server.url}/phone_call_accounting/pbx/{live_pbx['id']}/live",
            live_pbx["token"],
            _join(live_pbx, "shape-1", "+31205557401"),
        )
        assert status == 200, answer
        assert answer["applied"] == {"caller_join": 1}, answer
        payload = _receive(socket, time.monotonic() + 10, live_pbx["id"])
        assert payload is not None, "no live notification on the websocket in 10 s"
        assert time.monotonic() - started < 5
    finally:
        socket.close()
    # The screen's one call, served by any worker, reads what the other one wrote.
    # Written as the calls list writes them (the test company has no Dutch address).
    assert _waiting(admin, live_pbx) == ["+31 20 555 7401"]


def test_a_live_event_through_the_kits_nginx(server, nginx, admin_via_nginx, live_pbx):
    socket = _subscribe(
        f"wss://127.0.0.1:{nginx.port}/websocket",
        admin_via_nginx.cookie,
        nginx.url,
        sslopt={"cert_reqs": ssl.CERT_NONE},
    )
    try:
        status, answer = _post(
            f"{nginx.url}/phone_call_accounting/pbx/{live_pbx['id']}/live",
            live_pbx["token"],
            _join(live_pbx, "shape-2", "+31205557402"),
        )
        assert status == 200, answer
        payload = _receive(socket, time.monotonic() + 10, live_pbx["id"])
        assert payload is not None, "no live notification through nginx in 10 s"
    finally:
        socket.close()
    assert _waiting(admin_via_nginx, live_pbx) == ["+31 20 555 7401", "+31 20 555 7402"]
    assert "[error]" not in nginx.errors() and "[crit]" not in nginx.errors(), nginx.errors()


def test_wrong_secret_is_refused_and_logs_no_error(server, live_pbx):
    status, _answer = _post(
        f"{server.url}/phone_call_accounting/pbx/{live_pbx['id']}/live",
        "not-the-token",
        _join(live_pbx, "shape-3", "+31205557403"),
    )
    assert status == 403
    time.sleep(1)
    bad = [
        line
        for line in server.log_text().splitlines()
        if "Traceback" in line or re.search(r"\d (ERROR|CRITICAL) ", line)
    ]
    assert not bad, "the server log holds errors:\n" + "\n".join(bad[:20])
