"""Talk/silence analysis on real speech built with espeak-ng and sox.

Reference durations are those of the spoken clips trimmed at -60 dBFS
(``speech.duration``) and of the silences put between them. Measured on this
machine the analysis is within 0.15 s of them; the tests allow TOLERANCE.
"""

import random
import subprocess

import numpy as np
import pytest

from pbx.analysis.audio import (
    Analysis,
    AudioError,
    activity,
    analyse,
    load,
    load_mono,
    segments,
)
from pbx.testing import speech

TOLERANCE = 0.3  # seconds

A = "The price is too high and I want to cancel"
B = "I will call my lawyer about the complaint"
C = "Please send me the invoice for this month"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    speech.require("espeak-ng", "sox")
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="module")
def clips(work):
    """The three sentences as 8 kHz mono WAVs, with their lengths."""
    paths = {
        name: speech.speak(text, work / f"{name}.wav")
        for name, text in zip("ABC", (A, B, C), strict=True)
    }
    return {name: (path, speech.duration(path)) for name, path in paths.items()}


@pytest.fixture(scope="module")
def pauses(work, clips):
    """Speech, 2.0 s silence, speech, 3.5 s silence, speech."""
    return speech.sequence([A, 2.0, B, 3.5, C], work / "pauses.wav")


def speech_seconds(clips, *names):
    return sum(clips[name][1] for name in names)


def test_silences_between_sentences(pauses, clips):
    result = analyse(pauses, min_silence=1.0, long_silence=2.0)
    assert isinstance(result, Analysis)
    assert result.channels == 1 and result.rate == 8000
    assert result.duration == pytest.approx(speech.duration(pauses), abs=0.01)
    assert result.silence_seconds == pytest.approx(5.5, abs=TOLERANCE)
    assert result.longest_silence == pytest.approx(3.5, abs=TOLERANCE)
    assert result.long_silences == 2
    assert result.talk_seconds == pytest.approx(speech_seconds(clips, *"ABC"), abs=TOLERANCE)
    assert result.talk_seconds + result.silence_seconds == pytest.approx(result.duration)
    assert result.silence_ratio == pytest.approx(5.5 / result.duration, abs=0.03)
    # mono: no sides
    assert not result.per_side
    assert result.left_talk_seconds is None and result.right_talk_seconds is None
    assert result.left_talk_share is None and result.overtalk_seconds is None
    # only the 3.5 s silence is "long" at 3 s
    assert analyse(pauses, long_silence=3.0).long_silences == 1


def test_edges_and_short_pauses(work, clips):
    """Leading and trailing silence count; a pause under min_silence does not."""
    path = speech.sequence([1.5, A, 1.2, B, 0.6, C, 2.5], work / "edges.wav")
    result = analyse(path, min_silence=1.0, long_silence=2.0)
    assert result.silence_seconds == pytest.approx(1.5 + 1.2 + 2.5, abs=TOLERANCE)
    assert result.longest_silence == pytest.approx(2.5, abs=TOLERANCE)
    assert result.long_silences == 1
    shorter = analyse(path, min_silence=0.5, long_silence=2.0)
    assert shorter.silence_seconds == pytest.approx(1.5 + 1.2 + 0.6 + 2.5, abs=TOLERANCE)


def test_line_noise(work, pauses):
    """White noise at -45 dBFS under the speech: the threshold follows the floor."""
    hiss = speech.noise(speech.duration(pauses), work / "hiss.wav", db=-45)
    result = analyse(speech.mix([pauses, hiss], work / "noisy.wav"), long_silence=2.0)
    assert result.silence_seconds == pytest.approx(5.5, abs=TOLERANCE)
    assert result.longest_silence == pytest.approx(3.5, abs=TOLERANCE)
    assert result.long_silences == 2


