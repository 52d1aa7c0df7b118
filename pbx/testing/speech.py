"""Build real test audio with Debian's espeak-ng, sox and ffmpeg.

Every helper writes a file and returns its path. Speech is trimmed of the
leading and trailing silence espeak-ng adds, so ``duration(path)`` of a
spoken file is the length of the speech itself: that is the reference the
analysis tests compare against. A test that needs a missing tool is skipped
(``unittest.SkipTest``, which pytest and Odoo's test runner both honour).

The Odoo tests take whole calls as WAV bytes: :func:`spoken_wav` and
:func:`stereo_call_wav` (untrimmed speech, 8 kHz like a MixMonitor file).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import unittest
import wave
from pathlib import Path

# en-us+f5 at 160 words/minute is the espeak-ng voice pocketsphinx's en-us
# model understands best (measured: see pbx/tests/test_transcribe.py).
VOICE = "en-us+f5"
WPM = 160
RATE = 8000  # telephone recordings
LAWYER = "I want to talk to a lawyer"


def require(*tools: str) -> None:
    """Skip the calling test unless every named program is installed."""
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        raise unittest.SkipTest(f"needs {', '.join(missing)} (apt-get install {' '.join(missing)})")


def _run(*command: str | Path) -> None:
    require(str(command[0]))
    if command[0] == "sox":
        # no dither, repeatable random numbers: the same call gives the same samples
        command = ("sox", "-D", "-R", *command[1:])
    done = subprocess.run(
        [str(part) for part in command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(map(str, command))} failed: {done.stderr.strip()}")


def speak(
    text: str,
    path: str | Path,
    *,
    rate: int = RATE,
    voice: str = VOICE,
    wpm: int = WPM,
    trim: bool = True,
) -> Path:
    """Say ``text`` into a mono 16-bit WAV at ``rate`` Hz."""
    path = Path(path)
    raw = path.with_name(path.stem + ".espeak.wav")
    _run("espeak-ng", "-v", voice, "-s", str(wpm), "-w", raw, text)
    effects = ["rate", str(rate)]
    if trim:
        # drop what is under -60 dBFS at both ends
        edge = ["silence", "1", "0.01", "0.1%"]
        effects = [*edge, "reverse", *edge, "reverse", *effects]
    _run("sox", raw, "-b", "16", "-c", "1", path, *effects)
    raw.unlink()
    return path


def silence(seconds: float, path: str | Path, *, rate: int = RATE) -> Path:
    """A mono WAV of digital silence."""
    _run("sox", "-n", "-r", str(rate), "-b", "16", "-c", "1", path, "trim", "0", f"{seconds}")
    return Path(path)


def noise(seconds: float, path: str | Path, *, db: float = -45.0, rate: int = RATE) -> Path:
    """A mono WAV of white noise at about ``db`` dBFS (line hiss)."""
    amplitude = 10 ** (db / 20) * 3**0.5  # uniform noise: rms = amplitude / sqrt(3)
    _run(
        "sox", "-n", "-r", str(rate), "-b", "16", "-c", "1", path,
        "synth", f"{seconds}", "whitenoise", "vol", f"{amplitude:.6f}",
    )  # fmt: skip
    return Path(path)


def sox(*arguments: str | Path) -> None:
    """Run sox without dither and with repeatable random numbers."""
    _run("sox", *arguments)


def mix(paths: list[str | Path], path: str | Path) -> Path:
    """Add mono files together, sample by sample, at their own levels."""
    arguments = [part for source in paths for part in ("-v", "1", source)]
    _run("sox", "-m", *arguments, path)
    return Path(path)


def concat(paths: list[str | Path], path: str | Path) -> Path:
    """Join mono files one after another."""
    _run("sox", *paths, path)
    return Path(path)


def sequence(
    parts: list[str | float],
    path: str | Path,
    *,
    rate: int = RATE,
    voice: str = VOICE,
    wpm: int = WPM,
) -> Path:
    """Speech and silences in order: strings are spoken, numbers are seconds of silence."""
    path = Path(path)
    pieces = []
    for index, part in enumerate(parts):
        piece = path.with_name(f"{path.stem}.part{index}.wav")
        if isinstance(part, str):
            speak(part, piece, rate=rate, voice=voice, wpm=wpm)
        else:
            silence(part, piece, rate=rate)
        pieces.append(piece)
    concat(pieces, path)
    for piece in pieces:
        piece.unlink()
    return path


def delay(source: str | Path, seconds: float, path: str | Path) -> Path:
    """``source`` preceded by ``seconds`` of silence."""
    _run("sox", source, path, "pad", f"{seconds}", "0")
    return Path(path)


def pad_to(source: str | Path, seconds: float, path: str | Path) -> Path:
    """``source`` followed by silence up to a total of ``seconds``."""
    missing = seconds - duration(source)
    if missing < 0:
        raise ValueError(f"{source} is longer than {seconds} s")
    _run("sox", source, path, "pad", "0", f"{missing}")
    return Path(path)


def gain(source: str | Path, db: float, path: str | Path) -> Path:
    """``source`` made ``db`` decibels louder (negative: quieter)."""
    _run("sox", source, path, "gain", f"{db}")
    return Path(path)


def stereo(left: str | Path, right: str | Path, path: str | Path) -> Path:
    """A two-channel file, left and right from two mono files (shorter one padded)."""
    _run("sox", "-M", left, right, path)
    return Path(path)


def to_format(source: str | Path, path: str | Path) -> Path:
    """Convert with ffmpeg (mp3, ogg, ...) or sox for ``.gsm``/``.ul``/``.al`` raw files."""
    path = Path(path)
    if path.suffix in {".gsm", ".ul", ".al", ".ulaw", ".alaw", ".sln"}:
        kind = {".ulaw": "ul", ".alaw": "al", ".sln": "s16"}.get(path.suffix, path.suffix[1:])
        _run("sox", source, "-r", "8000", "-c", "1", "-t", kind, path)
    else:
        _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", source, path)
    return path


def duration(path: str | Path) -> float:
    """Length in seconds, as sox sees it."""
    require("soxi")
    done = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(done.stdout)


def tools_missing() -> list[str]:
    """The programs :func:`spoken_wav` and :func:`stereo_call_wav` need and do not find."""
    return [tool for tool in ("espeak-ng", "sox") if not shutil.which(tool)]


def spoken_wav(text: str = LAWYER) -> bytes:
    """WAV bytes of ``text``, 8 kHz mono like a MixMonitor recording.

    Without espeak-ng and sox: a one-second tone, enough for download tests.
    """
    if tools_missing():
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(bytes(range(256)) * 62)
        return buffer.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        return speak(text, Path(tmp, "call.wav"), trim=False).read_bytes()


def stereo_call_wav(
    left_text: str, right_text: str, gap: float = 1.0
) -> tuple[bytes, float, float]:
    """Two-sided 8 kHz call: the left side speaks, then after ``gap`` s the right side.

    Returns the WAV bytes and how long each side speaks.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        left = speak(left_text, tmp / "left.wav", trim=False)
        right = speak(right_text, tmp / "right.wav", trim=False)
        left_seconds, right_seconds = duration(left), duration(right)
        late = delay(right, left_seconds + gap, tmp / "late.wav")
        padded = tmp / "left_padded.wav"
        sox(left, padded, "pad", "0", "10")
        out = tmp / "call.wav"
        total = left_seconds + gap + right_seconds + 0.5
        sox("-M", padded, late, out, "trim", "0", f"{total}")
        return out.read_bytes(), left_seconds, right_seconds
