#!/usr/bin/env python3
"""Speech engines on real recorded speech: CER, keyword recall, false flags, RTF.

Run it from the repository root::

    /opt/odoo19/venv/bin/python bench/bench_korean_speech.py \\
        --data /work/speech_data/ko_deeply [--variants whisper,whisper-hotwords,...]
    /opt/odoo19/venv/bin/python bench/bench_korean_speech.py \\
        --data /work/speech_data/en_flite --language en --keywords refund,cancel,...

The data is a folder (``--data``, else ``$PBX_SPEECH_DATA_KO``) holding the
recordings and ``transcripts.tsv``: a header line, then one line per clip
with its file name (``file``) and what was said (``text``); other columns
are ignored. Nothing of it lives in the repository: the licences of the real
recordings used (see ``bench/README.md``) do not allow it. The recordings are
expected as telephone audio already (8 kHz mono); each engine resamples
them as the addon does.

Every variant (``--variants``, see :data:`VARIANTS`) runs in this process,
one after another, on every clip, with the addon's own code: the engine
from :func:`pbx.analysis.transcribe.get_backend` (Whisper base int8 with
``--threads`` threads), the keywords flagged by
:func:`pbx.analysis.keywords.keyword_hits` (Korean morphemes with Kiwi),
a variant's second listen with the Vosk grammar of
:meth:`~pbx.analysis.vosk_engine.VoskBackend.spot`. Transcripts are
shared by the variants that differ only in their second listen.

Figures per variant:

* CER: character errors (substituted + deleted + inserted, counted by
  ``jiwer``) / characters said, spaces and punctuation left out, NFC and
  case-folded; WER likewise on words (Korean words carry their particles,
  so CER says more);
* keyword recall: keyword/clip pairs flagged where the keyword is said (by
  the same matching on the text as written) / pairs where it is said;
* false flags: pairs flagged where the keyword is not said / pairs where it
  is not said, and the clips with at least one;
* RTF: seconds of processing (transcribing, matching and the second listen)
  / seconds of audio, in wall time and in CPU seconds of the process (all
  its threads), the model loaded beforehand.

The script reports; it asserts nothing and exits 0 once it ran.
"""

# A script that prints its figures.
# pylint: disable=print-used

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
import wave
from dataclasses import dataclass, field
from pathlib import Path

import common
import jiwer
from bench_speech import ENGLISH, ENGLISH_KEYWORDS
from common import print_table, say

DEFAULT_DATA = os.environ.get("PBX_SPEECH_DATA_KO") or "/work/speech_data/ko_deeply"
# Ten everyday nouns said in the Korean clips (restaurant, hotel, office,
# shopping dialogues): 32 keyword/clip pairs where one is said.
KEYWORDS = {
    "ko": ["시간", "식당", "퇴근", "회사", "친구", "저축", "예약", "선물", "학생", "여권"],
    # The English call sentences and keywords are bench_speech.py's.
    "en": ENGLISH_KEYWORDS,
}


@dataclass(frozen=True)
class Variant:
    """How one row is made: the engine and its options, the second listen."""

    label: str
    engine: str
    options: dict = field(default_factory=dict)
    keywords_to_engine: bool = False  # transcribe(..., keywords=...) (Whisper's bias)
    second_listen: str | None = None  # keyword_hits' second_listen; None: no spotter


