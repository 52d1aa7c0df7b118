#!/usr/bin/env python3
"""Speech engines: speed, memory and accuracy on telephone-quality speech.

Run it from the repository root::

    /opt/odoo19/venv/bin/python bench/bench_speech.py [--quick]
        [--engines whisper-en,whisper-ko,vosk-ko,pocketsphinx-en] [--workers 1,2]
        [--all-clips]

What it does:

1. Speaks a fixed set of sentences typical of calls (10 English, 8 Korean:
   refunds, cancellations, complaints, contracts, deliveries; two English
   sentences and one Korean name no keyword) with espeak-ng in three voices at two speeds
   (English ``en-us``, ``en-us+f3``, ``en-gb+m3``; Korean ``ko``, ``ko+f3``
   and ``ko+m3`` at three pitches), and turns each into a telephone file
   with sox: 8 kHz mono 16-bit, the leading and trailing silence trimmed and
   0.3 s of silence put back at both ends. No real recording under a free
   licence is available offline here, so every clip is synthetic.
2. For each engine and language (``--engines``), runs it in 1 worker process
   on every clip, then in 2 worker processes at once (``--workers``) on one
   clip per sentence (voice and speed changing from one sentence to the
   next), the clips shared out round robin. Each worker is a fresh process
   (``spawn``) that loads its model once (timed on a second of silence) and
   transcribes one clip untimed before the clock starts. It transcribes
   with the engine the addon uses (:func:`pbx.analysis.transcribe.get_backend`
   with the addon's defaults: Whisper base int8 with ``PBX_SPEECH_THREADS``
   threads, 1 unless set) and flags the keywords with the addon's own
   matching (:func:`pbx.analysis.keywords.keyword_hits`: Snowball stems,
   Korean morphemes with Kiwi). For Vosk it also does what the addon does
   with Vosk as the engine: a second listen with a grammar of the keywords
   the free transcript missed (:meth:`~pbx.analysis.vosk_engine.VoskBackend.spot`),
   reported as its own row. Whisper in Korean runs about 3x slower than real
   time (it falls back to sampling again and again on what it cannot make
   out), so it gets one clip per sentence only, unless ``--all-clips``.
3. Reads the worker's ``/proc/self/status`` once the model is loaded: VmRSS
   (memory used) and VmSize (address space, what Odoo's ``limit_memory_hard``
   caps; see :mod:`pbx.analysis.memory`), for Korean again once Kiwi is
   loaded (Korean keywords need it in the same worker), and VmHWM (peak RSS)
   after the clips.

Figures, per engine and language:

* real-time factor (RTF): seconds of processing / seconds of audio, with 1
  worker and, per worker, with 2 workers running together; the same in CPU
  seconds of the worker (``time.process_time``), which the load of other
  programs on a shared machine does not change;
* throughput speed-up from 1 to 2 workers on the same clips: their time one
  after another in the 1-worker run / the wall time of the 2 workers (first
  clip started to last clip finished); and the speed-up the CPU times allow
  on free cores (2 x CPU RTF with 1 / CPU RTF with 2);
* model load time, RSS and VmSize of a worker with the model loaded;
* word error rate (WER: substituted + deleted + inserted words / words
  said, counted by ``jiwer``)
  and the same on characters (CER, spaces and punctuation left out), which
  says more for Korean, whose words carry their particles; texts are
  case-folded and stripped of punctuation first;
* keyword recall: keywords said (found by the same matching in the sentence
  as written) that were flagged / keywords said; false flags: keywords
  flagged in a clip that does not say them.

Accuracy comes from the 1-worker run; "differ" counts the clips the
2-worker run heard differently (Whisper's temperature fallback samples at
random; Kaldi dithers its input). Targets: RTF below 1 (a worker keeps up
with a line in real time) and a speed-up of at least 1.8x on 2 cores; the
machine may be shared, so the load average is in the header. Accuracy has
no target: it is what a site can expect. Everything is reported, never
asserted; the exit code is 0 once the benchmark ran.
"""

# A script that prints its figures.
# pylint: disable=print-used

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata
import wave
from pathlib import Path

