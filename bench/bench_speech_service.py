"""Memory of an Odoo worker that analyses Korean, English, Korean in turn.

Usage::

    /opt/odoo19/venv/bin/python bench/bench_speech_service.py [--db pca_bench_speech]
        [--modes service,off,off-6g] [--reuse]

1. Creates the database ``--db`` (dropped first unless ``--reuse``) with the
   addon installed, no demo data.
2. For each mode, starts Odoo as production runs it (prefork, one HTTP
   worker, no cron worker, Odoo's default limits ``--limit-memory-soft=2 GiB``
   ``--limit-memory-hard=2.5 GiB``) with:

   * ``service``: ``PBX_SPEECH_SERVICE=auto``, the speech process of
     ``pbx/analysis/service.py`` started on demand by the worker (in a
     runtime folder of the run's own, so it starts without a model);
   * ``off``: ``PBX_SPEECH_SERVICE=off``, the models loaded by the worker
     itself, as the addon did before, under the same limits;
   * ``off-6g``: the same with ``--limit-memory-hard=6 GiB``, what the
     project's tests used to need.

3. Through the webhooks, as a PBX does, a Seoul PBX (Vosk, Korean) and a
   Boston PBX (Whisper, English) each send a call, and its recording (espeak-ng
   at 8 kHz, a few seconds); then "Run Manually" of the scheduled action
   *Phone: analyse call recordings* (``ir.cron.method_direct_trigger``, in
   the HTTP worker, the way the cron worker runs it) analyses it. Korean,
   English, Korean, one call per run.
4. While each run is under way, samples every 50 ms the worker's VmRSS and
   VmSize (``/proc/<pid>/status``; Odoo compares VmSize with
   ``limit_memory_soft`` after each request and recycles a worker above it)
   and the speech process's; reports the peaks, the sizes afterwards, the
   call's analysis state and whether the worker was recycled after the
   request (Odoo's "virtual memory limit ... reached" line in the log).

Figures go to ``~/.cache/phone_call_accounting/bench/bench_speech_service.json``
and are printed as a table.
"""

# A benchmark script, not addon code: it prints its progress and results.
# pylint: disable=print-used

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
from common import OUT, say, stop_group

GIB = 1024**3
LIMIT_SOFT = 2 * GIB  # Odoo's default limit_memory_soft
LIMIT_HARD = 2684354560  # Odoo's default limit_memory_hard
MODES = {
    "service": {"PBX_SPEECH_SERVICE": "auto", "hard": LIMIT_HARD},
    "off": {"PBX_SPEECH_SERVICE": "off", "hard": LIMIT_HARD},
    "off-6g": {"PBX_SPEECH_SERVICE": "off", "hard": 6 * GIB},
}
KOREAN = (
    "안녕하세요. 예약 취소 때문에 전화드렸습니다. 주차는 몇시까지 할 수 있어요?",
    "ko",
)
KOREAN_2 = ("지하철역에서 가까운 지점이 있나요? 학생 할인도 되나요?", "ko")
ENGLISH = (
    "Hello, I would like a refund because the price is too high. Please cancel my contract.",
    "en-us+f3",
)
KEYWORDS = ["예약", "주차", "할인", "지하철", "학생", "refund", "cancel"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_odoo_arguments(parser)
    parser.add_argument("--db", default="pca_bench_speech")
    parser.add_argument("--modes", default="service,off,off-6g", help="of " + ",".join(MODES))
    parser.add_argument("--reuse", action="store_true", help="keep an existing database")
    parser.add_argument("--interval", type=float, default=0.05, help="sampling period (s)")
    return common.complete_odoo_arguments(parser.parse_args(argv))


# --- processes --------------------------------------------------------------


def status_of(pid):
    """VmRSS and VmSize of ``pid`` in MB, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = {}
    for line in text.splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmSize"):
            found[key] = int(value.split()[0]) // 1024
    return found


def children(pid):
    """Direct children of ``pid``: (pid, command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(entry.name), command))
        except (OSError, IndexError, ValueError):
            continue
    return found