VARIANTS = {
    # the addon before issue 20: Whisper with Silero's VAD, Vosk's grammar beside it
    "whisper-vad": Variant(
        "Whisper base, VAD, transcript only", "whisper", {"bias": None, "vad_filter": True}
    ),
    "whisper-vad-grammar": Variant(
        "Whisper base, VAD + Vosk grammar (unconfirmed)",
        "whisper",
        {"bias": None, "vad_filter": True},
        second_listen="trust",
    ),
    "whisper-vad-prompt": Variant(
        "Whisper base, VAD, keywords as initial prompt",
        "whisper",
        {"bias": "prompt", "vad_filter": True},
        keywords_to_engine=True,
    ),
    "whisper-vad-hotwords": Variant(
        "Whisper base, VAD, keywords as hotwords",
        "whisper",
        {"bias": "hotwords", "vad_filter": True},
        keywords_to_engine=True,
    ),
    "whisper-vad-hotwords-grammar": Variant(
        "Whisper base, VAD, hotwords + Vosk grammar (unconfirmed)",
        "whisper",
        {"bias": "hotwords", "vad_filter": True},
        keywords_to_engine=True,
        second_listen="trust",
    ),
    "whisper-vad-hotwords-confirm": Variant(
        "Whisper base, VAD, hotwords + Vosk grammar confirmed",
        "whisper",
        {"bias": "hotwords", "vad_filter": True},
        keywords_to_engine=True,
        second_listen="confirm",
    ),
    "whisper-hotwords-vad35": Variant(
        "Whisper base, hotwords, VAD threshold 0.35",
        "whisper",
        {
            "bias": "hotwords",
            "vad_filter": True,
            "options": {"vad_parameters": {"threshold": 0.35}},
        },
        keywords_to_engine=True,
    ),
    # the addon now: no VAD, the keywords as hotwords, no second listen
    "whisper": Variant("Whisper base, no VAD, transcript only", "whisper", {"bias": None}),
    "whisper-hotwords": Variant(
        "Whisper base, no VAD, keywords as hotwords; past 30 s the VAD and no hint"
        " (the addon's default)",
        "whisper",
        {"bias": "hotwords", "long_form_vad": True, "long_form_bias": None},
        keywords_to_engine=True,
    ),
    "whisper-hotwords-all": Variant(
        "Whisper base, no VAD, keywords as hotwords, also past 30 s (the addon before)",
        "whisper",
        {"bias": "hotwords"},
        keywords_to_engine=True,
    ),
    "whisper-hotwords-confirm": Variant(
        "Whisper base, no VAD, hotwords + Vosk grammar confirmed",
        "whisper",
        {"bias": "hotwords"},
        keywords_to_engine=True,
        second_listen="confirm",
    ),
    "whisper-hotwords-beam1": Variant(
        "Whisper base, no VAD, hotwords, beam 1",
        "whisper",
        {"bias": "hotwords", "beam_size": 1},
        keywords_to_engine=True,
    ),
    "whisper-hotwords-beam10": Variant(
        "Whisper base, no VAD, hotwords, beam 10",
        "whisper",
        {"bias": "hotwords", "beam_size": 10},
        keywords_to_engine=True,
    ),
    "whisper-hotwords-patience2": Variant(
        "Whisper base, no VAD, hotwords, beam patience 2",
        "whisper",
        {"bias": "hotwords", "options": {"patience": 2}},
        keywords_to_engine=True,
    ),
    "whisper-hotwords-notimestamps": Variant(
        "Whisper base, no VAD, hotwords, without timestamp tokens",
        "whisper",
        {"bias": "hotwords", "options": {"without_timestamps": True}},
        keywords_to_engine=True,
    ),
    "vosk": Variant("Vosk, transcript only", "vosk"),
    "vosk-grammar": Variant("Vosk + grammar (unconfirmed)", "vosk", second_listen="trust"),
    "vosk-confirm": Variant("Vosk + grammar confirmed", "vosk", second_listen="confirm"),
    "pocketsphinx": Variant("PocketSphinx", "pocketsphinx"),
}
# Past one 30 s window each variant keeps its VAD and hint, unless it says
# otherwise (the addon's default does: WhisperBackend's long_form_* options).
for _variant in VARIANTS.values():
    if _variant.engine == "whisper":
        _variant.options.setdefault("long_form_vad", _variant.options.get("vad_filter", False))
        _variant.options.setdefault("long_form_bias", _variant.options.get("bias", "hotwords"))
DEFAULT_VARIANTS = {
    "ko": "whisper-vad,whisper-vad-grammar,whisper-vad-hotwords,whisper,whisper-hotwords,"
    "whisper-hotwords-confirm,vosk,vosk-grammar,vosk-confirm",
    "en": "whisper-vad,whisper,whisper-hotwords,pocketsphinx",
}
_PUNCTUATION = re.compile(r"[^\w\s']|_")


def normalise(text):
    text = unicodedata.normalize("NFC", text or "").casefold()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def errors(said, heard, characters):
    """(edits, length said) of one clip, on characters (spaces left out) or words."""
    said, heard = normalise(said), normalise(heard)
    if characters:
        said, heard = said.replace(" ", ""), heard.replace(" ", "")
        size = len(said)
    else:
        size = len(said.split())
    if not heard:
        return size, size
    if not said:
        return len(heard if characters else heard.split()), 0
    measures = (jiwer.process_characters if characters else jiwer.process_words)(said, heard)
    return measures.substitutions + measures.deletions + measures.insertions, size


