from odoo import fields, models

from ..pbx.live import CALL_STATES

STATE_LABELS = {"ringing": "Ringing", "talking": "Talking", "ended": "Ended"}


class PhoneCallLive(models.Model):
    """A call in progress on a desk phone: ringing or talking, from the PBX's live events.

    One row per PBX, call and extension (a queue that rings three agents
    has three rows until one answers), written only by SQL upserts
    (``phone_pbx_live``). An ended call keeps its row for a while so that a
    late event of it changes nothing; a cron removes those, and calls without
    news for hours (``phone.queue._cron_clean_live_state``).
    """

    _name = "phone.call.live"
    _description = "Call in Progress"
    _order = "started_at, id"
    _rec_name = "call_id"

    pbx_id = fields.Many2one("phone.pbx", string="PBX", required=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, index=True)
    call_id = fields.Char(string="PBX Call ID", required=True)
    extension = fields.Char(required=True, default="")
    state = fields.Selection([(s, STATE_LABELS[s]) for s in CALL_STATES], required=True)
    from_number = fields.Char()
    to_number = fields.Char()
    started_at = fields.Datetime(required=True)
    state_since = fields.Datetime(required=True)
    event_at = fields.Datetime(string="Last Event", required=True)

    _pbx_call_extension_unique = models.Constraint(
        "UNIQUE(pbx_id, call_id, extension)", "A call rings an extension once at a time."
    )
    _in_progress_idx = models.Index("(company_id, started_at) WHERE state <> 'ended'")