def test_stereo_talk_shares(work, clips):
    """Left speaks A, 1 s later right answers B, 2 s later left speaks A again."""
    (a, da), (b, db) = clips["A"], clips["B"]
    left = speech.concat([a, speech.silence(1.0 + db + 2.0, work / "gap.wav"), a], work / "l.wav")
    right = speech.delay(b, da + 1.0, work / "r.wav")
    result = analyse(speech.stereo(left, right, work / "dialogue.wav"), long_silence=2.0)
    assert result.channels == 2 and result.per_side
    assert result.left_talk_seconds == pytest.approx(2 * da, abs=TOLERANCE)
    assert result.right_talk_seconds == pytest.approx(db, abs=TOLERANCE)
    assert result.left_talk_share == pytest.approx(2 * da / (2 * da + db), abs=0.03)
    assert result.left_talk_share + result.right_talk_share == pytest.approx(1.0, abs=1e-3)
    assert result.overtalk_seconds == pytest.approx(0.0, abs=0.1)
    assert result.silence_seconds == pytest.approx(3.0, abs=TOLERANCE)
    assert result.longest_silence == pytest.approx(2.0, abs=TOLERANCE)
    assert result.long_silences == 1


def test_overtalk(work, clips):
    """Right starts 1.5 s before left has finished: 1.5 s of overtalk."""
    (a, da), (b, db) = clips["A"], clips["B"]
    right = speech.delay(b, da - 1.5, work / "interrupt.wav")
    result = analyse(speech.stereo(a, right, work / "overtalk.wav"))
    assert result.per_side
    assert result.overtalk_seconds == pytest.approx(1.5, abs=TOLERANCE)
    assert result.left_talk_seconds == pytest.approx(da, abs=TOLERANCE)
    assert result.right_talk_seconds == pytest.approx(db, abs=TOLERANCE)
    assert result.left_talk_share == pytest.approx(da / (da + db), abs=0.03)
    assert result.silence_seconds == 0.0
    assert result.talk_seconds == pytest.approx(da - 1.5 + db, abs=TOLERANCE)


def test_echo_of_other_side_is_not_talk(work, clips):
    """The right leg carries the left speaker 30 dB down (line echo)."""
    (a, da), (b, db) = clips["A"], clips["B"]
    left = speech.concat([a, speech.silence(db + 1.0, work / "wait.wav")], work / "el.wav")
    own = speech.pad_to(
        speech.delay(b, da + 0.5, work / "eb.wav"), speech.duration(left), work / "ep.wav"
    )
    echo = speech.gain(left, -30, work / "echo.wav")
    right = speech.mix([echo, own], work / "er.wav")
    path = speech.stereo(left, right, work / "echoed.wav")
    result = analyse(path)
    assert result.right_talk_seconds == pytest.approx(db, abs=TOLERANCE)
    assert result.overtalk_seconds == pytest.approx(0.0, abs=0.1)
    # without the rule the echo is counted as the right side talking
    assert analyse(path, bleed_db=None).right_talk_seconds > db + 1.0


def test_same_signal_on_both_channels_is_mono(work, clips):
    a, da = clips["A"]
    result = analyse(speech.stereo(a, a, work / "dual.wav"))
    assert result.channels == 2
    assert not result.per_side
    assert result.left_talk_seconds is None and result.overtalk_seconds is None
    assert result.talk_seconds == pytest.approx(da, abs=TOLERANCE)


def test_load(work, pauses, clips):
    samples, rate = load(pauses)
    assert rate == 8000 and samples.dtype == np.float32
    assert samples.shape == (round(speech.duration(pauses) * 8000), 1)
    assert 0.05 < np.abs(samples).max() <= 1.0
    stereo, _ = load(speech.stereo(clips["A"][0], clips["B"][0], work / "ab.wav"))
    assert stereo.shape[1] == 2
    mono, rate16 = load_mono(pauses, 16000)
    assert rate16 == 16000 and mono.ndim == 1
    assert len(mono) == pytest.approx(2 * len(samples), abs=2)


@pytest.mark.parametrize(
    "name, make",
    [
        ("call.mp3", "ffmpeg"),  # libsndfile's MP3 decoder
        ("call.gsm", "sox"),  # Asterisk raw GSM: converted by ffmpeg
        ("call.ulaw", "sox"),  # Asterisk raw u-law: converted by ffmpeg
        ("call-ulaw.wav", "sox -e u-law"),  # MixMonitor u-law WAV: libsndfile
        ("call-wav49.wav", "sox -e gsm-full-rate"),  # MixMonitor "wav49": libsndfile
        ("call-g722.wav", "ffmpeg -c:a adpcm_g722"),  # not libsndfile: converted
    ],
)
def test_formats(work, pauses, name, make):
    # a line is never digitally silent, and GSM rings on exact zeros: add faint hiss
    source = work / "hissing.wav"
    if not source.exists():
        hiss = speech.noise(speech.duration(pauses), work / "faint.wav", db=-70)
        speech.mix([pauses, hiss], source)
    target = work / name
    tool, *options = make.split()
    speech.require(tool)
    if tool == "ffmpeg":
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", source]
        subprocess.run([*command, *options, target], check=True)
    elif options:
        speech.sox(source, *options, target)
    else:
        speech.to_format(source, target)
    result = analyse(target, long_silence=2.0)
    assert result.duration == pytest.approx(speech.duration(pauses), abs=0.1)
    assert result.silence_seconds == pytest.approx(5.5, abs=TOLERANCE)
    assert result.long_silences == 2


