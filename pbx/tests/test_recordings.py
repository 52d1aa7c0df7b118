import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest

from pbx.recordings import RecordingError, check_audio, expand, fetch_file, fetch_url, sniff


def wav_bytes(seconds=0.2, rate=8000):
    buffer = BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x01" * int(seconds * rate))
    return buffer.getvalue()


WAV = wav_bytes()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append((self.path, self.headers.get("Authorization")))
        if self.path == "/ok.wav":
            self._send(200, WAV)
        elif self.path == "/slow.wav":
            time.sleep(1.5)
            self._send(200, WAV)
        elif self.path == "/big.wav":
            self._send(200, WAV + b"\x00" * 5000)
        elif self.path == "/text.wav":
            self._send(200, b"<html>login</html>")
        elif self.path == "/secret.wav":
            self._send(401, b"")
        else:
            self._send(404, b"not here")

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that timed out closes the socket under the slow answer.
        pass


@pytest.fixture(scope="module")
def server():
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    httpd.hits = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", httpd
    httpd.shutdown()


def test_download_wav_with_credentials(server):
    base, httpd = server
    recording = fetch_url(f"{base}/ok.wav", auth=("pbx", "secret"))
    assert recording.mimetype == "audio/wav"
    assert recording.data == WAV
    assert recording.filename == "ok.wav"
    assert httpd.hits[-1][1].startswith("Basic ")


@pytest.mark.parametrize(
    ("path", "reason", "retry"),
    [
        ("/missing.wav", "404", True),
        ("/secret.wav", "refused the credentials", True),
        ("/text.wav", "not an audio file", False),
    ],
)
def test_download_failures(server, path, reason, retry):
    with pytest.raises(RecordingError, match=reason) as info:
        fetch_url(server[0] + path)
    assert info.value.retry is retry


def test_download_timeout_and_size_limit(server):
    with pytest.raises(RecordingError, match="did not answer") as info:
        fetch_url(server[0] + "/slow.wav", timeout=0.5)
    assert info.value.retry
    with pytest.raises(RecordingError, match="larger than") as info:
        fetch_url(server[0] + "/big.wav", max_bytes=len(WAV) + 10)
    assert not info.value.retry


def test_unreachable_host_is_retried():
    with pytest.raises(RecordingError, match="cannot reach") as info:
        fetch_url("http://127.0.0.1:9/x.wav", timeout=1)
    assert info.value.retry


def test_local_directory(tmp_path):
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026" / "a.wav").write_bytes(WAV)
    assert fetch_file(tmp_path, "2026/a.wav").data == WAV
    assert fetch_file(tmp_path, str(tmp_path / "2026" / "a.wav")).mimetype == "audio/wav"
    with pytest.raises(RecordingError, match="outside"):
        fetch_file(tmp_path, "../../etc/passwd")
    with pytest.raises(RecordingError, match="does not exist"):
        fetch_file(tmp_path, "2026/b.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        fetch_file(tmp_path, "empty.wav")


def test_sniff_and_check():
    assert sniff(WAV) == "audio/wav"
    assert sniff(b"ID3\x04rest") == "audio/mpeg"
    assert sniff(b"OggS\x00") == "audio/ogg"
    assert sniff(b"RIFF\x00\x00\x00\x00AVI ") is None
    assert sniff(b"PK\x03\x04") is None
    with pytest.raises(RecordingError, match="empty"):
        check_audio(b"", "x.wav")


def test_expand_template():
    from datetime import datetime

    url = expand(
        "https://pbx/monitor/{year}/{month}/{day}/{name}?id={external_id}",
        "/var/spool/asterisk/monitor/in-201.wav",
        datetime(2026, 11, 7, 9),
        "1.2",
    )
    assert url == "https://pbx/monitor/2026/11/07/in-201.wav?id=1.2"
    assert expand("/{path}", "/a/b.wav") == "/a/b.wav"
