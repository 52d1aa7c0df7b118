"""Read call recordings and measure talk, silence and overtalk.

Reading
-------
Files are read with libsndfile (the ``soundfile`` package), which covers the
recordings Asterisk's MixMonitor writes: PCM, u-law, A-law and GSM 6.10 WAV
("wav49"), plus FLAC, OGG/Vorbis/Opus and MP3. Anything libsndfile cannot
read (headerless Asterisk formats such as ``.gsm``, ``.ulaw``, ``.alaw``,
``.sln``; AAC/M4A; WAV with an exotic codec) is converted to a 16-bit PCM WAV
in a temporary directory by ``ffmpeg`` or, failing that, ``sox`` (Debian's
packages), then read. Every failure is an :class:`AudioError` whose message
says why: missing, empty, corrupt, unsupported, no converter installed, or no
audio frames.

Voice activity
--------------
:func:`analyse` decides speech per 20 ms frame with WebRTC's voice activity
detector (the ``webrtcvad`` module of the ``webrtcvad-wheels`` package; a
Gaussian-mixture speech/noise model over six frequency bands, with its own
hangover), in aggressiveness mode 2 (:data:`VAD_MODE`). webrtcvad reads
16-bit mono PCM at 8, 16, 32 or 48 kHz: other rates are resampled to 16 kHz
with soxr, and each channel (or the down-mix, see below) gets its own
detector, which adapts to that channel's noise. The file is also measured
per channel in 20 ms frames (level in dBFS, ``10*log10(mean(x**2))``, so a
full-scale square wave is 0 dBFS), and a frame under ``min_level_db``
(-50 dBFS) is never speech whatever webrtcvad says: faint echo, crosstalk
and codec noise (MP3 pre-echo) stay silence. Mode 2 was chosen by
experiment on the test recordings: modes 0 and 1 call white noise at
-25 dBFS speech throughout; mode 3 drops speech at -44 dBFS under -60 dBFS
hiss (2.6 s of 7.5 s missed, mode 2: 0.6 s, as the -50 dBFS gate cuts the
soft ends of such quiet speech); mode 2 calls no white noise from -60 to
-30 dBFS speech (0.1 s at -25 dBFS), but noise as loud as the speech
(-20 dBFS) is all speech. The decisions are then smoothed:

1. gaps shorter than ``min_pause`` (0.3 s) between active frames are filled,
   so the pauses between words and stop consonants are talk, not silence;
2. active runs shorter than ``min_burst`` (0.1 s) are dropped (clicks, DTMF
   blips, line pops).

On stereo files each channel is one side of the call (MixMonitor with the two
legs mixed by ``sox -M``, or any two-channel recording); a frame of one side
that is more than ``bleed_db`` (25 dB) quieter than the other side, while the
other side is active, is echo/crosstalk of the other side and is not counted.
A two-channel file whose channels carry the same signal (a mono call saved as
stereo) is analysed as mono.

What is reported (:class:`Analysis`):

* ``silence_seconds``: the sum of the gaps in the combined activity (either
  side active) that last at least ``min_silence`` seconds, including leading
  and trailing silence; ``long_silences`` counts those of at least
  ``long_silence`` seconds and ``longest_silence`` is the longest one;
* ``talk_seconds`` is the rest of the recording (speech plus the shorter
  pauses of a conversation), so ``talk + silence == duration``;
* per side (stereo only): the seconds that side is active, its share of the
  sum of both sides' active time, and ``overtalk_seconds``, the time both are
  active at once.

Tolerance: boundaries are resolved to one 20 ms frame; webrtcvad's hangover
and soft word onsets and endings (fricatives, breath) move a boundary by up
to about 0.1 s. On espeak-ng speech at 8 kHz (tests/test_audio.py), also
through MP3, GSM, u-law, A-law, G.722 and 16 kHz and under -45 dBFS hiss,
a single silence came within 0.10 s of the constructed value, a total of
two or three silences within 0.14 s, a side's talk time within 0.10 s and
the overtalk within 0.04 s; the tests assert 0.3 s. Echo of the other side
30 dB down is ignored, echo only 20-25 dB down is counted as talk. One hour
of 8 kHz stereo is analysed in about 2 s, 44.1 kHz stereo (resampled) in
about 8 s per hour; converted formats add the conversion time.

:func:`activity` is the older energy detector (frame level above the
channel's noise floor plus ``margin_db``, at least ``min_level_db``) with
the same smoothing; :mod:`pbx.analysis.transcribe` uses it to cut utterances, and
:func:`analyse` no longer uses ``margin_db``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import webrtcvad

__all__ = [
    "Analysis",
    "AudioError",
    "activity",
    "analyse",
    "frame_levels",
    "load",
    "load_mono",
    "readable",
    "resample",
    "segments",
    "voice_frames",
]

# Headerless formats Asterisk can record in, keyed by extension:
# (ffmpeg input options, sox input options).
RAW_FORMATS = {
    ".gsm": (["-f", "gsm"], ["-t", "gsm"]),
    ".ulaw": (["-f", "mulaw", "-ar", "8000", "-ac", "1"], ["-t", "ul", "-r", "8000", "-c", "1"]),
    ".ul": (["-f", "mulaw", "-ar", "8000", "-ac", "1"], ["-t", "ul", "-r", "8000", "-c", "1"]),
    ".pcm": (["-f", "mulaw", "-ar", "8000", "-ac", "1"], ["-t", "ul", "-r", "8000", "-c", "1"]),
    ".alaw": (["-f", "alaw", "-ar", "8000", "-ac", "1"], ["-t", "al", "-r", "8000", "-c", "1"]),
    ".al": (["-f", "alaw", "-ar", "8000", "-ac", "1"], ["-t", "al", "-r", "8000", "-c", "1"]),
    ".sln": (["-f", "s16le", "-ar", "8000", "-ac", "1"], ["-t", "s16", "-r", "8000", "-c", "1"]),
    ".raw": (["-f", "s16le", "-ar", "8000", "-ac", "1"], ["-t", "s16", "-r", "8000", "-c", "1"]),
}
RAW_FORMATS.update(
    {
        f".sln{khz}": (
            ["-f", "s16le", "-ar", str(hz), "-ac", "1"],
            ["-t", "s16", "-r", str(hz), "-c", "1"],
        )
        for khz, hz in ((12, 12000), (16, 16000), (24, 24000), (32, 32000), (44, 44100),
                        (48, 48000), (96, 96000), (192, 192000))
    }
)  # fmt: skip

# A file named like one of these must start with one of the signatures, else
# it is corrupt (and is not handed to a converter that might guess a format).
SIGNATURES = {
    ".wav": (b"RIFF", b"RIFX", b"RF64", b"BW64"),
    ".flac": (b"fLaC",),
    ".ogg": (b"OggS",),
    ".oga": (b"OggS",),
    ".opus": (b"OggS",),
    ".aif": (b"FORM",),
    ".aiff": (b"FORM",),
}

CONVERT_TIMEOUT = 600  # seconds; a one-hour MP3 converts in a few seconds
FLOOR_DB = -80.0  # lowest noise floor: digital silence and dither count as this
_EPS = 1e-12


class AudioError(Exception):
    """A recording that cannot be read; the message says why."""


# ---------------------------------------------------------------------------
# Reading


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    signatures = SIGNATURES.get(path.suffix.lower())
    if signatures:
        with path.open("rb") as handle:
            head = handle.read(4)
        if not head.startswith(signatures):
            kind = path.suffix.lower().lstrip(".").upper()
            raise AudioError(f"{path}: corrupt file: no {kind} header (starts with {head!r})")


def _run(command: list[str]) -> str | None:
    """Run a converter; None on success, else its last error lines."""
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CONVERT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {CONVERT_TIMEOUT} s"
    except OSError as error:
        return str(error)
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return " / ".join(lines[-3:]) or f"exit status {done.returncode}"


def _convert(path: Path, target: Path, sndfile_error: str) -> None:
    """Convert ``path`` to 16-bit PCM WAV at ``target`` with ffmpeg or sox."""
    ffmpeg_args, sox_args = RAW_FORMATS.get(path.suffix.lower(), ([], []))
    attempts = []
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        attempts.append(
            (
                "ffmpeg",
                [
                    *(ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"),
                    *ffmpeg_args,
                    *("-i", str(path), "-map", "0:a:0", "-vn", "-c:a", "pcm_s16le", str(target)),
                ],
            )
        )
    sox = shutil.which("sox")
    if sox:
        attempts.append(
            (
                "sox",
                [sox, "-q", *sox_args, str(path), "-b", "16", "-e", "signed-integer", str(target)],
            )
        )
    if not attempts:
        raise AudioError(
            f"{path}: format not readable by libsndfile ({sndfile_error}) and neither "
            "ffmpeg nor sox is installed to convert it (apt-get install ffmpeg)"
        )
    errors = [f"libsndfile: {sndfile_error}"]
    for name, command in attempts:
        error = _run(command)
        if error is None and target.is_file() and target.stat().st_size > 0:
            return
        errors.append(f"{name}: {error or 'no output'}")
    raise AudioError(f"{path}: corrupt or unsupported audio ({'; '.join(errors)})")


def _sndfile_error(path: Path) -> str | None:
    """None when libsndfile can open the file, else its reason."""
    try:
        with soundfile.SoundFile(str(path)):
            return None
    except soundfile.LibsndfileError as error:
        return error.error_string.strip().rstrip(".") or "unreadable"
    except (RuntimeError, TypeError, ValueError) as error:
        return str(error) or type(error).__name__


@contextlib.contextmanager
def readable(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a path libsndfile can open: the file itself or a converted copy.

    The converted copy lives in a temporary directory removed on exit.
    """
    path = Path(path)
    _check_file(path)
    error = _sndfile_error(path) if path.suffix.lower() not in RAW_FORMATS else "raw format"
    if error is None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="pbx-audio-") as tmp:
        target = Path(tmp) / "converted.wav"
        _convert(path, target, error)
        error = _sndfile_error(target)
        if error:
            raise AudioError(f"{path}: converted file unreadable ({error})")
        yield target


