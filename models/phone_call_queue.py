from odoo import api, fields, models

from ..pbx import ingest
from .phone_queue import answered_in_time, short_abandon

# How a caller left the queue: the core's words (pbx.ingest), with their labels.
_RESULT_LABELS = {
    "answered": "Answered",
    "abandoned": "Abandoned",
    "timeout": "Timeout",
    "other": "Other",
}
QUEUE_RESULTS = [(word, _RESULT_LABELS[word]) for word in ingest.QUEUE_RESULTS]
# The call's queue fields an item carrying the ``queue`` key writes (and a
# queue-log item writes alone), with the two booleans worked out from them.
QUEUE_FIELDS = (
    "queue_id",
    "queue_wait_seconds",
    "queue_result",
    "queue_position",
    "queue_answered_in_time",
    "queue_short_abandon",
)


class PhoneCall(models.Model):
    """A call's visit to a call queue: which queue, how long the caller waited, how
    it ended. A call through two queues holds its last queue, result and position,
    and the total time waited."""

    _inherit = "phone.call"

    queue_id = fields.Many2one(
        "phone.queue",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        check_company=True,
    )
    # No aggregator: the calls' grouped lists total only what the roll-up keeps
    # (Reporting's queue measures sum and average the waits).
    queue_wait_seconds = fields.Integer(
        string="Queue Wait",
        readonly=True,
        aggregator=False,
        help="Seconds from entering the queue to an agent answering, or to leaving "
        "unanswered; the total over the queues of a call that went through several.",
    )
    queue_result = fields.Selection(
        QUEUE_RESULTS,
        readonly=True,
        help="Answered by an agent, abandoned (the caller hung up while waiting), timeout "
        "(the queue's time limit), or other (left empty, by key, full or transferred out).",
    )
    queue_position = fields.Integer(
        readonly=True, aggregator=False, help="Position on entering the queue (1 = first in line)."
    )
    # Stored so that every queue measure is a one-row condition (pbx.measures). A
    # queue's new thresholds set them again with one UPDATE (phone.queue.write).
    queue_answered_in_time = fields.Boolean(
        string="Answered within T",
        compute="_compute_queue_thresholds",
        store=True,
        precompute=True,
        readonly=False,
        help="Answered after waiting at most the queue's service-level threshold T.",
    )
    queue_short_abandon = fields.Boolean(
        string="Short Abandon",
        compute="_compute_queue_thresholds",
        store=True,
        precompute=True,
        readonly=False,
        help="Abandoned after waiting at most the queue's short-abandon threshold.",
    )

    # Reporting's queue figures by hour of day, and the longest wait, read the calls
    # (the roll-up is by day, and keeps no maximum): a month of queued calls is read
    # from this index alone (at 10M calls: 140 ms instead of 400, bench/README.md).
    _queue_report_idx = models.Index(
        "(call_date) INCLUDE (company_id, call_time, queue_id, queue_result,"
        " queue_wait_seconds, queue_answered_in_time, queue_short_abandon)"
        " WHERE queue_id IS NOT NULL"
    )

    @api.depends("queue_id", "queue_result", "queue_wait_seconds")
    def _compute_queue_thresholds(self):
        for call in self:
            call.queue_answered_in_time = answered_in_time(
                call.queue_result, call.queue_wait_seconds, call.queue_id
            )
            call.queue_short_abandon = short_abandon(
                call.queue_result, call.queue_wait_seconds, call.queue_id
            )
