"""Real audio for the Odoo tests, spoken by Debian's espeak-ng and shaped by sox."""

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

# The voice and pace pocketsphinx's en-us model understands at 8 kHz
# (measured in pbx/tests/test_transcribe.py).
VOICE = ["-v", "en-us+f5", "-s", "160"]
LAWYER = "I want to talk to a lawyer"


def tools_missing():
    return [tool for tool in ("espeak-ng", "sox") if not shutil.which(tool)]


def _run(*command):
    subprocess.run([str(part) for part in command], check=True, capture_output=True)


def _speak(text, path, rate=8000):
    raw = path.with_suffix(".raw.wav")
    _run("espeak-ng", *VOICE, "-w", raw, text)
    _run("sox", "-D", "-R", raw, "-r", str(rate), "-c", "1", path)
    return path


def _seconds(path):
    done = subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True)
    return float(done.stdout)


def spoken_wav(text=LAWYER):
    """WAV bytes of ``text``, 8 kHz mono like a MixMonitor recording.

    Without espeak-ng and sox: a one-second tone, enough for download tests.
    """
    if tools_missing():
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(bytes(range(256)) * 62)
        return buffer.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        return _speak(text, Path(tmp, "call.wav")).read_bytes()


def stereo_call_wav(left_text, right_text, gap=1.0):
    """Two-sided 8 kHz call: the left side speaks, then after ``gap`` s the right side.

    Returns the WAV bytes and how long each side speaks.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        left = _speak(left_text, tmp / "left.wav")
        right = _speak(right_text, tmp / "right.wav")
        left_seconds, right_seconds = _seconds(left), _seconds(right)
        late = tmp / "late.wav"
        _run("sox", "-D", right, late, "pad", f"{left_seconds + gap}", "0")
        padded = tmp / "left_padded.wav"
        _run("sox", "-D", left, padded, "pad", "0", "10")
        out = tmp / "call.wav"
        total = left_seconds + gap + right_seconds + 0.5
        _run("sox", "-D", "-M", padded, late, out, "trim", "0", f"{total}")
        return out.read_bytes(), left_seconds, right_seconds
