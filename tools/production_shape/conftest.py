"""The production-shape stage of the test command (tools/run_tests.sh).

The addon's test database is served the way production serves it: prefork
HTTP workers, a cron worker and the websocket (gevent) worker, with Odoo's
default memory limits. The tests talk to it only over 127.0.0.1, as the web
client and a PBX do.

Variables (set by run_tests.sh): PCA_PROD_DB, PCA_PROD_PYTHON, PCA_PROD_SRC,
PCA_PROD_ADDONS, PCA_PROD_LOG, PCA_PROD_DATA (the suite's data dir: its
filestore holds the database's attachments). Without them the stage is skipped.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from stage_nginx import UNVERIFIED, Nginx, available

REQUIRED = (
    "PCA_PROD_DB",
    "PCA_PROD_PYTHON",
    "PCA_PROD_SRC",
    "PCA_PROD_ADDONS",
    "PCA_PROD_LOG",
    "PCA_PROD_DATA",
)
START_TIMEOUT = 120


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url, deadline, process):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def _wait_for_port(port, deadline, process):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


def launcher(src):
    """Odoo's launcher script: in prefork mode the master starts the websocket
    worker as ``python sys.argv[0] gevent ...``, which ``python -m odoo``
    (argv[0] .../odoo/__main__.py) cannot be."""
    for relative in ("odoo-bin", "setup/odoo"):
        path = os.path.join(src, relative)
        if os.path.isfile(path):
            return path
    pytest.fail(f"no odoo-bin or setup/odoo launcher in {src}")
    return None


class Server:
    """An Odoo started in prefork mode on the test database."""

    def __init__(self):
        self.db = os.environ["PCA_PROD_DB"]
        self.log = os.environ["PCA_PROD_LOG"]
        self.http_port, self.gevent_port = _free_port(), _free_port()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.log)  # Odoo appends: the stage reads this run's lines only
        self.url = f"http://127.0.0.1:{self.http_port}"
        command = [
            os.environ["PCA_PROD_PYTHON"],
            launcher(os.environ["PCA_PROD_SRC"]),
            f"--addons-path={os.environ['PCA_PROD_ADDONS']}",
            f"--database={self.db}",
            f"--db-filter=^{self.db}$",
            "--http-interface=127.0.0.1",
            f"--http-port={self.http_port}",
            f"--gevent-port={self.gevent_port}",
            "--workers=2",
            # As behind the kit's nginx: X-Forwarded-* headers are read.
            "--proxy-mode",
            "--max-cron-threads=1",
            # Odoo's default memory limits, said aloud: the shape users run.
            "--limit-memory-soft=2147483648",
            "--limit-memory-hard=2684354560",
            f"--data-dir={os.environ['PCA_PROD_DATA']}",
            f"--logfile={self.log}",
            "--log-level=info",
        ]
        env = dict(os.environ, PYTHONPATH=os.environ["PCA_PROD_SRC"])
        # What does not reach the log file: a worker process that dies before
        # its logging is set up (the websocket worker's import errors).
        self.stderr = self.log + ".stderr"
        with open(self.stderr, "wb") as stderr:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        return _wait_for(f"{self.url}/web/health", deadline, self.process) and _wait_for_port(
            self.gevent_port, deadline, self.process
        )

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def log_text(self):
        """The log file, then whatever the processes wrote to their stderr."""
        text = []
        for path in (self.log, self.stderr):
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    text.append(handle.read())
            except OSError:
                pass
        return "\n".join(text)


class Session:
    """A logged-in web client: its session cookie and JSON-RPC calls, to the
    server directly or through a proxy (``url``)."""

    def __init__(self, server, login, password, url=None):
        self.server = server
        self.url = url or server.url
        handlers = [urllib.request.HTTPCookieProcessor()]
        if self.url.startswith("https:"):
            handlers.append(urllib.request.HTTPSHandler(context=UNVERIFIED))
        self.opener = urllib.request.build_opener(*handlers)
        result = self.rpc(
            "/web/session/authenticate",
            {"db": server.db, "login": login, "password": password},
        )
        self.uid = result["uid"]
        self.cookie = next(
            f"session_id={cookie.value}"
            for handler in self.opener.handlers
            if isinstance(handler, urllib.request.HTTPCookieProcessor)
            for cookie in handler.cookiejar
            if cookie.name == "session_id"
        )

    def rpc(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        request = urllib.request.Request(
            self.url + path,
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with self.opener.open(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("error"):
            raise AssertionError(f"{path}: {answer['error']}")
        return answer.get("result")  # a method that returns nothing answers no result

    def call(self, model, method, *args, **kwargs):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


@pytest.fixture(scope="session")
def server():
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(
            f"the production-shape stage needs {', '.join(missing)} (run_tests.sh sets them)"
        )
    server = Server()
    try:
        if not server.wait_ready():
            tail = server.log_text()[-4000:]
            pytest.fail(f"Odoo in prefork mode did not serve HTTP and websocket:\n{tail}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def admin(server):
    return Session(server, "admin", "admin")


@pytest.fixture(scope="session")
def nginx(server, tmp_path_factory):
    """The deployment kit's nginx site in front of the server."""
    if not available():
        pytest.skip("nginx and openssl are not installed (tools/setup_odoo.py installs them)")
    proxy = Nginx(tmp_path_factory.mktemp("nginx"), server.http_port, server.gevent_port)
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def admin_via_nginx(server, nginx):
    return Session(server, "admin", "admin", url=nginx.url)
