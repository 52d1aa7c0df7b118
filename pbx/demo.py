"""Realistic demo traffic, as the dicts a PBX delivers to the ingestion method."""

import random
from datetime import timedelta
from pathlib import Path

from .recordings import check_audio

STATUS_WEIGHTS = {"answered": 70, "missed": 15, "busy": 6, "failed": 4, "unknown": 5}
DIRECTION_WEIGHTS = {"incoming": 55, "outgoing": 35, "internal": 10}
COMPANY_NUMBER = "+31207940100"

# Recordings shipped with the demo (spoken by demo/recordings/make_recordings.sh).
RECORDINGS_DIR = Path(__file__).resolve().parent.parent / "demo" / "recordings"
# Today's recorded calls: (file, direction, client index in ``known_numbers``,
# extension, minutes ago, talk seconds). What is said in them is transcribed
# when the demo loads, so their figures and keyword flags are the analysis's own.
RECORDED_CALLS = (
    ("lawyer_two_sided.wav", "incoming", 2, "102", 25, 6),  # stereo: caller left, agent right
    ("cancel_order.wav", "incoming", 0, "101", 55, 3),
    ("money_back.wav", "incoming", 1, "103", 85, 5),
    ("call_back.wav", "outgoing", 3, "103", 115, 3),
)


def demo_calls(now, known_numbers, unknown_numbers, extensions, days=7, per_day=18, seed=19):
    """Return call dicts spread over ``days`` days ending at ``now`` (aware UTC).

    ``known_numbers`` belong to existing clients, ``unknown_numbers`` to no one
    (they become auto-created clients), ``extensions`` are desk phones.
    Today's calls all lie before ``now`` so they show in "Today".
    """
    rng = random.Random(seed)
    calls = []
    for day in range(days):
        for index in range(per_day):
            if day == 0:
                start = now - timedelta(minutes=7 + index * rng.randint(9, 23))
            else:
                midnight = (now - timedelta(days=day)).replace(
                    hour=7, minute=0, second=0, microsecond=0
                )
                start = midnight + timedelta(seconds=rng.randint(0, 10 * 3600))
            calls.append(
                _one_call(
                    rng, f"demo-{day}-{index}", start, known_numbers, unknown_numbers, extensions
                )
            )
    # The cases a manager must be able to find, whatever the dice said.
    calls[1].update(status="answered", talk_seconds=47 * 60, ring_seconds=9)
    calls[2].update(
        direction="incoming",
        status="answered",
        forwarded=True,
        first_extension=extensions[0],
        extension=extensions[-1],
        from_number=known_numbers[0],
        to_number=COMPANY_NUMBER,
    )
    calls[3].update(
        direction="incoming",
        status="unknown",
        ring_seconds=0,
        talk_seconds=0,
        from_number=unknown_numbers[0],
        to_number=COMPANY_NUMBER,
        extension="",
    )
    calls[4].update(
        direction="incoming",
        status="missed",
        talk_seconds=0,
        from_number="anonymous",
        to_number=COMPANY_NUMBER,
        extension="",
        first_extension=extensions[0],
    )
    return calls


def recorded_calls(now, known_numbers):
    """Today's answered calls with a recording, as the PBX delivers them."""
    calls = []
    for index, (name, direction, client, extension, minutes, talk) in enumerate(RECORDED_CALLS):
        number = known_numbers[client]
        incoming = direction == "incoming"
        calls.append(
            {
                "external_id": f"demo-recorded-{index}",
                "direction": direction,
                "status": "answered",
                "from_number": number if incoming else extension,
                "to_number": COMPANY_NUMBER if incoming else number,
                "extension": extension,
                "first_extension": extension if incoming else "",
                "start": (now - timedelta(minutes=minutes)).isoformat(),
                "ring_seconds": 4 + index,
                "talk_seconds": talk,
                "recording": name,
                "hangup_cause": "16",
            }
        )
    return calls


# A day of a support queue (T 20 s, short abandons up to 5 s): how callers
# left it, as (count a day, queue result, lowest and highest wait in seconds).
QUEUE_NAME = "support"
QUEUE_TRAFFIC = (
    (22, "answered", 2, 20),  # within T
    (6, "answered", 21, 95),  # over T
    (3, "abandoned", 1, 5),  # short abandons: not counted against the queue
    (4, "abandoned", 6, 140),
    (2, "timeout", 120, 120),  # the queue's time limit
    (1, "other", 4, 30),  # left with a key, or the queue was empty
)


