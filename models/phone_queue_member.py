from odoo import fields, models

from ..pbx.live import MEMBER_STATUSES

STATUS_LABELS = {
    "available": "Available",
    "on_call": "On a Call",
    "ringing": "Ringing",
    "paused": "Paused",
    "unavailable": "Unavailable",
}


class PhoneQueueMember(models.Model):
    """An agent (queue member) of a call queue and their live status.

    Written only by SQL upserts from the PBX's live events (``phone_pbx_live``),
    one row per queue and member interface. A removed member is archived:
    the queue's members seen stay listed.
    """

    _name = "phone.queue.member"
    _description = "Queue Member"
    _order = "queue_id, extension, member, id"

    queue_id = fields.Many2one("phone.queue", required=True, ondelete="cascade", index=True)
    pbx_id = fields.Many2one("phone.pbx", string="PBX", ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    member = fields.Char(
        string="Interface", required=True, help="The member's interface, e.g. PJSIP/201."
    )
    extension = fields.Char()
    name = fields.Char(string="Member Name")
    status = fields.Selection([(s, STATUS_LABELS[s]) for s in MEMBER_STATUSES], required=True)
    status_since = fields.Datetime(required=True)
    event_at = fields.Datetime(string="Last Event", required=True)
    active = fields.Boolean(default=True, help="Archived when the member leaves the queue.")

    _queue_member_unique = models.Constraint(
        "UNIQUE(queue_id, member)", "A member is in a queue once."
    )
