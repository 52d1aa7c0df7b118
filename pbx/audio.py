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
:func:`analyse` reads the file in blocks and computes, per channel, the level
of consecutive 20 ms frames in dBFS (``10*log10(mean(x**2))``, so a full-scale
square wave is 0 dBFS). A frame is *active* when its level is above the
channel's threshold::

    threshold = max(noise_floor + margin_db, min_level_db)

where ``noise_floor`` is the 10th percentile of that channel's frame levels,
with anything below -80 dBFS (digital silence, dither) counted as -80. A line
hiss of -45 dBFS thus gives a threshold of -30 dBFS with the default 15 dB
margin, while a recording with clean (digital) silences falls back to the
absolute ``min_level_db`` (-50 dBFS). Limitation: a channel that is digitally
silent for more than a tenth of the time (hold without music) and hissing
louder than -50 dBFS the rest of the time has its hiss counted as talk.
The raw decisions are then smoothed:

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

Tolerance: boundaries are resolved to one 20 ms frame; soft word onsets and
endings (fricatives, breath) under the threshold move a boundary by up to
about 0.1 s. On espeak-ng speech at 8 kHz (tests/test_audio.py), also
through MP3, GSM, u-law and G.722 and under -45 dBFS hiss, a single silence,
a side's talk time and the overtalk came within 0.11 s of the constructed
value, a total of three silences within 0.22 s; the tests assert 0.3 s.
Echo of the other side 30 dB down is ignored, echo only 20-25 dB down is
counted as talk. One hour of 8 kHz stereo is analysed in under a second
(converted formats add the conversion time).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile

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

    def as_dict(self) -> dict:
        return asdict(self)


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
) -> Analysis:
    """Measure talk, silence and (for two sides) shares and overtalk.

    ``min_silence``: the shortest gap counted as silence; ``long_silence``: the
    length from which a silence is counted in ``long_silences``. See the module
    docstring for the method.
    """
    if min_silence <= 0 or long_silence <= 0:
        raise ValueError("min_silence and long_silence must be positive")
    with readable(path) as source:
        info = _info(source, Path(path))
        rate, channels = int(info.samplerate), int(info.channels)
        frame = max(1, round(rate * frame_ms / 1000.0))
        try:
            levels, dual_ratio = frame_levels(source, frame)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"{path}: corrupt audio data ({error})") from error
    duration = info.frames / rate
    frame_seconds = frame / rate
    per_side = channels == 2 and dual_ratio > DUAL_MONO_RATIO
    if per_side:
        left_levels, right_levels = levels[:, 0], levels[:, 1]
        left = left_levels > threshold(left_levels, margin_db, min_level_db)
        right = right_levels > threshold(right_levels, margin_db, min_level_db)
        if bleed_db is not None:
            # a side far quieter than the other is hearing the other's echo
            left &= left_levels >= right_levels - bleed_db
            right &= right_levels >= left_levels - bleed_db
        left = smooth(left, frame_seconds, min_pause, min_burst)
        right = smooth(right, frame_seconds, min_pause, min_burst)
        combined = left | right
    else:
        mixed = levels[:, 0] if channels == 1 else _mean_db(levels)
        combined = activity(
            mixed,
            frame_seconds,
            margin_db=margin_db,
            min_level_db=min_level_db,
            min_pause=min_pause,
            min_burst=min_burst,
        )

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
