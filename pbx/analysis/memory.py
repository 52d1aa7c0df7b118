"""Room in the process's address space before a speech model is loaded.

Odoo caps each server process's address space (``limit_memory_hard``, 2.5 GB
by default, set as RLIMIT_AS). Kaldi (Vosk) and Kiwi reserve far more address
space than they touch: the Korean Vosk model alone reserves about 2.3 GB. Over
the cap, their C++ allocators throw ``std::bad_alloc`` and the whole process
aborts, taking the cron with it. Checked first, a model that does not fit is a
clear set-up message instead.

The models normally live in the speech process (:mod:`.service`), which
raises its soft limit to the hard one; there the only cap left is a hard
limit the Odoo server that started it was given (``ulimit -Hv``, systemd's
``LimitAS=``), and the message says how to run the process without it.
"""

import resource
from pathlib import Path

from .engine import EngineUnavailableError

# Address space (MB) a loaded model added, measured with /proc/self/status VmSize.
RESERVED_MB = {
    "kiwi": 1300,
    "vosk": 2100,
    "whisper": 400,
}
_MB = 1024 * 1024
# "worker": an Odoo process (the speech process switched off); "speech": the
# speech process of :mod:`.service`
_PROCESS = {"kind": "worker"}


def set_process(kind):
    """Say which process this is, for the advice of :func:`ensure_room`."""
    _PROCESS["kind"] = kind


def _address_space_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) // 1024
    return 0


def limit_mb():
    """The soft RLIMIT_AS in MB, or None when there is none."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft // _MB


def ensure_room(what, engine, used_mb=None, limit=None):
    """Raise EngineUnavailableError if loading ``engine`` would pass the cap."""
    limit = limit_mb() if limit is None else limit
    if limit is None:
        return
    used = _address_space_mb() if used_mb is None else used_mb
    needed = RESERVED_MB[engine]
    if used + needed > limit:
        if _PROCESS["kind"] == "speech":
            advice = (
                "the speech process inherited this hard limit from the Odoo server that started"
                " it: run it as a service of its own (deploy/systemd/phone-call-speech.socket)"
                " or lift the Odoo service's hard limit (LimitAS, ulimit -Hv)"
            )
        else:
            advice = (
                f"raise limit_memory_hard (for example to {_suggest(used + needed)} bytes) on"
                " the Odoo servers that analyse recordings, or leave the models to the speech"
                " process (PBX_SPEECH_SERVICE unset)"
            )
        raise EngineUnavailableError(
            f"{what} needs about {needed} MB more address space than this process has left"
            f" ({used} MB used of a {limit} MB limit): {advice}"
        )


def _suggest(needed_mb):
    gigabytes = -(-(needed_mb + 512) // 1024)  # rounded up, with room for requests
    return gigabytes * 1024 * _MB
