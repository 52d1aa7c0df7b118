"""Fetching call recordings from where a PBX keeps them.

A recording arrives as a file name; the PBX's settings say where that name
lives: an HTTP(S) URL template or a local (mounted) directory. Whatever the
road, the bytes are size-limited and must look like audio before anyone
stores them.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_CHUNK = 64 * 1024
# Audio containers PBXes write, by their first bytes.
_MAGIC = (
    (b"RIFF", "audio/wav"),
    (b"RF64", "audio/wav"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"\xff\xf2", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"#!AMR", "audio/amr"),
)


class RecordingError(Exception):
    """Why a recording could not be had; ``retry`` says if trying later may help."""

    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(reason)
        self.retry = retry


@dataclass(frozen=True)
class Recording:
    data: bytes
    mimetype: str
    filename: str


def sniff(data: bytes) -> str | None:
    """The audio MIME type of ``data``, or None when it is not audio we know."""
    if data[:4] == b"RIFF" and data[8:12] != b"WAVE":
        return None
    for magic, mimetype in _MAGIC:
        if data.startswith(magic):
            return mimetype
    return None


def check_audio(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Recording:
    if not data:
        raise RecordingError(f"{filename} is empty", retry=False)
    if len(data) > max_bytes:
        raise RecordingError(f"{filename} is larger than {max_bytes} bytes", retry=False)
    mimetype = sniff(data)
    if not mimetype:
        raise RecordingError(f"{filename} is not an audio file (WAV, MP3, OGG, FLAC)", retry=False)
    return Recording(data, mimetype, posixpath.basename(filename) or "recording")


def expand(template: str, name: str, start: datetime | None = None, external_id: str = "") -> str:
    """Fill ``{name}`` (base name), ``{path}`` (as the PBX gave it), ``{year}``,
    ``{month}``, ``{day}`` (of the call's start) and ``{external_id}``.

    >>> expand("https://pbx/rec/{year}/{month}/{day}/{name}", "a.wav", datetime(2026, 1, 2))
    'https://pbx/rec/2026/01/02/a.wav'
    """
    start = start or datetime.min
    return template.format(
        name=posixpath.basename(name),
        path=name.lstrip("/"),
        year=f"{start.year:04d}",
        month=f"{start.month:02d}",
        day=f"{start.day:02d}",
        external_id=external_id,
    )


def fetch_url(
    url: str,
    auth: tuple[str, str] | None = None,
    timeout: float = 20,
    max_bytes: int = DEFAULT_MAX_BYTES,
    verify: bool = True,
) -> Recording:
    """Download ``url`` with a size limit; raise :class:`RecordingError`."""
    try:
        with requests.get(url, auth=auth, timeout=timeout, stream=True, verify=verify) as answer:
            if answer.status_code == 404:
                raise RecordingError(f"not found on the PBX (404): {url}")
            if answer.status_code in (401, 403):
                raise RecordingError(f"the PBX refused the credentials ({answer.status_code})")
            if answer.status_code >= 400:
                raise RecordingError(f"the PBX answered {answer.status_code} for {url}")
            declared = answer.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise RecordingError(f"{url} is larger than {max_bytes} bytes", retry=False)
            data = bytearray()
            for chunk in answer.iter_content(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise RecordingError(f"{url} is larger than {max_bytes} bytes", retry=False)
    except requests.Timeout as exc:
        raise RecordingError(f"the PBX did not answer in {timeout} s: {url}") from exc
    except requests.RequestException as exc:
        raise RecordingError(f"cannot reach the PBX: {exc}") from exc
    return check_audio(bytes(data), url.rsplit("/", 1)[-1], max_bytes)


def fetch_file(directory: str | Path, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Recording:
    """Read ``name`` below ``directory``, refusing paths that leave it."""
    root = Path(directory).resolve()
    given = Path(name)
    path = (given if given.is_absolute() else root / given).resolve()
    if root not in path.parents:
        raise RecordingError(f"{name} is outside the recordings directory", retry=False)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise RecordingError(f"{path} does not exist (yet)") from exc
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from exc
    if size > max_bytes:
        raise RecordingError(f"{path.name} is larger than {max_bytes} bytes", retry=False)
    return check_audio(path.read_bytes(), path.name, max_bytes)
