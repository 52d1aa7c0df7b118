"""Real audio for the Odoo tests, spoken by Debian's espeak-ng when it is there."""

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path


def spoken_wav(text="Hello, this is a recorded call about the price.", rate=8000):
    """WAV bytes of ``text`` spoken by espeak-ng (8 kHz mono like MixMonitor)."""
    if shutil.which("espeak-ng") and shutil.which("sox"):
        with tempfile.TemporaryDirectory() as tmp:
            raw, out = Path(tmp, "raw.wav"), Path(tmp, "call.wav")
            subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
            subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", str(out)], check=True)
            return out.read_bytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(range(256)) * (rate // 64))
    return buffer.getvalue()
