"""The speech process: speech models loaded once per machine, not once per worker.

Odoo caps every worker's address space (``limit_memory_hard``, 2.5 GiB by
default, set as the soft RLIMIT_AS) and recycles a worker whose virtual size
passed ``limit_memory_soft`` (2 GiB) after a request. Speech models reserve
far more than that (Vosk's Korean model 2.1 GB, Kiwi 1.3 GB, Whisper base
0.4 GB), so the workers do not load them: they send each recording to this
process beside Odoo, which keeps the models and answers over a Unix socket.

``python -m pbx.analysis.service serve`` (from the addon's folder) runs it.
:mod:`.client` starts it on demand, detached, the first time a worker needs
it; ``deploy/systemd/phone-call-speech.socket`` runs it as a service started
by systemd on the first connection instead (socket activation), outside
Odoo's limits.

Files, in the runtime folder (:func:`runtime_dir`)
--------------------------------------------------
* ``speech.sock``: the socket (mode 0600, the folder 0700);
* ``speech.lock``: held (``flock``) for as long as a process serves there,
  so one machine runs one speech process, however many workers start one;
* ``speech.log``: what a process started on demand logs.

Protocol (:func:`send_message`, :func:`recv_message`)
-----------------------------------------------------
One request and one answer per connection. A message is a 4-byte big-endian
length, that many bytes of JSON (an object), then, when the object has
``"payload": n``, ``n`` raw bytes (a recording). Requests:

* ``{"op": "ping"}``: pid, version, models loaded, memory, limits;
* ``{"op": "analyse", "engine", "language", "keywords": [...], "suffix":
  ".wav", "payload": n}`` + the recording's bytes (or ``"path"`` instead of
  the bytes, a file the process can read; optionally ``"second_listen"``,
  see :func:`transcribe_and_spot`): ``{"ok": true, "transcript": {...},
  "hits": [...]}``;
* ``{"op": "check", "engine", "language"}``: why that engine cannot
  transcribe that language, without loading a model;
* ``{"op": "retire"}``: stop taking connections, answer the requests under
  way, exit (a process of older code is retired so; systemd's socket starts
  the new one).

An answer is ``{"ok": false, "error": {"type", "message"}}`` when the
request failed; ``type`` is the exception's class name, which the client
raises again (:class:`~.transcribe.EngineUnavailableError`,
:class:`~.audio.AudioError`, ...). A process whose code on disk changed
since it started (:func:`source_version`: an upgrade, an edit) answers
``StaleService`` instead and retires; the client starts the new code's.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import importlib
import json
import logging
import os
import resource
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import memory, transcribe
from .audio import AudioError
from .keywords import Hit, keyword_hits

__all__ = [
    "PROTOCOL",
    "ConnectionClosed",
    "ProtocolError",
    "SpeechServer",
    "decode_error",
    "encode_error",
    "main",
    "recv_message",
    "runtime_dir",
    "send_message",
    "source_version",
    "transcribe_and_spot",
]

_logger = logging.getLogger(__name__)

PROTOCOL = 1
SOCKET_NAME = "speech.sock"
LOCK_NAME = "speech.lock"
LOG_NAME = "speech.log"
# Where the systemd socket unit (deploy/systemd/phone-call-speech.socket) listens.
SYSTEM_DIR = Path("/run/phone_call_accounting")
IDLE_TIMEOUT = 1800.0  # seconds without a request before a process exits (0: never)
MAX_HEADER = 1 << 20
MAX_PAYLOAD = 1 << 30
LOG_MAX_BYTES = 10 << 20
_HEADER = struct.Struct(">I")
_SOURCES = Path(__file__).resolve().parent


class ProtocolError(Exception):
    """A message that is not the protocol's."""


class ConnectionClosed(ProtocolError, EOFError):
    """The other end closed the connection before a whole message."""


# ---------------------------------------------------------------------------
# Where, and which code