import common
import jiwer
from common import print_table, say

from pbx.testing import speech

MB = 1_000_000
KB = 1024
TARGET_RTF = 1.0
TARGET_SPEEDUP = 1.8
RATE = 8000  # telephone
PAD = 0.3  # seconds of silence put back at both ends of a clip

ENGLISH = [
    "Hello, I would like a refund for the shoes I bought last week.",
    "Please cancel my subscription before the end of the month.",
    "I am calling to make a complaint about your service.",
    "The delivery was late again and nobody told me why.",
    "Could you send me a copy of my contract by email?",
    "The price on the invoice is higher than what you told me.",
    "I would like to speak to a manager, please.",
    "If this is not fixed by Friday I will talk to a lawyer.",
    "Thank you very much, the parcel arrived this morning.",
    "Can you tell me when your office opens tomorrow?",
]
ENGLISH_KEYWORDS = [
    "refund",
    "cancel",
    "complaint",
    "delivery",
    "contract",
    "price",
    "invoice",
    "manager",
    "lawyer",
]
KOREAN = [
    "안녕하세요. 지난주에 산 신발을 환불 받고 싶습니다.",
    "다음 달부터 주문을 취소해 주세요.",
    "계약을 해지하고 싶어서 전화했어요.",
    "배송이 또 늦어서 너무 답답합니다.",
    "서비스에 불만이 많습니다.",
    "이번 달 요금이 너무 많이 나왔어요.",
    "상담원과 통화하고 싶습니다.",
    "감사합니다. 좋은 하루 되세요.",
]
KOREAN_KEYWORDS = ["환불", "취소", "해지", "계약", "배송", "불만", "요금", "상담원"]
# (espeak-ng voice, pitch 0-99), each at two speeds (words per minute)
VOICES = {
    "en": [("en-us", 50), ("en-us+f3", 50), ("en-gb+m3", 50)],
    "ko": [("ko", 50), ("ko+f3", 70), ("ko+m3", 30)],
}
SPEEDS = {"en": [150, 190], "ko": [140, 175]}
TEXTS = {"en": (ENGLISH, ENGLISH_KEYWORDS), "ko": (KOREAN, KOREAN_KEYWORDS)}
# name -> (backend, language, rows: (label, grammar second listen), each sentence once
# only: Whisper in Korean, about 3x real time, unless --all-clips)
ENGINES = {
    "whisper-en": ("whisper", "en", [("whisper (base, int8)", False)], False),
    "whisper-ko": ("whisper", "ko", [("whisper (base, int8)", False)], True),
    "vosk-ko": (
        "vosk",
        "ko",
        [("vosk (free transcript)", False), ("vosk + grammar listen", True)],
        False,
    ),
    "pocketsphinx-en": ("pocketsphinx", "en-us", [("pocketsphinx", False)], False),
}
_PUNCTUATION = re.compile(r"[^\w\s']|_")


# -- clips --------------------------------------------------------------------


def speak(text, path, voice, pitch, wpm):
    """``text`` as an 8 kHz mono 16-bit WAV, trimmed, with ``PAD`` s of silence around."""
    raw = path.with_name(path.stem + ".espeak.wav")
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(wpm), "-w", str(raw), text],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"espeak-ng failed: {done.stderr.strip()}")
    edge = ["silence", "1", "0.01", "0.1%"]
    speech.sox(
        raw, "-b", "16", "-c", "1", path,
        *edge, "reverse", *edge, "reverse", "rate", str(RATE), "pad", f"{PAD}", f"{PAD}",
    )  # fmt: skip
    raw.unlink()
    return path


def seconds_of(path):
    with wave.open(str(path)) as audio:
        return audio.getnframes() / audio.getframerate()


