from odoo import fields, models


class PhoneQueueCaller(models.Model):
    """A caller in a call queue now, as the PBX's live events tell (``phone_pbx_live``).

    Written only by SQL upserts (one row per queue and call), never by the
    forms. A caller who left keeps its row, with ``left_at``, for a while: an
    older event arriving late (another worker's request) then changes
    nothing. The wallboard counts the rows without ``left_at``; a cron removes
    the old ones (``phone.queue._cron_clean_live_state``).
    """

    _name = "phone.queue.caller"
    _description = "Queue Caller"
    _order = "joined_at, id"
    _rec_name = "number"

    queue_id = fields.Many2one("phone.queue", required=True, ondelete="cascade", index=True)
    pbx_id = fields.Many2one("phone.pbx", string="PBX", ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    call_id = fields.Char(string="PBX Call ID", required=True)
    number = fields.Char()
    name = fields.Char(string="Caller Name")
    position = fields.Integer(help="Position in the queue on joining it (1 = first in line).")
    joined_at = fields.Datetime(string="Waiting Since", required=True)
    left_at = fields.Datetime(string="Left", help="Empty while the caller waits.")
    result = fields.Selection(
        [
            ("answered", "Answered"),
            ("abandoned", "Abandoned"),
            ("timeout", "Timeout"),
            ("other", "Other"),
        ],
        help="How the caller left the queue.",
    )
    event_at = fields.Datetime(
        string="Last Event", required=True, help="The time of the last event applied."
    )

    _queue_call_unique = models.Constraint(
        "UNIQUE(queue_id, call_id)", "A call waits in a queue once."
    )
    _waiting_idx = models.Index("(queue_id, joined_at) WHERE left_at IS NULL")
