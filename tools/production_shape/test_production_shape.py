"""The addon served as production serves it: live features through the
websocket worker, deliveries through prefork HTTP workers, a clean log.

Runs after the Odoo suite on the same (committed) test database; the tests
run in file order and the last one reads the whole server log.
"""

import json
import re
import ssl
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import websocket
from stage_nginx import UNVERIFIED

RINGING = "phone_call_accounting/ringing"
CALLBACKS = "phone_call_accounting/callbacks"
EXTENSION = "7301"
CALLER = "+31205557301"


def _post(server, path, token, payload, url=None):
    request = urllib.request.Request(
        (url or server.url) + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    context = UNVERIFIED if request.full_url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _ring(server, pbx, call_id, url=None):
    """The PBX says CALLER rings the admin's desk phone (EXTENSION)."""
    event = {
        "from_number": CALLER,
        "to_number": "+31207940100",
        "extensions": [EXTENSION],
        "call_id": call_id,
    }
    return _post(
        server, f"/phone_call_accounting/pbx/{pbx['id']}/ringing", pbx["token"], event, url
    )


@pytest.fixture(scope="module")
def pbx(admin):
    """A webhook PBX and the admin's desk phone, made as a manager would."""
    suffix = uuid.uuid4().hex[:8]
    pbx_id = admin.call(
        "phone.pbx",
        "create",
        [{"name": f"Production shape {suffix}", "kind": "webhook", "timezone": "Europe/Amsterdam"}],
    )[0]
    admin.call("res.users", "write", [admin.uid], {"phone_extension": EXTENSION})
    token = admin.call("phone.pbx", "read", [pbx_id], ["token"])[0]["token"]
    return {"id": pbx_id, "token": token, "suffix": suffix}


@pytest.fixture(scope="module")
def bus(server, admin):
    """The admin's bus websocket, opened and subscribed as the web client does."""
    socket = websocket.create_connection(
        f"ws://127.0.0.1:{server.gevent_port}/websocket",
        cookie=admin.cookie,
        origin=server.url,
        timeout=30,
    )
    socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
    yield socket
    socket.close()


def _receive(socket, kind, deadline, match=lambda payload: True):
    """The first notification of ``kind`` (whose payload ``match`` accepts) before
    ``deadline`` (monotonic), or None. A new subscription replays the bus's
    recent notifications: ``match`` tells this test's own from them."""
    while time.monotonic() < deadline:
        socket.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            frame = socket.recv()
        except websocket.WebSocketTimeoutException:
            return None
        for notification in json.loads(frame) if frame else []:
            message = notification.get("message", {})
            if message.get("type") == kind and match(message["payload"]):
                return message["payload"]
    return None


def test_workers_and_websocket_worker_are_up(server, bus):
    log = server.log_text()
    assert len(re.findall(r"Worker WorkerHTTP \(\d+\) alive", log)) >= 2, "no prefork HTTP workers"
    assert re.search(r"Worker WorkerCron \(\d+\) alive", log), "no cron worker"
    # The bus fixture's handshake went through the gevent process's port.
    assert bus.connected


def test_ringing_event_reaches_the_browser_through_the_websocket_worker(server, pbx, bus):
    status, answer = _ring(server, pbx, f"prod-{pbx['suffix']}")
    assert status == 200, answer
    assert answer["result"] == "sent" and answer["notified"] == 1, answer
    payload = _receive(
        bus,
        RINGING,
        time.monotonic() + 10,
        match=lambda payload: payload["call_id"] == f"prod-{pbx['suffix']}",
    )
    assert payload is not None, "no ringing notification arrived on the websocket in 10 s"
    assert payload["extension"] == EXTENSION
    assert payload["number_e164"] == CALLER


def test_call_back_counter_follows_live_through_the_websocket_worker(server, admin, pbx, bus):
    """A missed call and Mark Called Back, each served by an HTTP worker, reach
    the navbar counter's channel through the websocket worker."""
    _receive(bus, CALLBACKS, time.monotonic() + 1)  # what earlier steps sent
    before = admin.call("phone.call", "phone_callback_count")
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    call = {
        "external_id": f"prod-{pbx['suffix']}-missed",
        "direction": "incoming",
        "status": "missed",
        "from_number": "+31205559911",
        "to_number": "+31207940100",
        "start": start.isoformat(),
        "ring_seconds": 9,
    }
    path = f"/phone_call_accounting/pbx/{pbx['id']}/calls"
    status, answer = _post(server, path, pbx["token"], [call])
    assert status == 200 and answer["results"][0]["result"] == "created", answer
    assert _receive(bus, CALLBACKS, time.monotonic() + 10) is not None, "no counter update"
    assert admin.call("phone.call", "phone_callback_count") == before + 1
    [call_id] = admin.call("phone.call", "search", [("external_id", "=", call["external_id"])])
    admin.call("phone.call", "action_mark_called_back", [call_id])
    assert _receive(bus, CALLBACKS, time.monotonic() + 10) is not None, "no counter update"
    assert admin.call("phone.call", "phone_callback_count") == before


def test_webhook_batch_lands_through_prefork_workers(server, admin, pbx):
    start = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    calls = [
        {
            "external_id": f"prod-{pbx['suffix']}-{index}",
            "direction": "incoming",
            "status": "answered" if index % 2 else "missed",
            "from_number": f"+3120555{7400 + index}",
            "to_number": "+31207940100",
            "extension": EXTENSION,
            "start": (start + timedelta(minutes=index)).isoformat(),
            "ring_seconds": 5,
            "talk_seconds": 60 if index % 2 else 0,
        }
        for index in range(20)
    ]
    status, answer = _post(
        server, f"/phone_call_accounting/pbx/{pbx['id']}/calls", pbx["token"], calls
    )
    assert status == 200, answer
    results = answer["results"] if isinstance(answer, dict) else answer
    assert [r["result"] for r in results] == ["created"] * 20, results
    # Redelivered, as PBXes do: the same 20 calls, no second record.
    status, again = _post(
        server, f"/phone_call_accounting/pbx/{pbx['id']}/calls", pbx["token"], calls
    )
    assert status == 200, again
    stored = admin.call(
        "phone.call",
        "search_read",
        [("pbx_id", "=", pbx["id"]), ("external_id", "in", [c["external_id"] for c in calls])],
        ["status", "user_id", "partner_id"],
    )
    assert len(stored) == 20
    assert {row["user_id"][0] for row in stored} == {admin.uid}
    assert all(row["partner_id"] for row in stored), "each outside caller is a client"


def test_ringing_and_calls_through_the_kits_nginx(server, nginx, admin_via_nginx, pbx):
    """The deployment kit's nginx site in front: the web client's login, its bus
    websocket (wss, /websocket to the gevent port) and a PBX's webhook."""
    socket = websocket.create_connection(
        f"wss://127.0.0.1:{nginx.port}/websocket",
        cookie=admin_via_nginx.cookie,
        origin=nginx.url,
        timeout=30,
        sslopt={"cert_reqs": ssl.CERT_NONE},
    )
    try:
        socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
        status, answer = _ring(server, pbx, f"nginx-{pbx['suffix']}", url=nginx.url)
        assert status == 200 and answer["notified"] == 1, answer
        payload = _receive(
            socket,
            RINGING,
            time.monotonic() + 10,
            match=lambda payload: payload["call_id"] == f"nginx-{pbx['suffix']}",
        )
        assert payload is not None, "no ringing notification through nginx in 10 s"
        assert payload["number_e164"] == CALLER
    finally:
        socket.close()
    assert "[error]" not in nginx.errors() and "[crit]" not in nginx.errors(), nginx.errors()


def test_server_log_holds_no_traceback(server):
    # Last: everything above has been served. Let the workers finish writing.
    time.sleep(1)
    log = server.log_text()
    bad = [
        line
        for line in log.splitlines()
        if "Traceback" in line or re.search(r"\d (ERROR|CRITICAL) ", line)
    ]
    assert not bad, "the server log holds errors:\n" + "\n".join(bad[:20])