class Sampler(threading.Thread):
    """Peaks of the worker's and the speech process's memory while running."""

    def __init__(self, worker, speech, interval):
        super().__init__(daemon=True)
        self.worker, self.speech, self.interval = worker, speech, interval
        self.peaks = {"worker": {"VmRSS": 0, "VmSize": 0}, "speech": {"VmRSS": 0, "VmSize": 0}}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for name, pid_of in (("worker", self.worker), ("speech", self.speech)):
                pid = pid_of()
                current = status_of(pid) if pid else None
                for key, value in (current or {}).items():
                    self.peaks[name][key] = max(self.peaks[name][key], value)
            time.sleep(self.interval)

    def stop(self):
        self.done.set()
        self.join(5)
        return self.peaks


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Odoo:
    """``python -m odoo`` on the benchmark's database."""

    def __init__(self, args, work):
        self.args = args
        addons = str(work / "addons")
        self.addons = f"{args.addons},{addons}" if args.addons else addons
        (work / "addons").mkdir()
        (work / "addons" / common.MODULE).symlink_to(Path(args.addon_dir).resolve())
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ODOO_")}
        self.env["PYTHONPATH"] = args.odoo_src

    def command(self, *extra):
        return [
            self.args.odoo_python,
            str(Path(self.args.odoo_src, "setup", "odoo")),
            f"--addons-path={self.addons}",
            "-d",
            self.args.db,
            f"--db-filter=^{self.args.db}$",
            f"--data-dir={self.args.data_dir}",
            *extra,
        ]

    def install(self):
        common.run_odoo_once(
            self.command("-i", common.MODULE, *common.ODOO_BATCH_OPTIONS, "--stop-after-init"),
            self.env,
            f"installing {common.MODULE} on {self.args.db}",
        )

    def serve(self, port, hard, environ, logfile):
        command = self.command(
            "--http-interface=127.0.0.1",
            f"--http-port={port}",
            f"--gevent-port={free_port()}",
            "--workers=1",
            "--max-cron-threads=0",
            f"--limit-memory-soft={LIMIT_SOFT}",
            f"--limit-memory-hard={hard}",
            "--limit-time-cpu=600",
            "--limit-time-real=1200",
            f"--logfile={logfile}",
            "--log-level=info",
        )
        return subprocess.Popen(
            command,
            env={**self.env, **environ},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class Session:
    """The admin over JSON-RPC, with the session cookie."""

    def __init__(self, url, db):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        self.rpc("/web/session/authenticate", {"db": db, "login": "admin", "password": "admin"})

    def rpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        request = urllib.request.Request(
            self.url + path, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with self.opener.open(request, timeout=1300) as response:
            answer = json.loads(response.read())
        if answer.get("error"):
            raise RuntimeError(f"{path}: {answer['error']['data']['message']}")
        return answer.get("result")

    def call(self, model, method, *args, **kwargs):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


def post(url, token, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"{url}: {error.code} {error.read()[:500]!r}") from error


def wait_ready(url, process, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/web/health", timeout=5) as response,
        ):
            if response.status == 200:
                return True
        time.sleep(0.5)
    return False


# --- one mode ---------------------------------------------------------------


def http_worker(master):
    for pid, command in children(master):
        if " gevent" not in command:
            return pid
    return None


def make_clips(folder):
    from pbx.testing.speech import speak

    clips = {}
    for name, (text, voice) in (("ko", KOREAN), ("ko2", KOREAN_2), ("en", ENGLISH)):
        path = speak(text, folder / f"{name}.wav", voice=voice, wpm=150)
        clips[name] = path.read_bytes()
    return clips


def run_mode(args, odoo, work, mode, clips):
    from pbx.analysis import service

    settings = MODES[mode]
    speech_dir = Path(tempfile.mkdtemp(prefix="pca-bs-", dir="/tmp")) / "run"
    environ = {
        "PBX_SPEECH_SERVICE": settings["PBX_SPEECH_SERVICE"],
        "PBX_SPEECH_DIR": str(speech_dir),
    }
    port, logfile = free_port(), work / f"odoo-{mode}.log"
    url = f"http://127.0.0.1:{port}"
    process = odoo.serve(port, settings["hard"], environ, logfile)
    rows = []
    try:
        if not wait_ready(url, process):
            sys.exit(f"Odoo ({mode}) did not start; see {logfile}")
        admin = Session(url, args.db)
        tag = f"{mode}-{int(time.time())}"
        pbxes = {}
        for name, engine, language in (("ko", "vosk", "ko"), ("en", "whisper", "en-us")):
            pbx_id = admin.call(
                "phone.pbx",
                "create",
                [
                    {
                        "name": f"Bench {name} {tag}",
                        "kind": "webhook",
                        "timezone": "Asia/Seoul",
                        "transcription_backend": engine,
                        "transcription_language": language,
                    }
                ],
            )[0]
            token = admin.call("phone.pbx", "read", [pbx_id], ["token"])[0]["token"]
            pbxes[name] = (pbx_id, token)
        existing = {row["name"] for row in admin.call("phone.keyword", "search_read", [], ["name"])}
        for keyword in KEYWORDS:
            if keyword not in existing:
                admin.call("phone.keyword", "create", [{"name": keyword}])
        cron = admin.call(
            "ir.model.data",
            "search_read",
            [("module", "=", common.MODULE), ("name", "=", "ir_cron_phone_analyse_recordings")],
            ["res_id"],
        )[0]["res_id"]
        speech_socket = speech_dir / service.SOCKET_NAME

        def speech_pid():
            answer = service.ping(speech_socket, timeout=0.5) if speech_socket.exists() else None
            return answer["pid"] if answer else None

        state = {"speech": None}

        def speech():
            if state["speech"] is None or not status_of(state["speech"]):
                state["speech"] = speech_pid()
            return state["speech"]

        start = datetime.now(UTC) - timedelta(minutes=30)
        for index, (clip, pbx) in enumerate((("ko", "ko"), ("en", "en"), ("ko2", "ko"))):
            pbx_id, token = pbxes[pbx]
            external_id = f"bench-{tag}-{index}"
            call = {
                "external_id": external_id,
                "direction": "incoming",
                "status": "answered",
                "from_number": f"+8225550{1000 + index}",
                "start": (start + timedelta(minutes=index)).isoformat(),
                "talk_seconds": 8,
                "recording": f"{external_id}.wav",
            }
            base = f"{url}/phone_call_accounting/pbx/{pbx_id}/calls"
            call_id = post(base, token, [call])["results"][0]["call_id"]
            post(f"{base}/{external_id}/recording", token, clips[clip], "audio/wav")
            worker = http_worker(process.pid)
            before = status_of(worker)
            recycled_before = logfile.read_text(errors="replace").count("virtual memory limit")
            sampler = Sampler(lambda: http_worker(process.pid), speech, args.interval)
            sampler.start()
            started = time.monotonic()
            admin.call("ir.cron", "method_direct_trigger", [cron])
            seconds = time.monotonic() - started
            time.sleep(1.0)  # a worker over limit_memory_soft is replaced after the request
            peaks = sampler.stop()
            after_worker = http_worker(process.pid)
            recycled = logfile.read_text(errors="replace").count("virtual memory limit")
            result = admin.call(
                "phone.call",
                "read",
                [call_id],
                ["analysis_state", "analysis_error", "transcript", "keyword_ids"],
            )[0]
            speech_now = status_of(speech()) if speech() else None
            rows.append(
                {
                    "mode": mode,
                    "call": clip,
                    "engine": "vosk ko" if pbx == "ko" else "whisper en",
                    "state": result["analysis_state"],
                    "error": result["analysis_error"] or "",
                    "transcript": (result["transcript"] or "")[:80],
                    "keywords": len(result["keyword_ids"]),
                    "seconds": round(seconds, 1),
                    "worker_before": before,
                    "worker_peak": peaks["worker"],
                    "worker_after": status_of(after_worker),
                    "worker_pid": worker,
                    "recycled": recycled > recycled_before,
                    "speech_peak": peaks["speech"],
                    "speech_after": speech_now,
                }
            )
            row = rows[-1]
            say(
                f"{mode} {clip}: {row['state']} in {row['seconds']} s, worker peak "
                f"{row['worker_peak']}, speech peak {row['speech_peak']}"
                + (" (worker recycled)" if row["recycled"] else "")
                + (f" - {row['error'][:120]}" if row["error"] else "")
            )
    finally:
        stop_group(process)
        answer = service.ping(speech_dir / service.SOCKET_NAME, timeout=1)
        if answer:
            os.kill(answer["pid"], signal.SIGTERM)
        shutil.rmtree(speech_dir.parent, ignore_errors=True)
    return rows


def table(rows):
    def mb(status, key):
        return f"{status[key]:,}" if status and status.get(key) else "-"

    headers = [
        "mode",
        "call",
        "engine",
        "state",
        "s",
        "worker RSS peak",
        "worker VmSize peak",
        "worker VmSize after",
        "recycled",
        "speech RSS peak",
        "speech VmSize peak",
    ]
    body = [
        [
            row["mode"],
            row["call"],
            row["engine"],
            row["state"],
            row["seconds"],
            mb(row["worker_peak"], "VmRSS"),
            mb(row["worker_peak"], "VmSize"),
            mb(row["worker_after"], "VmSize"),
            "yes" if row["recycled"] else "no",
            mb(row["speech_peak"], "VmRSS"),
            mb(row["speech_peak"], "VmSize"),
        ]
        for row in rows
    ]
    common.print_table("MB; limit_memory_soft 2048, limit_memory_hard 2560", headers, body)
    for row in rows:
        if row["error"]:
            print(f"  {row['mode']} {row['call']}: {row['error']}")


def main(argv=None):
    args = parse_args(argv)
    if not Path(args.odoo_python).exists():
        sys.exit(f"no Odoo python at {args.odoo_python}")
    if os.path.abspath(args.odoo_python) != os.path.abspath(sys.executable):
        common.rerun_with_odoo_python(args, "run with Odoo's python")
    work = Path(tempfile.mkdtemp(prefix="pca-bench-speech-"))
    try:
        odoo = Odoo(args, work)
        exists = (
            subprocess.run(
                ["psql", "-Atc", "select 1", "-d", args.db], capture_output=True, check=False
            ).returncode
            == 0
        )
        if exists and not args.reuse:
            subprocess.run(["dropdb", args.db], check=True)
            exists = False
        if not exists:
            odoo.install()
        clips = make_clips(work)
        rows = []
        for mode in args.modes.split(","):
            say(f"mode {mode}")
            rows += run_mode(args, odoo, work, mode.strip(), clips)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "bench_speech_service.json").write_text(json.dumps(rows, indent=2))
        table(rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