def _info(path: Path, original: Path):
    info = soundfile.info(str(path))
    if info.frames <= 0:
        raise AudioError(f"{original}: no audio (zero-length recording)")
    return info


def load(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a recording: ``(samples, rate)``.

    ``samples`` is float32 in [-1, 1], shape ``(frames, channels)``.
    """
    with readable(path) as source:
        _info(source, Path(path))
        try:
            samples, rate = soundfile.read(str(source), dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"{path}: corrupt audio data ({error})") from error
    if not len(samples):
        raise AudioError(f"{path}: no audio (zero-length recording)")
    return samples, int(rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample ``samples`` (1-D or frames x channels) from ``rate`` to ``target`` Hz."""
    if rate == target:
        return samples
    # imported here: only transcription resamples
    import soxr

    return soxr.resample(samples, rate, target).astype(np.float32, copy=False)


def load_mono(path: str | os.PathLike, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a recording down-mixed to one channel, optionally resampled.

    Returns ``(samples, rate)`` with 1-D float32 ``samples``.
    """
    samples, source_rate = load(path)
    mono = samples.mean(axis=1, dtype=np.float32)
    if rate and rate != source_rate:
        return resample(mono, source_rate, rate), rate
    return mono, source_rate


# ---------------------------------------------------------------------------
# Voice activity


def _runs(mask: np.ndarray, value: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indexes of the runs of ``value`` in ``mask``."""
    padded = np.concatenate(([False], mask == value, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return edges[0::2], edges[1::2]


def _fill(mask: np.ndarray, value: bool, shorter_than: int, interior_only: bool) -> np.ndarray:
    """Flip the runs of ``value`` shorter than ``shorter_than`` frames."""
    if shorter_than <= 1 or not len(mask):
        return mask
    starts, ends = _runs(mask, value)
    short = (ends - starts) < shorter_than
    if interior_only:
        short &= (starts > 0) & (ends < len(mask))
    if not short.any():
        return mask
    # +1 at each short run's start, -1 at its end: the running sum marks the runs
    marks = np.zeros(len(mask) + 1, dtype=np.int32)
    np.add.at(marks, starts[short], 1)
    np.add.at(marks, ends[short], -1)
    inside = np.cumsum(marks[:-1]) > 0
    return np.where(inside, not value, mask)


def frame_levels(source: Path, frame: int) -> tuple[np.ndarray, float]:
    """Per-frame level in dBFS, shape (frames, channels), and the dual-mono ratio.

    The ratio is the energy of the channel difference over the energy of the
    channels (0 for identical channels, ~1 for independent ones; 1 for mono).
    """
    chunks = []
    diff_energy = total_energy = 0.0
    block = frame * 2000
    for data in soundfile.blocks(str(source), blocksize=block, dtype="float32", always_2d=True):
        usable = len(data) - len(data) % frame
        if usable:
            squares = np.square(data[:usable], dtype=np.float64)
            power = squares.reshape(usable // frame, frame, data.shape[1]).mean(axis=1)
            chunks.append(10.0 * np.log10(power + _EPS))
        if data.shape[1] == 2:
            diff_energy += float(np.square(data[:, 0] - data[:, 1], dtype=np.float64).sum())
            total_energy += float(np.square(data, dtype=np.float64).sum())
    levels = np.concatenate(chunks) if chunks else np.empty((0, 1))
    ratio = diff_energy / total_energy if total_energy > 0 else (0.0 if diff_energy == 0 else 1.0)
    return levels, ratio


VAD_RATES = (8000, 16000, 32000, 48000)  # the rates webrtcvad accepts
VAD_RATE = 16000  # any other rate is resampled to this
VAD_MODE = 2  # webrtcvad aggressiveness, 0 (least) to 3 (most): see the module docstring


def _pcm16(data: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(data * 32768.0), -32768, 32767).astype("<i2")


def _vad_blocks(source: Path, downmix: bool) -> Iterator[tuple[np.ndarray, int]]:
    """``(int16 samples (n, channels), rate)`` blocks at a rate webrtcvad accepts."""
    info = soundfile.info(str(source))
    rate, channels = int(info.samplerate), 1 if downmix else int(info.channels)
    vad_rate = rate if rate in VAD_RATES else VAD_RATE
    stream = None
    if vad_rate != rate:
        # imported here: only uncommon rates are resampled
        import soxr

        # streaming: one-minute blocks resampled without seams
        stream = soxr.ResampleStream(rate, vad_rate, channels, dtype="float32")
    for data in soundfile.blocks(str(source), blocksize=rate * 60, dtype="float32", always_2d=True):
        if downmix and data.shape[1] > 1:
            data = data.mean(axis=1, keepdims=True, dtype=np.float32)
        if stream is not None:
            data = stream.resample_chunk(data)
        yield _pcm16(data), vad_rate
    if stream is not None:
        tail = stream.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
        yield _pcm16(tail), vad_rate


def voice_frames(
    source: str | os.PathLike, frame_ms: int = 20, mode: int = VAD_MODE, downmix: bool = False
) -> np.ndarray:
    """webrtcvad's speech decision per ``frame_ms`` frame, shape (frames, channels).

    ``frame_ms`` is 10, 20 or 30; ``mode`` is webrtcvad's aggressiveness (0-3).
    Each channel has its own detector (it adapts to that channel's noise);
    with ``downmix`` the channels are averaged into one first. ``source`` must
    be readable by libsndfile (see :func:`readable`).
    """
    if frame_ms not in (10, 20, 30):
        raise ValueError("webrtcvad frames are 10, 20 or 30 ms")
    vads: list = []
    decisions: list[list[bool]] = []
    carry = None
    for pcm, rate in _vad_blocks(Path(source), downmix):
        frame = rate * frame_ms // 1000
        if not vads:
            vads = [webrtcvad.Vad(mode) for _ in range(pcm.shape[1])]
        if carry is not None and len(carry):
            pcm = np.concatenate((carry, pcm))
        usable = len(pcm) - len(pcm) % frame
        carry = pcm[usable:]
        columns = [np.ascontiguousarray(pcm[:usable, channel]) for channel in range(pcm.shape[1])]
        for start in range(0, usable, frame):
            decisions.append(
                [
                    vad.is_speech(column[start : start + frame].tobytes(), rate)
                    for vad, column in zip(vads, columns, strict=True)
                ]
            )
    return np.array(decisions, dtype=bool).reshape(-1, max(len(vads), 1))


def threshold(levels: np.ndarray, margin_db: float = 15.0, min_level_db: float = -50.0) -> float:
    """Activity threshold (dBFS) of one channel's frame levels: noise floor + margin."""
    if not len(levels):
        return min_level_db
    floor = float(np.percentile(np.maximum(levels, FLOOR_DB), 10))
    return max(floor + margin_db, min_level_db)


def smooth(
    active: np.ndarray, frame_seconds: float, min_pause: float = 0.3, min_burst: float = 0.1
) -> np.ndarray:
    """Fill pauses shorter than ``min_pause``, then drop bursts shorter than ``min_burst``."""
    active = _fill(active, False, round(min_pause / frame_seconds), interior_only=True)
    return _fill(active, True, round(min_burst / frame_seconds), interior_only=False)


def activity(
    levels: np.ndarray,
    frame_seconds: float,
    *,
    margin_db: float = 15.0,
    min_level_db: float = -50.0,
    min_pause: float = 0.3,
    min_burst: float = 0.1,
) -> np.ndarray:
    """Voice activity of one channel's frame levels (dBFS), as a bool array."""
    active = levels > threshold(levels, margin_db, min_level_db)
    return smooth(active, frame_seconds, min_pause, min_burst)


def segments(active: np.ndarray, frame_seconds: float) -> list[tuple[float, float]]:
    """``(start, end)`` seconds of the active runs of an activity array."""
    starts, ends = _runs(active, True)
    return [
        (float(start * frame_seconds), float(end * frame_seconds))
        for start, end in zip(starts, ends, strict=True)
    ]


@dataclass(frozen=True)
class Analysis:
    """Talk/silence figures of one recording; seconds unless stated.

    The ``left_*``/``right_*`` fields and ``overtalk_seconds`` are None unless
    the two channels carry separate sides of the call (``per_side``).
    """

    duration: float
    channels: int
    rate: int
    talk_seconds: float
    silence_seconds: float
    silence_ratio: float
    longest_silence: float
    long_silences: int
    per_side: bool = False
    left_talk_seconds: float | None = None
    right_talk_seconds: float | None = None
    left_talk_share: float | None = None
    right_talk_share: float | None = None
    overtalk_seconds: float | None = None


DUAL_MONO_RATIO = 1e-3  # channel difference 30 dB below the signal


def analyse(
    path: str | os.PathLike,
    min_silence: float = 1.0,
    long_silence: float = 5.0,
    *,
    frame_ms: float = 20.0,
    margin_db: float = 15.0,
    min_level_db: float = -50.0,
    min_pause: float = 0.3,
    min_burst: float = 0.1,
    bleed_db: float | None = 25.0,
    vad_mode: int = VAD_MODE,
) -> Analysis:
    """Measure talk, silence and (for two sides) shares and overtalk.

    ``min_silence``: the shortest gap counted as silence; ``long_silence``: the
    length from which a silence is counted in ``long_silences``. Speech is
    webrtcvad's decision in aggressiveness ``vad_mode``, never on a frame under
    ``min_level_db``; ``margin_db`` is accepted for compatibility and unused.
    See the module docstring for the method.
    """
    if min_silence <= 0 or long_silence <= 0:
        raise ValueError("min_silence and long_silence must be positive")
    with readable(path) as source:
        info = _info(source, Path(path))
        rate, channels = int(info.samplerate), int(info.channels)
        frame = max(1, round(rate * frame_ms / 1000.0))
        try:
            levels, dual_ratio = frame_levels(source, frame)
            per_side = channels == 2 and dual_ratio > DUAL_MONO_RATIO
            vad_ms = round(frame_ms) if round(frame_ms) in (10, 20, 30) else 10
            voiced = voice_frames(source, vad_ms, vad_mode, downmix=not per_side)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"{path}: corrupt audio data ({error})") from error
    duration = info.frames / rate
    frame_seconds = frame / rate
    # each analysis frame takes the decision of the webrtcvad frame holding its centre
    if len(voiced):
        centres = (np.arange(len(levels)) + 0.5) * frame_seconds
        voiced = voiced[np.minimum((centres * 1000 / vad_ms).astype(int), len(voiced) - 1)]
    else:
        voiced = np.zeros((len(levels), 2 if per_side else 1), dtype=bool)
    if per_side:
        left_levels, right_levels = levels[:, 0], levels[:, 1]
        # webrtcvad's decision, never below min_level_db (faint echo, hiss)
        left = voiced[:, 0] & (left_levels > min_level_db)
        right = voiced[:, 1] & (right_levels > min_level_db)
        if bleed_db is not None:
            # a side far quieter than the other is hearing the other's echo
            left &= left_levels >= right_levels - bleed_db
            right &= right_levels >= left_levels - bleed_db
        left = smooth(left, frame_seconds, min_pause, min_burst)
        right = smooth(right, frame_seconds, min_pause, min_burst)
        combined = left | right
    else:
        mixed = levels[:, 0] if channels == 1 else _mean_db(levels)
        gated = voiced[:, 0] & (mixed > min_level_db)
        combined = smooth(gated, frame_seconds, min_pause, min_burst)

    starts, ends = _runs(combined, False)
    gaps = (ends - starts) * frame_seconds
    # the unframed tail (< one frame) belongs to the last gap or run
    if len(ends) and ends[-1] == len(combined):
        gaps[-1] += duration - len(combined) * frame_seconds
    silences = gaps[gaps >= min_silence - frame_seconds / 2]
    silence = float(min(silences.sum(), duration))
    result = {
        "duration": round(duration, 3),
        "channels": channels,
        "rate": rate,
        "talk_seconds": round(duration - silence, 3),
        "silence_seconds": round(silence, 3),
        "silence_ratio": round(silence / duration, 4) if duration else 0.0,
        "longest_silence": round(float(silences.max()), 3) if len(silences) else 0.0,
        "long_silences": int((silences >= long_silence - frame_seconds / 2).sum()),
        "per_side": per_side,
    }
    if per_side:
        left_talk = float(left.sum()) * frame_seconds
        right_talk = float(right.sum()) * frame_seconds
        both = left_talk + right_talk
        result.update(
            left_talk_seconds=round(left_talk, 3),
            right_talk_seconds=round(right_talk, 3),
            left_talk_share=round(left_talk / both, 4) if both else 0.0,
            right_talk_share=round(right_talk / both, 4) if both else 0.0,
            overtalk_seconds=round(float((left & right).sum()) * frame_seconds, 3),
        )
    return Analysis(**result)


def _mean_db(levels: np.ndarray) -> np.ndarray:
    """Level of the channels' mean power, for files analysed as one signal."""
    power = np.power(10.0, levels / 10.0).mean(axis=1)
    return 10.0 * np.log10(power + _EPS)
