"""The choices the models offer, with their labels: each list once.

Not a model. The calls, their daily roll-up and the Reporting view offer the
same directions, statuses and call-back states; they all read them here.
"""

from ..pbx import ingest

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