@pytest.mark.parametrize("kind", ["al", "s16"])
def test_raw_asterisk_formats_and_sox_fallback(work, pauses, monkeypatch, kind):
    """Headerless .alaw / .sln16 files, converted by sox when ffmpeg is absent."""
    source = work / "wide.wav"
    if not source.exists():
        speech.sox(pauses, "-r", "16000", source)
    name, rate = ("call.alaw", 8000) if kind == "al" else ("call.sln16", 16000)
    target = work / name
    speech.sox(source, "-r", str(rate), "-c", "1", "-t", kind, target)
    which = speech.shutil.which
    monkeypatch.setattr(
        "pbx.analysis.audio.shutil.which", lambda tool: None if tool == "ffmpeg" else which(tool)
    )
    samples, got_rate = load(target)
    assert got_rate == rate and samples.shape[1] == 1
    result = analyse(target, long_silence=2.0)
    assert result.duration == pytest.approx(speech.duration(pauses), abs=0.05)
    assert result.silence_seconds == pytest.approx(5.5, abs=TOLERANCE)


def test_unreadable_files(work, monkeypatch):
    empty = work / "empty.wav"
    empty.write_bytes(b"")
    noise = random.Random(7).randbytes(4000)
    garbage_wav = work / "garbage.wav"
    garbage_wav.write_bytes(noise)
    garbage = work / "garbage.bin"
    garbage.write_bytes(noise)
    zero = speech.silence(0, work / "zero.wav")
    truncated = work / "truncated.wav"
    truncated.write_bytes(zero.read_bytes()[:30])
    cases = {
        empty: "empty file",
        garbage_wav: "corrupt file: no WAV header",
        garbage: "corrupt or unsupported audio",
        zero: "no audio (zero-length recording)",
        truncated: "corrupt or unsupported audio",
        work / "missing.wav": "file not found",
        work: "not a regular file",
    }
    for path, reason in cases.items():
        for read in (load, analyse):
            with pytest.raises(AudioError, match=reason.replace("(", r"\(").replace(")", r"\)")):
                read(path)
    # a format only a converter reads, and no converter installed
    gsm = speech.to_format(speech.silence(1, work / "one.wav"), work / "one.gsm")
    monkeypatch.setattr("pbx.analysis.audio.shutil.which", lambda _name: None)
    with pytest.raises(AudioError, match="neither ffmpeg nor sox is installed"):
        load(gsm)


def test_activity_smoothing():
    """Unit test of the VAD on made-up 20 ms frame levels."""
    frame = 0.02
    speech_level, quiet = -20.0, -70.0

    def spans(active):
        return [(round(start, 2), round(end, 2)) for start, end in segments(active, frame)]

    def levels(*parts):
        return np.concatenate([np.full(round(seconds / frame), level) for level, seconds in parts])

    # a 0.2 s pause inside speech is bridged, a 0.5 s one is not
    active = activity(levels((speech_level, 1), (quiet, 0.2), (speech_level, 1), (quiet, 0.5),
                             (speech_level, 1), (quiet, 1)), frame)  # fmt: skip
    assert spans(active) == [(0.0, 2.2), (2.7, 3.7)]
    # a 60 ms click in silence is dropped
    active = activity(levels((quiet, 1), (speech_level, 0.06), (quiet, 1), (speech_level, 0.5),
                             (quiet, 0.5)), frame)  # fmt: skip
    assert spans(active) == [(2.06, 2.56)]
    # noise floor at -45 dBFS: the threshold is -30, so -35 is not talk
    active = activity(levels((-45, 2), (-35, 1), (-15, 1), (-45, 1)), frame)
    assert spans(active) == [(3.0, 4.0)]
    assert not activity(np.full(100, quiet), frame).any()
