"""The choices the models offer, with their labels: each list once.

Not a model. The calls, their daily roll-up and the Reporting view offer the
same directions, statuses and call-back states; the company and each PBX the
same speech engines and languages. They all read them here.
"""

from ..pbx import ingest
from ..pbx.analysis import transcribe

# The call words are the core's (pbx.ingest); here they get their labels.
_LABELS = {
    "incoming": "Incoming",
    "outgoing": "Outgoing",
    "internal": "Internal",
    "answered": "Answered",
    "missed": "Missed",
    "busy": "Busy",
    "failed": "Failed",
    "unknown": "Unknown",
}
DIRECTIONS = [(word, _LABELS[word]) for word in ingest.DIRECTIONS]
STATUSES = [(word, _LABELS[word]) for word in ingest.STATUSES]
CALLBACK_STATES = [("none", "Not Needed"), ("pending", "To Call Back"), ("done", "Called Back")]


def _engine_labels(env):
    """Readable names of the speech engines pbx.transcribe ships; plug-ins show their own."""
    return {
        "auto": env._("Automatic (by the call's language: Whisper where installed)"),
        "whisper": env._("Whisper (faster-whisper, multilingual, recommended)"),
        "vosk": env._("Vosk (Kaldi models, Korean included)"),
        "pocketsphinx": env._("PocketSphinx (offline, English)"),
        "none": env._("Off"),
    }


def _language_labels(env):
    return {
        "en-us": env._("English (US)"),
        "en-gb": env._("English (UK)"),
        "ko": env._("Korean"),
        "nl": env._("Dutch"),
        "de": env._("German"),
        "fr": env._("French"),
        "es": env._("Spanish"),
        "ja": env._("Japanese"),
        "zh": env._("Chinese"),
    }


def engine_selection(model):
    """The speech engines installed here, by their readable names (a company's
    or a PBX's choice)."""
    labels = _engine_labels(model.env)
    return [(name, labels.get(name, name)) for name in transcribe.available_backends()]


def language_selection(model):
    """The languages the speech engines are told, by their names in the user's language."""
    labels = _language_labels(model.env)
    return sorted(labels.items(), key=lambda item: item[1])