def make_clips(folder, language, quick):
    """``[{path, text, voice, seconds}]`` of ``language``: every sentence in
    every voice and speed (``quick``: the first four sentences, one voice)."""
    sentences, _keywords = TEXTS[language]
    voices = VOICES[language][:1] if quick else VOICES[language]
    speeds = SPEEDS[language][:1] if quick else SPEEDS[language]
    if quick:
        sentences = sentences[:4]
    clips = []
    for voice, pitch in voices:
        for wpm in speeds:
            combo = len(clips) // len(sentences)
            for index, text in enumerate(sentences):
                name = f"{language}_{voice.replace('+', '_')}_p{pitch}_s{wpm}_{index}.wav"
                path = speak(text, folder / name, voice, pitch, wpm)
                label = f"{voice} -p {pitch} -s {wpm}"
                clips.append(
                    {
                        "path": str(path),
                        "text": text,
                        "voice": label,
                        "seconds": seconds_of(path),
                        "sentence": index,
                        "combo": combo,
                    }
                )
    return clips


def one_per_sentence(clips):
    """Each sentence once, in a voice and speed that change from one sentence to the next."""
    combos = max(clip["combo"] for clip in clips) + 1
    return [clip for clip in clips if clip["combo"] == clip["sentence"] % combos]


# -- workers ------------------------------------------------------------------


def proc_status():
    """VmRSS, VmSize and VmHWM of this process, in bytes."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmSize", "VmHWM"):
            values[key] = int(value.split()[0]) * KB
    return values


def worker(job, clips, keywords, silence, barrier, results):
    """One worker: load the engine, warm up, wait for the others, transcribe ``clips``."""
    # Imported here: the parent process never loads a model.
    from pbx.analysis.keywords import keyword_hits, tokens
    from pbx.analysis.transcribe import get_backend

    name, language, grammar = job
    try:
        t0 = time.perf_counter()
        backend = get_backend(name)
        # a second of silence: the model is loaded, nothing is decoded
        backend.transcribe(silence, language)
        if grammar:
            backend.spot(silence, keywords, language)
        loaded = time.perf_counter() - t0
        memory = proc_status()
        with_kiwi = None
        if language.startswith("ko"):
            tokens("환불을", "ko")  # Kiwi, which Korean keywords need in the same worker
            with_kiwi = proc_status()
        # one clip, untimed: first-use allocations (Whisper's VAD model, buffers)
        keyword_hits(
            backend.transcribe(clips[0]["path"], language),
            keywords,
            language,
            spotter=backend if grammar else None,
            path=clips[0]["path"],
            second_listen="trust" if grammar else "off",
        )
        report = {"load": loaded, "memory": memory, "kiwi": with_kiwi, "error": None}
    except Exception as error:  # noqa: BLE001 - reported as the row's result
        report = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
        barrier.abort()
        results.put(report)
        return
    try:
        barrier.wait(600)
    except multiprocessing.BrokenBarrierError:
        results.put({"error": "another worker failed"})
        return
    done = []
    first = time.monotonic()
    for clip in clips:
        t0, c0 = time.perf_counter(), time.process_time()
        transcript = backend.transcribe(clip["path"], language)
        heard, heard_cpu = time.perf_counter() - t0, time.process_time() - c0
        hits = keyword_hits(transcript, keywords, language)
        item = {
            "path": clip["path"],
            "text": transcript.text,
            "free": {hit.keyword for hit in hits},
            "free_seconds": time.perf_counter() - t0,
            "free_cpu": time.process_time() - c0,
        }
        if grammar:
            t1, c1 = time.perf_counter(), time.process_time()
            hits = keyword_hits(
                transcript,
                keywords,
                language,
                spotter=backend,
                path=clip["path"],
                second_listen="trust",  # the grammar row: everything it hears
            )
            item["grammar"] = {hit.keyword for hit in hits}
            # the addon's path with Vosk: transcribe, match, listen again for the rest
            item["grammar_seconds"] = heard + time.perf_counter() - t1
            item["grammar_cpu"] = heard_cpu + time.process_time() - c1
        item["loop_seconds"] = time.perf_counter() - t0
        done.append(item)
    report["last"] = time.monotonic()
    report["first"] = first
    report["clips"] = done
    report["peak"] = proc_status().get("VmHWM")
    results.put(report)


def run(job, clips, keywords, silence, workers):
    """Results of ``workers`` fresh processes sharing ``clips`` round robin."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    shares = [clips[i::workers] for i in range(workers)]
    processes = [
        context.Process(target=worker, args=(job, share, keywords, silence, barrier, results))
        for share in shares
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=3600) for _process in processes]
    for process in processes:
        process.join(60)
    errors = [report for report in reports if report.get("error")]
    if errors:
        first = next((e for e in errors if "trace" in e), errors[0])
        if first.get("trace"):
            sys.stderr.write(first["trace"])
        return {"error": first["error"]}
    by_path = {item["path"]: item for report in reports for item in report["clips"]}
    return {
        "error": None,
        "workers": workers,
        "wall": max(r["last"] for r in reports) - min(r["first"] for r in reports),
        "load": max(r["load"] for r in reports),
        "memory": max((r["memory"] for r in reports), key=lambda m: m["VmRSS"]),
        "kiwi": reports[0]["kiwi"],
        "peak": max(r["peak"] or 0 for r in reports),
        "clips": [by_path[clip["path"]] for clip in clips],
    }


