#!/usr/bin/env python3
"""Two analyses at once through one speech process: the throughput speed-up.

Usage, from the repository root::

    /opt/odoo19/venv/bin/python bench/bench_speech_jobs.py \\
        [--data /work/speech_data/ko_deeply] [--clips 16] [--engines whisper,vosk]

A speech process (:class:`pbx.analysis.service.SpeechServer`, ``--jobs 2``)
answers in a thread of this script on a socket of its own; the clients are
the addon's :class:`~pbx.analysis.client.SpeechClient`, the bytes of each
recording sent over the socket as an Odoo worker sends them. Each engine
analyses the same clips twice: one after the other (one client), then two
clients at once taking every other clip. The speed-up is the first wall
time over the second. For Whisper a second row runs the process as the
addon did before this change: one CTranslate2 worker for the process
(``num_workers=1``: the second request queues for the model).

The clips are real Korean speech at 8 kHz (``--data``: a folder with
``transcripts.tsv``, see ``bench_korean_speech.py``; the company's ten
keywords of that benchmark), else espeak-ng's Korean (smoke only). Also
printed: CPU seconds of this process (server and clients) over seconds of
audio, and the speech process's peak RSS and VmSize (it is this process).
Nothing is asserted; the script exits 0.
"""

# A benchmark script, not addon code: it prints its results.
# pylint: disable=print-used

import argparse
import csv
import os
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pbx.analysis import client as speech_client
from pbx.analysis import service, transcribe

KEYWORDS = ["시간", "식당", "퇴근", "회사", "친구", "저축", "예약", "선물", "학생", "여권"]
DEFAULT_DATA = os.environ.get("PBX_SPEECH_DATA_KO") or "/work/speech_data/ko_deeply"


def clips_of(folder, count):
    folder = Path(folder)
    if (folder / "transcripts.tsv").is_file():
        with open(folder / "transcripts.tsv", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        return [str(folder / row["file"]) for row in rows[:count]], "real Korean speech"
    from pbx.testing import speech

    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    lines = ["예약 취소 때문에 전화드렸습니다", "주차는 몇시까지 할 수 있어요?"]
    paths = [
        str(speech.speak(lines[i % 2], work / f"{i}.wav", voice="ko", wpm=150))
        for i in range(count)
    ]
    return paths, "espeak-ng Korean (smoke only: no real speech found)"


def seconds_of(path):
    with wave.open(path) as audio:
        return audio.getnframes() / audio.getframerate()


def status_mb():
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmRSS", "VmSize", "VmHWM"):
            values[key] = int(value.split()[0]) // 1024
    return values


def run(folder, engine, paths, clients):
    """Wall and CPU seconds of analysing ``paths`` with ``clients`` at once."""
    client = speech_client.SpeechClient(folder, autostart=False)
    shares = [paths[i::clients] for i in range(clients)]
    failures = []

    def work(share):
        for path in share:
            try:
                client.analyse(path, engine, "ko", KEYWORDS)
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(f"{Path(path).name}: {error}")

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    wall, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - wall, time.process_time() - cpu, failures


def measure(engine, paths, workers_per_job):
    """One speech process with two jobs; returns its figures."""
    folder = Path(tempfile.mkdtemp(prefix="bench-jobs-run-"))
    listener = service._bind(folder)
    server = service.SpeechServer(listener, folder, jobs=2, idle_timeout=0)
    original = transcribe.job_options
    if not workers_per_job:
        # as before: every job queued for the one CTranslate2 worker
        transcribe.job_options = lambda name, jobs: {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run(folder, engine, paths[:2], 1)  # the model loaded, not timed
        one = run(folder, engine, paths, 1)
        two = run(folder, engine, paths, 2)
    finally:
        transcribe.job_options = original
        server.stop("benchmark over")
        thread.join(10)
        listener.close()
        server.wait(30)
    return one, two


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--engines", default="whisper,vosk")
    args = parser.parse_args(argv)
    os.environ.setdefault("PBX_SPEECH_THREADS", "1")
    paths, what = clips_of(args.data, args.clips)
    audio = sum(seconds_of(path) for path in paths)
    print(
        f"Two analyses at once through one speech process (--jobs 2): {len(paths)} clips, "
        f"{audio:.0f} s of {what}; {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    rows = []
    for engine in args.engines.split(","):
        variants = [(True, "a worker per job")]
        if engine == "whisper":
            variants.append((False, "one worker (before)"))
        for per_job, label in variants:
            (w1, c1, f1), (w2, c2, f2) = measure(engine, paths, per_job)
            memory = status_mb()
            rows.append(
                (
                    f"{engine}, {label}",
                    f"{w1 / audio:.2f}",
                    f"{w2 / audio:.2f}",
                    f"{w1 / w2:.2f}x",
                    f"{c1 / audio:.2f}",
                    f"{c2 / audio:.2f}",
                    f"{memory['VmHWM']:,}",
                    f"{memory['VmSize']:,}",
                    str(len(f1) + len(f2)),
                )
            )
            for failure in (f1 + f2)[:3]:
                print(f"  {engine}: {failure}")
    header = (
        "engine",
        "wall/audio 1",
        "wall/audio 2",
        "speed-up",
        "CPU/audio 1",
        "CPU/audio 2",
        "peak RSS MB",
        "VmSize MB",
        "failed",
    )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    for index, row in enumerate([header, *rows]):
        print("| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print(line)
    print(line)
    print(
        "1: one client, the clips one after another; 2: two clients at once. "
        "Peak RSS and VmSize: this process (the speech process and the clients), "
        "after the engine's runs, growing from row to row."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