def runtime_dir(environ=None) -> Path:
    """The folder of the socket: ``PBX_SPEECH_DIR``; else the systemd socket's
    folder when it is there; else ``<tmp>/phone_call_accounting-<uid>``."""
    environ = os.environ if environ is None else environ
    if environ.get("PBX_SPEECH_DIR"):
        return Path(environ["PBX_SPEECH_DIR"])
    if (SYSTEM_DIR / SOCKET_NAME).exists():
        return SYSTEM_DIR
    return Path(tempfile.gettempdir(), f"phone_call_accounting-{os.getuid()}")


_VERSION_CACHE: dict[tuple, str] = {}


def source_version() -> str:
    """A digest of the speech code on disk (this package's modules): a
    process started before an upgrade or an edit runs other code."""
    files = sorted(_SOURCES.glob("*.py"))
    stamp = tuple((path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in files)
    cached = _VERSION_CACHE.get(stamp)
    if cached is None:
        digest = hashlib.sha256(str(PROTOCOL).encode())
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        cached = digest.hexdigest()[:16]
        _VERSION_CACHE.clear()
        _VERSION_CACHE[stamp] = cached
    return cached


# ---------------------------------------------------------------------------
# Messages


def _recv_exactly(sock, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionClosed(f"connection closed with {left} of {size} bytes to come")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send_message(sock, header: dict, payload: bytes | None = None) -> None:
    """Send a JSON object, and ``payload`` after it (its length in ``header``)."""
    header = dict(header)
    if payload is not None:
        header["payload"] = len(payload)
    else:
        header.pop("payload", None)
    data = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    if len(data) > MAX_HEADER:
        raise ProtocolError(f"message of {len(data)} bytes, more than {MAX_HEADER}")
    sock.sendall(_HEADER.pack(len(data)) + data)
    if payload:
        sock.sendall(payload)


def recv_message(sock) -> tuple[dict, bytes | None]:
    """The next JSON object and the payload that follows it, if any."""
    (size,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size))
    if size > MAX_HEADER:
        raise ProtocolError(f"message of {size} bytes announced, more than {MAX_HEADER}")
    try:
        header = json.loads(_recv_exactly(sock, size))
    except ValueError as error:
        raise ProtocolError(f"message is not JSON ({error})") from error
    if not isinstance(header, dict):
        raise ProtocolError("message is not a JSON object")
    length = header.get("payload")
    if length is None:
        return header, None
    if not isinstance(length, int) or not 0 <= length <= MAX_PAYLOAD:
        raise ProtocolError(f"bad payload length {length!r}")
    return header, _recv_exactly(sock, length)


def encode_transcript(transcript: transcribe.Transcript) -> dict:
    return {
        "text": transcript.text,
        "language": transcript.language,
        "backend": transcript.backend,
        "words": [[w.text, w.start, w.end, w.confidence] for w in transcript.words],
    }


def decode_transcript(data: dict) -> transcribe.Transcript:
    return transcribe.Transcript(
        text=data.get("text") or "",
        language=data.get("language") or "",
        backend=data.get("backend") or "",
        words=tuple(transcribe.Word(*word) for word in data.get("words") or ()),
    )


def encode_hit(hit: Hit) -> dict:
    return {
        "keyword": hit.keyword,
        "start": hit.start,
        "end": hit.end,
        "heard": hit.heard,
        "source": hit.source,
    }


def decode_hit(data: dict) -> Hit:
    return Hit(
        keyword=data["keyword"],
        start=data.get("start"),
        end=data.get("end"),
        heard=data.get("heard") or "",
        source=data.get("source") or "transcript",
    )


# Errors the client raises again as themselves; anything else is a
# TranscriptionError naming the type (the worker retries it later).
_ERRORS = {
    cls.__name__: cls
    for cls in (
        transcribe.TranscriptionError,
        transcribe.UnknownBackendError,
        transcribe.UnsupportedLanguageError,
        transcribe.EngineUnavailableError,
        AudioError,
    )
}


def encode_error(error: BaseException) -> dict:
    return {"type": type(error).__name__, "message": str(error)}


def decode_error(data: dict) -> Exception:
    kind, message = data.get("type") or "Exception", data.get("message") or ""
    cls = _ERRORS.get(kind)
    if cls is not None:
        return cls(message)
    return transcribe.TranscriptionError(f"speech process: {kind}: {message}")


# ---------------------------------------------------------------------------
# The analysis itself (also what a worker runs when the process is switched off)


def transcribe_and_spot(path, engine, language, keywords, backend=None, second_listen=None):
    """``(transcript, hits)`` of a recording: the engine's transcript, told
    to expect the keywords where it can (:meth:`~.transcribe.Transcriber.
    transcribe_expecting`), and the keywords found in it, with a second
    listen as ``second_listen`` says (None: :func:`~.keywords.keyword_hits`'
    default)."""
    backend = backend or transcribe.get_backend(engine)
    transcript = backend.transcribe_expecting(path, language, keywords)
    if not keywords:
        return transcript, []
    spotter = transcribe.spotter_for(backend, language)
    options = {} if second_listen is None else {"second_listen": second_listen}
    hits = keyword_hits(
        transcript, keywords, transcript.language, spotter=spotter, path=path, **options
    )
    return transcript, hits


# ---------------------------------------------------------------------------
# The process


def process_status() -> dict:
    """VmRSS, VmSize, VmHWM and VmPeak of this process, in MB."""
    status = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _sep, value = line.partition(":")
            if key in ("VmRSS", "VmSize", "VmHWM", "VmPeak"):
                status[key] = int(value.split()[0]) // 1024
    return status


def lift_limits() -> dict:
    """Raise the soft limits a worker passed on (RLIMIT_AS: Odoo's
    ``limit_memory_hard``; RLIMIT_CPU: ``limit_time_cpu``) to their hard
    limits, as Odoo's test browser does for Chromium, and unblock the
    signals a worker's thread blocks. Returns the address-space limits."""
    for limit in (resource.RLIMIT_AS, resource.RLIMIT_CPU):
        soft, hard = resource.getrlimit(limit)
        if soft != hard:
            resource.setrlimit(limit, (hard, hard))
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    return address_space_limits()


def address_space_limits() -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    mb = 1024 * 1024
    return {
        "as_soft_mb": None if soft == resource.RLIM_INFINITY else soft // mb,
        "as_hard_mb": None if hard == resource.RLIM_INFINITY else hard // mb,
    }


def _private_dir(directory: Path) -> None:
    """Create the runtime folder 0700; refuse one that another user owns."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if info.st_uid != os.getuid():
        raise PermissionError(f"{directory} belongs to another user (uid {info.st_uid})")


def ping(path: Path, timeout: float = 5.0) -> dict | None:
    """A process's ping answer at ``path``, or None if none answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            send_message(sock, {"op": "ping"})
            answer, _payload = recv_message(sock)
            return answer
    except (OSError, ProtocolError):
        return None


class SpeechServer:
    """Answers speech requests on a Unix socket, one thread per connection,
    ``jobs`` analyses at a time, the engines (and their models) kept."""

    def __init__(self, listener, directory=None, *, idle_timeout=IDLE_TIMEOUT, jobs=None):
        """``directory``: the runtime folder whose ``speech.sock`` this
        process bound (None for a socket passed by systemd)."""
        self.listener = listener
        self.directory = Path(directory) if directory else None
        self.idle_timeout = idle_timeout or 0
        self.jobs = max(1, int(jobs or os.cpu_count() or 1))
        self.version = source_version()
        self.started = time.time()
        self.requests = 0
        self.errors = 0
        self.loaded: dict[tuple[str, str], dict] = {}
        self._backends: dict[str, transcribe.Transcriber] = {}
        self._backends_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.jobs)
        self._state = threading.Condition()
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._stopping = False
        self.stop_reason = ""

    # -- lifecycle

    def stop(self, reason="stopped"):
        """Take no new connection; the requests under way are answered."""
        with self._state:
            if not self._stopping:
                self._stopping = True
                self.stop_reason = reason
                _logger.info("speech process %s: %s", os.getpid(), reason)
                if self.directory is not None:
                    # a client that comes now starts the next process at once
                    _unbind(self.directory)
            self._state.notify_all()

    def serve_forever(self):
        """Accept connections until :meth:`stop` (or the idle timeout); the
        requests under way are still running when this returns (:meth:`wait`)."""
        self.listener.settimeout(0.5)
        try:
            while True:
                with self._state:
                    if self._stopping:
                        break
                    idle = (
                        self._in_flight == 0
                        and self.idle_timeout
                        and time.monotonic() - self._last_activity > self.idle_timeout
                    )
                if idle:
                    self.stop(f"idle for {self.idle_timeout:g} s")
                    break
                try:
                    connection, _address = self.listener.accept()
                except TimeoutError:
                    continue
                except OSError as error:
                    if error.errno in (errno.EINTR, errno.ECONNABORTED):
                        continue
                    raise
                with self._state:
                    self._in_flight += 1
                    self._last_activity = time.monotonic()
                thread = threading.Thread(
                    target=self._serve_connection, args=(connection,), daemon=True
                )
                thread.start()
        except BaseException:
            self.stop("stopped by an error")
            raise

    def wait(self, timeout=None):
        """Wait until the requests under way are answered."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._state:
            while self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._state.wait(1.0 if left is None else min(1.0, left))
        return True

    # -- requests

    def _serve_connection(self, connection):
        try:
            with connection:
                connection.settimeout(300)
                try:
                    request, payload = recv_message(connection)
                except (ProtocolError, OSError) as error:
                    _logger.warning("bad request: %s", error)
                    with contextlib.suppress(OSError):
                        send_message(connection, {"ok": False, "error": encode_error(error)})
                    return
                connection.settimeout(None)
                answer = self.handle(request, payload)
                with contextlib.suppress(OSError):
                    send_message(connection, answer)
        finally:
            with self._state:
                self._in_flight -= 1
                self._last_activity = time.monotonic()
                self._state.notify_all()

    def handle(self, request, payload=None) -> dict:
        op = request.get("op")
        on_disk = source_version() if op != "ping" else self.version
        if on_disk != self.version:
            # An upgrade or an edit changed the speech code since this process started.
            self.stop(f"retired: the code on disk is {on_disk}, this process runs {self.version}")
            return {
                "ok": False,
                "version": self.version,
                "error": {"type": "StaleService", "message": self.stop_reason},
            }
        try:
            if op == "ping":
                return {"ok": True, **self.status()}
            if op == "analyse":
                return self._analyse(request, payload)
            if op == "check":
                problem = transcribe.backend_problem(request.get("engine"), request.get("language"))
                return {"ok": True, "problem": problem}
            if op == "retire":
                self.stop("retired on request")
                return {"ok": True, "pid": os.getpid()}
            raise ProtocolError(f"unknown op {op!r}")
        except (transcribe.TranscriptionError, AudioError, ProtocolError) as error:
            self.errors += 1
            return {"ok": False, "error": encode_error(error)}
        except Exception as error:
            self.errors += 1
            _logger.exception("request %s failed", op)
            return {"ok": False, "error": encode_error(error)}

    def status(self) -> dict:
        return {
            "pid": os.getpid(),
            "version": self.version,
            "protocol": PROTOCOL,
            "started": self.started,
            "requests": self.requests,
            "errors": self.errors,
            "jobs": self.jobs,
            "idle_timeout": self.idle_timeout,
            "loaded": list(self.loaded.values()),
            "memory": process_status(),
            "limits": address_space_limits(),
        }

    def _backend(self, engine):
        key = (engine or "").strip().lower()
        with self._backends_lock:
            backend = self._backends.get(key)
            if backend is None:
                backend = transcribe.get_backend(
                    engine, **transcribe.job_options(engine, self.jobs)
                )
                self._backends[key] = backend
            return backend

    def _analyse(self, request, payload):
        engine, language = request.get("engine"), request.get("language")
        keywords = [str(keyword) for keyword in request.get("keywords") or ()]
        second_listen = request.get("second_listen")
        with self._slots:
            started = time.monotonic()
            before = process_status()
            backend = self._backend(engine)
            if payload is not None:
                suffix = str(request.get("suffix") or ".wav")
                if "/" in suffix or len(suffix) > 16:
                    suffix = ".wav"
                with tempfile.NamedTemporaryFile(suffix=suffix, prefix="speech-") as handle:
                    handle.write(payload)
                    handle.flush()
                    transcript, hits = transcribe_and_spot(
                        handle.name, engine, language, keywords, backend, second_listen
                    )
            elif request.get("path"):
                transcript, hits = transcribe_and_spot(
                    request["path"], engine, language, keywords, backend, second_listen
                )
            else:
                raise ProtocolError("analyse needs a recording (payload or path)")
            seconds = time.monotonic() - started
            self.requests += 1
            key = (backend.name, transcript.language)
            if key not in self.loaded:
                after = process_status()
                self.loaded[key] = {
                    "engine": backend.name,
                    "language": transcript.language,
                    "first_seconds": round(seconds, 2),
                    "rss_mb": after.get("VmRSS", 0) - before.get("VmRSS", 0),
                    "vms_mb": after.get("VmSize", 0) - before.get("VmSize", 0),
                }
            _logger.info(
                "%s %s: %d words, %d hits in %.1f s",
                backend.name,
                transcript.language,
                len(transcript.words),
                len(hits),
                seconds,
            )
        return {
            "ok": True,
            "pid": os.getpid(),
            "version": self.version,
            "seconds": round(seconds, 3),
            "transcript": encode_transcript(transcript),
            "hits": [encode_hit(hit) for hit in hits],
        }


# ---------------------------------------------------------------------------
# Starting: socket activation, or a socket of its own under a lock


def _activated_socket():
    """The socket systemd passed (socket activation), or None."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    if int(os.environ.get("LISTEN_FDS") or 0) < 1:
        return None
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    return socket.socket(fileno=3)