# -- accuracy -----------------------------------------------------------------


def normalise(text):
    text = unicodedata.normalize("NFC", text or "").casefold()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def word_errors(said, heard):
    """(errors, words said) of one clip: substitutions, deletions and insertions."""
    said, heard = normalise(said), normalise(heard)
    if not heard.strip():
        return len(said.split()), len(said.split())
    measures = jiwer.process_words(said, heard)
    return measures.substitutions + measures.deletions + measures.insertions, len(said.split())


def char_errors(said, heard):
    said, heard = normalise(said).replace(" ", ""), normalise(heard).replace(" ", "")
    if not heard:
        return len(said), len(said)
    measures = jiwer.process_characters(said, heard)
    return measures.substitutions + measures.deletions + measures.insertions, len(said)


def accuracy(clips, results, said_keywords, kind):
    """WER, CER, recall and false flags of one row (``kind``: free or grammar)."""
    words, chars = [0, 0], [0, 0]
    said_total = found = false = 0
    by_voice = {}
    for clip, result in zip(clips, results, strict=True):
        said = said_keywords[clip["text"]]
        flagged = result[kind]
        errors, count = word_errors(clip["text"], result["text"])
        words[0] += errors
        words[1] += count
        errors_c, count_c = char_errors(clip["text"], result["text"])
        chars[0] += errors_c
        chars[1] += count_c
        said_total += len(said)
        found += len(said & flagged)
        false += len(flagged - said)
        voice = by_voice.setdefault(clip["voice"], [0, 0, 0, 0])
        voice[0] += errors
        voice[1] += count
        voice[2] += len(said & flagged)
        voice[3] += len(said)
    return {
        "wer": words[0] / words[1] if words[1] else None,
        "cer": chars[0] / chars[1] if chars[1] else None,
        "recall": (found, said_total),
        "false": false,
        "clips": len(clips),
        "by_voice": by_voice,
    }


# -- report -------------------------------------------------------------------


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def mb(value):
    return f"{value / MB:,.0f} MB" if value is not None else "-"


def verdict(ok):
    return "PASS" if ok else "MISS"


def percent(value):
    return f"{100 * value:.0f}%" if value is not None else "-"