def seconds_of(path):
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def load_clips(folder, limit=None):
    folder = Path(folder)
    with open(folder / "transcripts.tsv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    clips = [
        {"path": str(folder / row["file"]), "text": row["text"], "name": row["file"]}
        for row in rows
    ]
    clips = clips[:limit] if limit else clips
    for clip in clips:
        clip["seconds"] = seconds_of(clip["path"])
    return clips


class Engines:
    """One backend per engine and options; transcripts kept per clip."""

    def __init__(self, threads):
        self.threads = threads
        self.backends = {}
        self.transcripts = {}

    def backend(self, variant):
        from pbx.analysis.transcribe import get_backend

        options = dict(variant.options)
        if variant.engine == "whisper":
            options.setdefault("cpu_threads", self.threads)
        key = (variant.engine, repr(sorted(options.items())))
        if key not in self.backends:
            self.backends[key] = get_backend(variant.engine, **options)
        return key, self.backends[key]

    def transcribe(self, variant, clip, language, keywords):
        key, backend = self.backend(variant)
        cache = (key, variant.keywords_to_engine, clip["path"])
        if cache not in self.transcripts:
            t0, c0 = time.perf_counter(), time.process_time()
            if variant.keywords_to_engine:
                transcript = backend.transcribe(clip["path"], language, keywords=keywords)
            else:
                transcript = backend.transcribe(clip["path"], language)
            spent = (time.perf_counter() - t0, time.process_time() - c0)
            self.transcripts[cache] = (transcript, spent)
        return self.transcripts[cache]


def run_variant(engines, name, clips, language, keywords, said):
    from pbx.analysis.keywords import keyword_hits
    from pbx.analysis.transcribe import get_backend, spotter_for

    variant = VARIANTS[name]
    _key, backend = engines.backend(variant)
    spotter = None
    if variant.second_listen:
        # Whisper has no grammar of its own: Vosk's, as the addon lent it before
        spotter = spotter_for(backend, language) or get_backend("vosk")
    # warm-up, untimed: the model, Kiwi, Vosk's grammar decoder
    first = clips[0]
    transcript, _spent = engines.transcribe(variant, first, language, keywords)
    keyword_hits(
        transcript,
        keywords,
        language,
        spotter=spotter,
        path=first["path"],
        second_listen=variant.second_listen or "off",
    )
    rows = []
    for clip in clips:
        transcript, (wall, cpu) = engines.transcribe(variant, clip, language, keywords)
        t0, c0 = time.perf_counter(), time.process_time()
        hits = keyword_hits(
            transcript,
            keywords,
            language,
            spotter=spotter,
            path=clip["path"],
            second_listen=variant.second_listen or "off",
        )
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        flagged = {hit.keyword for hit in hits}
        rows.append(
            {
                "clip": clip,
                "heard": transcript.text,
                "flagged": flagged,
                "sources": {hit.keyword: hit.source for hit in hits},
                "wall": wall,
                "cpu": cpu,
            }
        )
    return rows


def figures(rows, said, keywords):
    chars, words = [0, 0], [0, 0]
    hit = missed = false = 0
    clips_with_false = 0
    audio = wall = cpu = 0.0
    false_examples, missed_examples = [], []
    for row in rows:
        clip = row["clip"]
        for total, characters in ((chars, True), (words, False)):
            edits, size = errors(clip["text"], row["heard"], characters)
            total[0] += edits
            total[1] += size
        wanted = said[clip["path"]]
        hit += len(wanted & row["flagged"])
        missed += len(wanted - row["flagged"])
        wrong = row["flagged"] - wanted
        false += len(wrong)
        clips_with_false += bool(wrong)
        for keyword in sorted(wrong):
            false_examples.append((keyword, row["sources"].get(keyword), clip, row["heard"]))
        for keyword in sorted(wanted - row["flagged"]):
            missed_examples.append((keyword, clip, row["heard"]))
        audio += clip["seconds"]
        wall += row["wall"]
        cpu += row["cpu"]
    pairs_said = hit + missed
    pairs_not = len(rows) * len(keywords) - pairs_said
    return {
        "cer": chars[0] / chars[1] if chars[1] else None,
        "wer": words[0] / words[1] if words[1] else None,
        "hit": hit,
        "said": pairs_said,
        "false": false,
        "not_said": pairs_not,
        "false_clips": clips_with_false,
        "rtf": wall / audio,
        "cpu_rtf": cpu / audio,
        "false_examples": false_examples,
        "missed_examples": missed_examples,
    }


def percent(value):
    return "-" if value is None else f"{100 * value:.1f}%"


# -- data ---------------------------------------------------------------------