def _take_lock(directory: Path, wait: float):
    """The lock file's descriptor once this process holds it; None when a
    process of the same code serves already (or the wait ran out)."""
    lock = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            answer = ping(directory / SOCKET_NAME, timeout=2.0)
            if (answer and answer.get("version") == source_version()) or (
                time.monotonic() > deadline
            ):
                os.close(lock)
                return None
            # a process retiring, or of other code, is finishing its requests
            time.sleep(0.2)
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    return lock


def _bind(directory: Path) -> socket.socket:
    """Listen at ``speech.sock``, replacing a dead process's socket at once
    (bound under a temporary name, renamed into place)."""
    path = directory / SOCKET_NAME
    temporary = directory / f".{SOCKET_NAME}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(temporary))
    os.chmod(temporary, 0o600)
    listener.listen(64)
    os.replace(temporary, path)
    return listener


def _unbind(directory: Path) -> None:
    """Remove the socket file: this process holds the lock, the file is its own."""
    with contextlib.suppress(FileNotFoundError):
        (directory / SOCKET_NAME).unlink()


def serve(directory=None, *, idle_timeout=IDLE_TIMEOUT, jobs=None, lock_wait=120.0, ready=None):
    """Serve until stopped; returns an exit status. ``ready(message)`` is
    told ``"ready <pid>"``, ``"running <pid>"`` (another process serves
    already) or ``"error: ..."`` once that is known."""
    ready = ready or (lambda message: None)
    limits = lift_limits()
    memory.set_process("speech")
    directory = Path(directory) if directory else runtime_dir()
    activated = _activated_socket()
    lock = None
    try:
        if activated is not None:
            listener = activated
        else:
            _private_dir(directory)
            lock = _take_lock(directory, lock_wait)
            if lock is None:
                answer = ping(directory / SOCKET_NAME) or {}
                ready(f"running {answer.get('pid', '?')}")
                return 0
            listener = _bind(directory)
    except OSError as error:
        ready(f"error: {error}")
        _logger.error("speech process cannot start in %s: %s", directory, error)
        return 1
    server = SpeechServer(
        listener,
        directory if activated is None else None,
        idle_timeout=idle_timeout,
        jobs=jobs,
    )
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: server.stop(signal.Signals(signum).name))
    _logger.info(
        "speech process %s serving %s (version %s, %d jobs, address space limit %s)",
        os.getpid(),
        "a socket from systemd" if activated is not None else directory / SOCKET_NAME,
        server.version,
        server.jobs,
        f"{limits['as_soft_mb']} MB" if limits["as_soft_mb"] else "none",
    )
    ready(f"ready {os.getpid()}")
    try:
        server.serve_forever()
    finally:
        # New clients find no socket (or systemd's, which queues them) at
        # once; the requests under way are answered before the lock goes.
        server.stop(server.stop_reason or "stopped")
        listener.close()
        server.wait()
        if lock is not None:
            os.close(lock)
    _logger.info("speech process %s ended (%s)", os.getpid(), server.stop_reason)
    return 0