def measure(args):
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in engines if name not in ENGINES]
    if unknown:
        sys.exit(f"unknown engine {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    counts = sorted({int(n) for n in args.workers.split(",") if n.strip()})
    missing = [tool for tool in ("espeak-ng", "sox") if not shutil.which(tool)]
    if missing:
        sys.exit(f"needs {', '.join(missing)} (apt-get install {' '.join(missing)})")
    say(f"load average {load_average()} (1, 5, 15 min) on {os.cpu_count()} cores")
    started = time.monotonic()
    load_start = load_average()
    from pbx.analysis.keywords import find_keywords  # Kiwi for Korean: the parent only

    with tempfile.TemporaryDirectory(prefix="bench_speech_") as tmp:
        silence = str(speech.silence(1.0, Path(tmp, "silence.wav")))
        clips, said = {}, {}
        for language in sorted({ENGINES[name][1].split("-")[0] for name in engines}):
            t0 = time.perf_counter()
            clips[language] = make_clips(Path(tmp), language, args.quick)
            sentences, keywords = TEXTS[language]
            said[language] = {
                text: set(find_keywords(text, keywords, language)) for text in sentences
            }
            audio = sum(clip["seconds"] for clip in clips[language])
            say(
                f"{language}: {len(clips[language])} clips, {audio:.0f} s of audio, "
                f"spoken in {time.perf_counter() - t0:.0f} s"
            )
        runs = {}
        for name in engines:
            backend, language, rows, sampled = ENGINES[name]
            code = language.split("-")[0]
            grammar = any(row[1] for row in rows)
            keywords = TEXTS[code][1]
            every = clips[code]
            if sampled and not (args.all_clips or args.quick):
                every = one_per_sentence(every)
            # the other worker counts: each sentence once (the same clips in every run)
            few = every if args.quick else one_per_sentence(every)
            for count in counts:
                share = every if count == counts[0] else few
                say(f"{name}: {count} worker(s), {len(share)} clips")
                t0 = time.perf_counter()
                runs[name, count] = run(
                    (backend, language, grammar), share, keywords, silence, count
                )
                outcome = runs[name, count]
                outcome["share"] = share
                say(
                    f"{name}: {count} worker(s) done in {time.perf_counter() - t0:.0f} s"
                    + (f" ({outcome['error']})" if outcome["error"] else "")
                )
    report(args, engines, counts, clips, said, runs, load_start, started)
    return 0


def report(args, engines, counts, clips, said, runs, load_start, started):
    one, many = counts[0], counts[-1]
    speed_rows, memory_rows, accuracy_rows, voice_rows, samples = [], [], [], [], []
    for name in engines:
        _backend, language, rows, _sampled = ENGINES[name]
        code = language.split("-")[0]
        base, other = runs[name, one], runs.get((name, many))
        if base["error"]:
            speed_rows.append([f"{name}: {base['error'][:90]}", *[""] * 9])
            continue
        if many == one or other["error"]:
            other = None
        every = base["share"]
        audio = sum(clip["seconds"] for clip in every)
        memory, kiwi = base["memory"], base["kiwi"]
        memory_rows.append(
            [
                f"{name.split('-')[0]} {code}",
                f"{base['load']:.1f} s",
                mb(memory["VmRSS"]),
                mb(memory["VmSize"]),
                mb(kiwi["VmRSS"]) if kiwi else "-",
                mb(kiwi["VmSize"]) if kiwi else "-",
                mb(base["peak"]),
            ]
        )
        speedup = None
        if other:
            # the same clips in the 1-worker run, one after another
            few = {clip["path"] for clip in other["share"]}
            alone = sum(item["loop_seconds"] for item in base["clips"] if item["path"] in few)
            speedup = alone / other["wall"]
            few_audio = sum(clip["seconds"] for clip in other["share"])
        for label, grammar in rows:
            kind = "grammar" if grammar else "free"
            rtf1 = sum(item[f"{kind}_seconds"] for item in base["clips"]) / audio
            rtf2 = (
                sum(item[f"{kind}_seconds"] for item in other["clips"]) / few_audio
                if other
                else None
            )
            cpu1 = sum(item[f"{kind}_cpu"] for item in base["clips"]) / audio
            cpu2 = (
                sum(item[f"{kind}_cpu"] for item in other["clips"]) / few_audio if other else None
            )
            speed_rows.append(
                [
                    f"{label} {code}",
                    f"{rtf1:.2f}",
                    f"{rtf2:.2f}" if rtf2 is not None else "-",
                    f"< {TARGET_RTF:g}",
                    f"{speedup:.2f}x" if speedup else "-",
                    f">= {TARGET_SPEEDUP:g}x" if speedup else "",
                    f"{cpu1:.2f}",
                    f"{cpu2:.2f}" if cpu2 is not None else "-",
                    f"{many / one * cpu1 / cpu2:.2f}x" if cpu2 else "-",
                    verdict(
                        rtf1 < TARGET_RTF
                        and (rtf2 is None or rtf2 < TARGET_RTF)
                        and (speedup is None or speedup >= TARGET_SPEEDUP)
                    ),
                ]
            )
            found = accuracy(every, base["clips"], said[code], kind)
            differ = "-"
            if other:
                again = {item["path"]: item for item in other["clips"]}
                pairs = [
                    (item, again[item["path"]]) for item in base["clips"] if item["path"] in again
                ]
                changed = sum(a["text"] != b["text"] or a[kind] != b[kind] for a, b in pairs)
                differ = f"{changed} of {len(pairs)}"
            got, total = found["recall"]
            accuracy_rows.append(
                [
                    f"{label} {code}",
                    f"{len(every)}",
                    "-" if grammar else percent(found["wer"]),
                    "-" if grammar else percent(found["cer"]),
                    f"{got}/{total} = {percent(got / total if total else None)}",
                    f"{found['false']} in {found['clips']} clips",
                    differ,
                ]
            )
            voice_rows.append(
                (
                    code,
                    f"{label} {code}",
                    {
                        voice: f"{percent(v[0] / v[1] if v[1] else None)} {v[2]}/{v[3]}"
                        for voice, v in found["by_voice"].items()
                    },
                )
            )
            if not grammar:
                for item, clip in list(zip(base["clips"], every, strict=True))[:2]:
                    samples.append((f"{label} {code}", clip["voice"], clip["text"], item["text"]))
    audio = {code: sum(c["seconds"] for c in clips[code]) for code in clips}
    made = ", ".join(f"{len(clips[c])} {c} clips ({audio[c]:.0f} s)" for c in clips)
    print(
        f"Speech engines: {made} at 8 kHz from espeak-ng; {'quick; ' if args.quick else ''}"
        f"load average {load_start} at the start, {load_average()} at the end"
        f" ({os.cpu_count()} cores); {time.strftime('%Y-%m-%d %H:%M %Z')};"
        f" {common.addon_label(common.REPO)}"
    )
    print_table(
        f"Real-time factor (processing s / audio s) with {one} worker, and per worker with {many}"
        f" at once (each sentence once); throughput speed-up {one} -> {many} workers on those;"
        " CPU: the same in CPU seconds of the workers, and the speed-up they allow on free cores",
        [
            "engine",
            f"RTF {one}",
            f"RTF {many}",
            "target",
            "speed-up",
            "target",
            f"CPU {one}",
            f"CPU {many}",
            "CPU speed-up",
            "verdict",
        ],
        speed_rows,
    )
    print_table(
        "Worker memory once the model is loaded (/proc/self/status), Korean also with Kiwi"
        " (keywords) loaded; peak RSS after the clips",
        ["engine", "load", "RSS", "VmSize", "RSS + Kiwi", "VmSize + Kiwi", "peak RSS"],
        memory_rows,
    )
    print_table(
        f"Accuracy ({one}-worker run): WER and CER over the clips, keyword recall (flagged /"
        " said), false flags (flagged, not said); differ: clips heard differently in the"
        f" {many}-worker run",
        ["engine", "clips", "WER", "CER", "keyword recall", "false flags", "differ"],
        accuracy_rows,
    )
    for code in clips:
        voices = list(dict.fromkeys(clip["voice"] for clip in clips[code]))
        rows = [
            [label, *(row.get(v, "") for v in voices)] for c, label, row in voice_rows if c == code
        ]
        if rows:
            print_table(f"By voice ({code}): WER, keywords flagged/said", ["engine", *voices], rows)
    print()
    print("Samples (said -> heard):")
    for label, voice, text, heard in samples:
        print(f"  {label}, {voice}: {text!r}")
        print(f"    -> {heard!r}")
    print(f"wall time {time.monotonic() - started:.0f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 sentences, 1 voice, 1 speed")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma separated: {', '.join(ENGINES)}"
    )
    parser.add_argument("--workers", default="1,2", help="worker counts compared (default 1,2)")
    parser.add_argument(
        "--all-clips",
        action="store_true",
        help="Whisper in Korean on every clip too (slow: about 3x real time)",
    )
    args = parser.parse_args(argv)
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