DEEPLY_ROOMS = ("AirbnbStudio", "AnechoicChamber", "DanceStudio")
FLITE_VOICES = ("slt", "rms", "awb")  # flite's unit-selection (recorded) voices


def telephone(source, target, *pad):
    """``source`` as 8 kHz mono 16-bit WAV (sox), like a phone line."""
    command = ["sox", str(source), "-b", "16", "-c", "1", str(target), "rate", "8000"]
    subprocess.run([*command, *(["pad", *pad] if pad else [])], check=True)


def write_tsv(folder, rows, columns):
    with open(Path(folder, "transcripts.tsv"), "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(columns) + "\n")
        handle.writelines("\t".join(str(value) for value in row) + "\n" for row in rows)


def prepare_deeply(corpus, folder, kind):
    """The Korean clips from a copy of the Deeply Korean Read Speech Corpus
    sample (its ``dataset/`` folder: the JSON and one folder per room).

    The dialogue lines (text sentiment 0), one recording each: set ``a``
    read in a neutral voice where there is one, rooms in turn; set ``b``
    the same lines read in a negative and in a positive voice, in the
    other rooms.
    """
    corpus, folder = Path(corpus), Path(folder)
    meta = json.loads(next(corpus.glob("Korean_Read_Speech_Corpus*.json")).read_text("utf-8"))
    by_text, order = {}, []
    for room in DEEPLY_ROOMS:
        for key, item in meta[room].items():
            if item["text_sentiment"] != 0:
                continue
            if item["text"] not in by_text:
                order.append(item["text"])
            by_text.setdefault(item["text"], []).append((room, key, item))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, text in enumerate(order):
        wanted = [(0, index)] if kind == "a" else [(-1, index + 1), (1, index + 2)]
        for voice, turn in wanted:
            # set a: another voice where the line has no neutral reading
            choices = [c for c in by_text[text] if kind == "a" or c[2]["voice_sentiment"] == voice]
            if not choices:
                continue
            room, key, item = min(
                choices,
                key=lambda c, voice=voice, turn=turn: (
                    c[2]["voice_sentiment"] != voice,
                    c[2]["noise"] != 0,
                    c[0] != DEEPLY_ROOMS[turn % 3],
                    c[1],
                ),
            )
            mark = "" if kind == "a" else ("n" if voice < 0 else "p")
            name = f"{index:03d}{mark}_{key}.wav"
            telephone(corpus / room / f"{key}.wav", folder / name)
            rows.append((name, text, item["speaker"], room, item["voice_sentiment"], item["noise"]))
    write_tsv(folder, rows, ["file", "text", "speaker", "room", "voice_sentiment", "noise"])
    return len(rows)


def prepare_flite(folder):
    """The English clips: :data:`ENGLISH` in flite's unit-selection voices."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for voice in FLITE_VOICES:
            for index, text in enumerate(ENGLISH):
                raw = Path(work, f"{voice}_{index}.wav")
                subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
                name = f"{voice}_{index:02d}.wav"
                telephone(raw, folder / name, "0.3", "0.3")
                rows.append((name, text, voice))
    write_tsv(folder, rows, ["file", "text", "voice"])
    return len(rows)


def prepare_long(sources, folder, lines=10, pause="0.8"):
    """Calls of ``lines`` consecutive clips of the data folders ``sources``
    (made by the other --prepare options), ``pause`` seconds of silence
    between them: what a call of a minute says, in one recording."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clips = [clip for source in sources for clip in load_clips(source)]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        silence = str(Path(work, "pause.wav"))
        subprocess.run(
            ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", silence, "trim", "0", pause],
            check=True,
        )
        for index in range(len(clips) // lines):
            group = clips[index * lines : (index + 1) * lines]
            sequence = [path for clip in group for path in (clip["path"], silence)][:-1]
            name = f"long{index:02d}.wav"
            subprocess.run(["sox", *sequence, str(folder / name)], check=True)
            rows.append((name, " ".join(clip["text"] for clip in group)))
    write_tsv(folder, rows, ["file", "text"])
    return len(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder with transcripts.tsv")
    parser.add_argument("--language", default="ko")
    parser.add_argument("--keywords", help="comma separated (default: the language's ten)")
    parser.add_argument("--variants", help=f"comma separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--threads", type=int, default=1, help="Whisper's CPU threads")
    parser.add_argument("--limit", type=int, help="the first N clips only")
    parser.add_argument("--examples", type=int, default=8, help="false flags and misses shown")
    parser.add_argument(
        "--prepare-deeply",
        metavar="DATASET",
        help="make --data from the Deeply corpus sample's dataset/ folder, then stop",
    )
    parser.add_argument("--set", choices=("a", "b"), default="a", help="with --prepare-deeply")
    parser.add_argument(
        "--prepare-flite", action="store_true", help="make --data with flite's voices, then stop"
    )
    parser.add_argument(
        "--prepare-long",
        metavar="FOLDERS",
        help="make --data of one-minute calls from these comma separated data folders, then stop",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("PBX_SPEECH_THREADS", str(args.threads))
    if args.prepare_long:
        made = prepare_long(args.prepare_long.split(","), args.data)
        say(f"{made} calls in {args.data}")
        return 0
    if args.prepare_deeply:
        say(f"{prepare_deeply(args.prepare_deeply, args.data, args.set)} clips in {args.data}")
        return 0
    if args.prepare_flite:
        say(f"{prepare_flite(args.data)} clips in {args.data}")
        return 0

    from pbx.analysis.keywords import find_keywords, parse_keywords

    if not Path(args.data, "transcripts.tsv").is_file():
        say(f"no data: {args.data}/transcripts.tsv is missing (see bench/README.md)")
        return 0
    language = args.language
    keywords = parse_keywords(args.keywords) if args.keywords else KEYWORDS[language[:2]]
    names = (args.variants or DEFAULT_VARIANTS[language[:2]]).split(",")
    clips = load_clips(args.data, args.limit)
    said = {clip["path"]: set(find_keywords(clip["text"], keywords, language)) for clip in clips}
    audio = sum(clip["seconds"] for clip in clips)
    occurrences = sum(len(found) for found in said.values())
    load_start = os.getloadavg()
    say(
        f"{len(clips)} clips, {audio:.0f} s of audio from {args.data}; keywords "
        f"{', '.join(keywords)}: {occurrences} keyword/clip pairs said"
    )
    engines = Engines(args.threads)
    results = {}
    for name in names:
        t0 = time.perf_counter()
        say(f"{name}: {VARIANTS[name].label}")
        try:
            rows = run_variant(engines, name, clips, language, keywords, said)
        except Exception as error:  # noqa: BLE001 - reported as the row
            say(f"{name}: {type(error).__name__}: {error}")
            results[name] = None
            continue
        results[name] = figures(rows, said, keywords)
        found = results[name]
        say(
            f"{name}: done in {time.perf_counter() - t0:.0f} s; CER {percent(found['cer'])},"
            f" recall {found['hit']}/{found['said']}, false {found['false']}/{found['not_said']}"
        )
    table = []
    for name in names:
        found = results.get(name)
        if found is None:
            table.append([name, "failed", *[""] * 6])
            continue
        share = found["false"] / found["not_said"]
        table.append(
            [
                name,
                percent(found["cer"]),
                percent(found["wer"]),
                f"{found['hit']}/{found['said']} = {percent(found['hit'] / found['said'])}",
                f"{found['false']}/{found['not_said']} = {percent(share)}",
                f"{found['false_clips']}",
                f"{found['rtf']:.2f}",
                f"{found['cpu_rtf']:.2f}",
            ]
        )
    print(
        f"Speech on {len(clips)} clips ({audio:.0f} s) of {args.data}, language {language};"
        f" keywords: {', '.join(keywords)} ({occurrences} pairs said, "
        f"{len(clips) * len(keywords) - occurrences} not said); Whisper threads {args.threads};"
        f" load average {' '.join(f'{v:.2f}' for v in load_start)} at the start,"
        f" {' '.join(f'{v:.2f}' for v in os.getloadavg())} at the end;"
        f" {time.strftime('%Y-%m-%d %H:%M %Z')}; {common.addon_label(common.REPO)}"
    )
    print_table(
        "CER/WER of the transcript; keyword recall (pairs flagged / said); false flags"
        " (pairs flagged / not said) and clips with one; RTF in wall and CPU seconds",
        ["variant", "CER", "WER", "recall", "false flags", "clips", "RTF", "CPU RTF"],
        table,
    )
    for name in names:
        found = results.get(name)
        if not found or not args.examples:
            continue
        print(f"\n{name}: false flags (keyword, source: said -> heard)")
        for keyword, source, clip, heard in found["false_examples"][: args.examples]:
            print(f"  {keyword} ({source}): {clip['text']!r} -> {heard!r}")
        print(f"{name}: missed")
        for keyword, clip, heard in found["missed_examples"][: args.examples]:
            print(f"  {keyword}: {clip['text']!r} -> {heard!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