def _detach(directory: Path, ready_timeout: float):
    """Fork: the child serves in a session of its own, logging to
    ``speech.log``; this process returns what the child said once it is
    ready (or why not), for the worker that started it."""
    read_end, write_end = os.pipe()
    if os.fork():
        os.close(write_end)
        message, deadline = b"", time.monotonic() + ready_timeout
        while b"\n" not in message:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                return None, "error: the speech process did not start in time"
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            message += chunk
        text = message.decode(errors="replace").strip()
        return None, text or "error: the speech process ended while starting"
    os.close(read_end)
    os.setsid()
    log = directory / LOG_NAME
    with contextlib.suppress(OSError):
        if log.stat().st_size > LOG_MAX_BYTES:
            log.unlink()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)

    def ready(message):
        with contextlib.suppress(OSError):
            os.write(write_end, message.encode() + b"\n")
            os.close(write_end)

    return ready, None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m pbx.analysis.service",
        description="The speech process of phone_call_accounting: keeps the speech models "
        "and transcribes recordings for the Odoo workers of this machine over a Unix socket.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve until stopped (or idle)")
    run.add_argument(
        "--dir",
        type=Path,
        help="runtime folder of the socket and lock (default: $PBX_SPEECH_DIR, else "
        f"{SYSTEM_DIR} when its socket is there, else <tmp>/phone_call_accounting-<uid>)",
    )
    run.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help=f"exit after so many seconds without a request; 0 never (default: "
        f"$PBX_SPEECH_IDLE or {IDLE_TIMEOUT:g})",
    )
    run.add_argument(
        "--jobs", type=int, help="recordings analysed at once (default: the number of cores)"
    )
    run.add_argument(
        "--detach",
        action="store_true",
        help="serve from a process of its own session, logging to speech.log in the runtime "
        "folder; return once it listens (how a worker starts it on demand)",
    )
    run.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    status = commands.add_parser("status", help="print the running process's ping answer")
    status.add_argument("--dir", type=Path)
    stop = commands.add_parser("stop", help="retire the running process")
    stop.add_argument("--dir", type=Path)
    return parser


