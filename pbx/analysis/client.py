"""The workers' side of the speech process (:mod:`.service`).

:func:`analyse` is what the addon calls for a recording: it sends the
recording to this machine's speech process and returns its transcript and
keyword hits, starting the process first when none answers. The worker
never loads a model, so it stays far under Odoo's ``limit_memory_soft``.

Failures are said by the exception's class:

* :class:`SpeechServiceUnavailable`: no process answers and none could be
  started (or starting is off). Nothing was tried on the recording: the
  call waits for the next run, no attempt counted. For
  :data:`RETRY_AFTER` seconds after such a failure the client does not try
  again (a batch of calls fails fast instead of starting a process per call);
* :class:`SpeechServiceCrashed`: the process ended while it analysed the
  recording, was started again, and ended again on the same recording: the
  recording itself may be what kills it, so this counts as an attempt;
* the engine's own errors (:class:`~.transcribe.EngineUnavailableError`,
  :class:`~.transcribe.UnsupportedLanguageError`, :class:`~.audio.AudioError`,
  ...), raised as if the engine had run in the worker.

A process that ends while it analyses (a crash, a kill, the OOM killer) is
started again and the recording sent once more, so one crash costs no call
its analysis. A process running older code (the addon was upgraded) is
retired and replaced the same way.

Configuration (environment of the Odoo service):

* ``PBX_SPEECH_SERVICE``: ``auto`` (default: the speech process, started on
  demand), ``external`` (the speech process, never started by a worker: the
  systemd units or an operator run it), ``off`` (each worker loads the
  models itself, as before: needs a raised ``limit_memory_hard``);
* ``PBX_SPEECH_DIR``: the runtime folder of the socket (see
  :func:`~.service.runtime_dir`);
* ``PBX_SPEECH_IDLE``: seconds a process started on demand waits without a
  request before it exits (default 1800);
* ``PBX_SPEECH_TIMEOUT``: seconds a worker waits for one recording's answer
  (default 1800).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import service, transcribe

__all__ = [
    "RETRY_AFTER",
    "SpeechClient",
    "SpeechServiceCrashed",
    "SpeechServiceError",
    "SpeechServiceUnavailable",
    "analyse",
    "default_client",
    "mode",
]

_logger = logging.getLogger(__name__)

RETRY_AFTER = 30.0  # seconds without a new start after one failed
START_TIMEOUT = 150.0  # a retiring process may still finish a long recording
TIMEOUT = 1800.0
# The folder holding the pbx package: the speech process runs as
# "python -m pbx.analysis.service" from there, as the listener does.
ROOT = Path(__file__).resolve().parents[2]
MODES = ("auto", "external", "off")
MAX_STALE = 3  # code edited again while the new process started: tried so often


class SpeechServiceError(transcribe.TranscriptionError):
    """The speech process did not answer this request."""


class SpeechServiceUnavailable(SpeechServiceError):
    """No speech process answers, and none could be started: nothing was
    tried on the recording."""


class SpeechServiceCrashed(SpeechServiceError):
    """The speech process ended while analysing this recording, twice."""


class _Lost(Exception):
    """The connection ended before the answer."""


def _float_env(name, default):
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


def mode(environ=None) -> str:
    """``auto``, ``external`` or ``off``: ``PBX_SPEECH_SERVICE``."""
    environ = os.environ if environ is None else environ
    value = (environ.get("PBX_SPEECH_SERVICE") or "auto").strip().lower()
    aliases = {"on": "auto", "1": "auto", "yes": "auto", "0": "off", "no": "off", "false": "off"}
    value = aliases.get(value, value)
    return value if value in MODES else "auto"


class SpeechClient:
    """Requests to the speech process in ``directory``; ``autostart``
    starts it (detached, ``python -m pbx.analysis.service serve --detach``)
    when none answers."""

    def __init__(
        self,
        directory=None,
        *,
        autostart=True,
        timeout=None,
        start_timeout=START_TIMEOUT,
        idle_timeout=None,
        python=None,
        env=None,
    ):
        self.directory = Path(directory) if directory else service.runtime_dir()
        self.autostart = autostart
        self.timeout = timeout if timeout is not None else _float_env("PBX_SPEECH_TIMEOUT", TIMEOUT)
        self.start_timeout = start_timeout
        self.idle_timeout = idle_timeout
        self.python = python or sys.executable
        self.env = env
        self.starts = 0  # processes this client started (tests, benchmarks)
        self._down_until = 0.0
        self._down_reason = ""
        self._start_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.directory / service.SOCKET_NAME

    # -- connecting and starting

    def _connect_once(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10.0)
        try:
            sock.connect(str(self.path))
        except BaseException:
            sock.close()
            raise
        return sock

    def _connect(self, start=True):
        if time.monotonic() < self._down_until:
            raise SpeechServiceUnavailable(self._down_reason)
        try:
            return self._connect_once()
        except (FileNotFoundError, ConnectionRefusedError) as error:
            if not (start and self.autostart):
                raise SpeechServiceUnavailable(
                    f"no speech process answers at {self.path} ({error.strerror}); start it with "
                    "'systemctl start phone-call-speech.socket' or let Odoo start it "
                    "(PBX_SPEECH_SERVICE=auto)"
                ) from error
        except OSError as error:
            raise self._down(f"cannot reach the speech process at {self.path}: {error}") from error
        with self._start_lock:
            try:  # another thread of this worker may have started it meanwhile
                return self._connect_once()
            except (FileNotFoundError, ConnectionRefusedError):
                self._start()
        deadline = time.monotonic() + 10.0
        while True:
            try:
                return self._connect_once()
            except (FileNotFoundError, ConnectionRefusedError) as error:
                if time.monotonic() > deadline:
                    raise self._down(
                        f"the speech process started but {self.path} does not answer ({error})"
                    ) from error
                time.sleep(0.1)

    def _down(self, reason):
        self._down_until = time.monotonic() + RETRY_AFTER
        self._down_reason = reason
        _logger.warning("speech process unavailable: %s", reason)
        return SpeechServiceUnavailable(reason)

    def _start(self):
        command = [self.python, "-m", "pbx.analysis.service", "serve", "--detach"]
        command += ["--dir", str(self.directory)]
        if self.idle_timeout is not None:
            command += ["--idle-timeout", str(self.idle_timeout)]
        _logger.info("starting the speech process: %s", " ".join(command))
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.start_timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise self._down(f"cannot start the speech process: {error}") from error
        said = (done.stdout.strip().splitlines() or [""])[-1]
        if done.returncode or not said.startswith(("ready", "running")):
            detail = said or (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise self._down(
                f"the speech process did not start ({detail}); see "
                f"{self.directory / service.LOG_NAME}"
            )
        if said.startswith("ready"):
            self.starts += 1
        _logger.info("speech process: %s", said)

    # -- requests

    def _exchange(self, header, payload, start):
        sock = self._connect(start)
        with sock:
            sock.settimeout(self.timeout)
            try:
                service.send_message(sock, header, payload)
                return service.recv_message(sock)[0]
            except TimeoutError as error:
                raise SpeechServiceError(
                    f"the speech process gave no answer within {self.timeout:g} s"
                ) from error
            except (service.ConnectionClosed, ConnectionError) as error:
                raise _Lost(str(error)) from error

    def request(self, header, payload=None, *, start=True) -> dict:
        """Send one request; the answer (``ok`` true or not). A process that
        ends before answering is started again and the request sent once
        more; one that runs older code than the disk's is replaced."""
        lost = stale = 0
        while True:
            try:
                answer = self._exchange(header, payload, start)
            except _Lost as error:
                lost += 1
                if lost > 1:
                    raise SpeechServiceCrashed(
                        "the speech process ended while analysing this recording, twice "
                        f"({error}); see {self.directory / service.LOG_NAME}"
                    ) from error
                _logger.warning("the speech process ended during a request (%s): again", error)
                continue
            error = answer.get("error") or {}
            if error.get("type") == "StaleService" and stale < MAX_STALE:
                stale += 1
                _logger.info("the speech process ran older code, replaced: %s", error["message"])
                continue
            return answer

    def ping(self, start=False) -> dict | None:
        """The process's status (pid, models, memory), or None if none answers."""
        try:
            return self._exchange({"op": "ping"}, None, start)
        except (SpeechServiceError, _Lost):
            return None

    def retire(self) -> bool:
        """Ask the running process to finish its requests and exit."""
        try:
            return bool(self._exchange({"op": "retire"}, None, False).get("ok"))
        except (SpeechServiceError, _Lost):
            return False

    def analyse(self, path, engine, language, keywords=(), *, send_audio=True, second_listen=None):
        """``(transcript, hits)`` of the recording at ``path``, from the
        speech process (see :func:`~.service.transcribe_and_spot`).
        ``send_audio``: the bytes go over the socket (the process may not see
        the worker's files: systemd's PrivateTmp); otherwise only the path."""
        header = {
            "op": "analyse",
            "engine": engine,
            "language": language,
            "keywords": list(keywords or ()),
            "suffix": Path(path).suffix or ".wav",
        }
        if second_listen is not None:
            header["second_listen"] = second_listen
        payload = None
        if send_audio:
            payload = Path(path).read_bytes()
        else:
            header["path"] = str(Path(path).resolve())
        answer = self.request(header, payload)
        if not answer.get("ok"):
            raise service.decode_error(answer.get("error") or {})
        transcript = service.decode_transcript(answer["transcript"])
        hits = [service.decode_hit(hit) for hit in answer.get("hits") or ()]
        return transcript, hits


_CLIENTS: dict[tuple, SpeechClient] = {}
_CLIENTS_LOCK = threading.Lock()


def default_client() -> SpeechClient:
    """The client of this process for the configured folder and mode."""
    key = (str(service.runtime_dir()), mode())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = SpeechClient(key[0], autostart=key[1] == "auto")
            _CLIENTS[key] = client
        return client


def analyse(path, engine, language, keywords=(), second_listen=None):
    """``(transcript, hits)`` of a recording: from the speech process, or in
    this process when ``PBX_SPEECH_SERVICE=off``."""
    keywords = list(keywords or ())
    if mode() == "off":
        return service.transcribe_and_spot(
            path, engine, language, keywords, second_listen=second_listen
        )
    return default_client().analyse(path, engine, language, keywords, second_listen=second_listen)