def queue_calls(now, since, clients, extensions, days=7, seed=23):
    """Incoming calls through the demo queue: a day of traffic today, between
    ``since`` (today's start in the company's zone) and ``now`` (aware UTC),
    and a smaller one on each of the ``days - 1`` days before; every way out
    of the queue (:data:`QUEUE_TRAFFIC`) each day.

    One caller in ten is one of the demo's ``clients``; the others come from
    three hundred mobile numbers (06-1 to 06-5), so that some call again
    within the week and most do not, as in a real queue (first-contact
    resolution)."""
    rng = random.Random(seed)
    callers = [f"+316{n}" for n in rng.sample(range(10_000_000, 60_000_000), 300)]
    calls = []
    for day in range(days):
        kinds = [
            (result, low, high)
            for count, result, low, high in QUEUE_TRAFFIC
            for _ in range(count if day == 0 else max(1, count // 2))
        ]
        rng.shuffle(kinds)
        if day == 0:
            first = max(since, now - timedelta(hours=10))
            span = max((now - timedelta(minutes=2) - first).total_seconds(), 60)
        else:
            first = (now - timedelta(days=day)).replace(hour=7, minute=0, second=0, microsecond=0)
            span = 10 * 3600
        for index, (result, low, high) in enumerate(kinds):
            wait = rng.randint(low, high)
            start = first + timedelta(seconds=span * (index + rng.random()) / len(kinds))
            answered = result == "answered"
            extension = rng.choice(extensions)
            calls.append(
                {
                    "external_id": f"demo-queue-{day}-{index}",
                    "direction": "incoming",
                    "status": "answered" if answered else "missed",
                    "from_number": rng.choice(clients if rng.random() < 0.1 else callers),
                    "to_number": COMPANY_NUMBER,
                    "extension": extension if answered else "",
                    "first_extension": extension,
                    "start": start.isoformat(),
                    "ring_seconds": min(wait, rng.randint(2, 12)),
                    "talk_seconds": rng.randint(40, 600) if answered else 0,
                    "hangup_cause": "16",
                    "queue": QUEUE_NAME,
                    "queue_wait_seconds": wait,
                    "queue_result": result,
                    "queue_position": rng.randint(1, 4),
                }
            )
    return calls


def recording(name):
    """The shipped recording ``name`` as a :class:`~pbx.recordings.Recording`."""
    return check_audio((RECORDINGS_DIR / name).read_bytes(), name)


def _one_call(rng, external_id, start, known_numbers, unknown_numbers, extensions):
    direction = pick(rng, DIRECTION_WEIGHTS)
    status = pick(rng, STATUS_WEIGHTS)
    extension = rng.choice(extensions)
    client = rng.choice(known_numbers) if rng.random() < 0.75 else rng.choice(unknown_numbers)
    return call_item(rng, external_id, start, direction, status, client, extension, extensions)


def call_item(rng, external_id, start, direction, status, client, extension, extensions):
    """One call dict as a PBX delivers it, durations drawn by ``rng``.

    ``client`` is the outside number, ``extension`` the desk phone that took
    or made the call; an internal call rings another of ``extensions``.
    """
    talk = rng.randint(20, 900) if status in ("answered", "unknown") else 0
    ring = rng.randint(2, 25) if status != "failed" else 0
    if direction == "incoming":
        numbers = (client, COMPANY_NUMBER)
    elif direction == "outgoing":
        numbers = (extension, client)
    else:
        numbers = (extension, rng.choice([e for e in extensions if e != extension] or extensions))
    return {
        "external_id": external_id,
        "direction": direction,
        "status": status,
        "from_number": numbers[0],
        "to_number": numbers[1],
        "extension": extension
        if status in ("answered", "unknown") or direction == "outgoing"
        else "",
        "first_extension": extension if direction == "incoming" else "",
        "start": start.isoformat(),
        "ring_seconds": ring,
        "talk_seconds": talk,
        "hangup_cause": "16"
        if status == "answered"
        else {"busy": "17", "failed": "34"}.get(status, "19"),
    }


def pick(rng, weights):
    return rng.choices(list(weights), weights=list(weights.values()))[0]