def load_plugins(names):
    """Import the modules named (comma-separated, ``PBX_SPEECH_PLUGINS``): a
    site's engines, registered with :func:`~.transcribe.register_backend`
    when imported, served like the shipped ones."""
    for name in (part.strip() for part in (names or "").split(",")):
        if name:
            importlib.import_module(name)


def _idle_default():
    try:
        return float(os.environ.get("PBX_SPEECH_IDLE") or IDLE_TIMEOUT)
    except ValueError:
        return IDLE_TIMEOUT


def main(argv=None):
    args = build_parser().parse_args(argv)
    directory = args.dir or runtime_dir()
    if args.command in ("status", "stop"):
        path = directory / SOCKET_NAME
        answer = ping(path)
        if answer is None:
            sys.stderr.write(f"no speech process answers at {path}\n")
            return 1
        if args.command == "stop":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(str(path))
                send_message(sock, {"op": "retire"})
                answer, _payload = recv_message(sock)
        sys.stdout.write(json.dumps(answer, indent=2) + "\n")
        return 0
    ready = None
    if args.detach:
        _private_dir(directory)
        ready, said = _detach(directory, ready_timeout=150.0)
        if ready is None:  # the parent: report and go
            sys.stdout.write(said + "\n")
            return 0 if said.startswith(("ready", "running")) else 1
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    idle = _idle_default() if args.idle_timeout is None else args.idle_timeout
    try:
        load_plugins(os.environ.get("PBX_SPEECH_PLUGINS"))
    except Exception as error:
        if ready:
            ready(f"error: a plug-in of PBX_SPEECH_PLUGINS failed to load: {error!r}")
        raise
    return serve(directory, idle_timeout=idle, jobs=args.jobs, ready=ready)


if __name__ == "__main__":
    sys.exit(main())
