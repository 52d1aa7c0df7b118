from zoneinfo import ZoneInfo

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain

from ..pbx import call_rules, ingest, numbers
from .choices import DIRECTIONS, STATUSES


class PhoneCall(models.Model):
    _name = "phone.call"
    _description = "Phone Call"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "call_start desc, id desc"
    _check_company_auto = True

    source = fields.Char(
        required=True,
        default=ingest.DEFAULT_SOURCE,
        readonly=True,
        help="Where the call came from; with the external id it identifies the call.",
    )
    external_id = fields.Char(string="PBX Call ID", required=True, readonly=True)
    pbx_id = fields.Many2one(
        "phone.pbx", string="PBX", index="btree_not_null", ondelete="set null", readonly=True
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    call_start = fields.Datetime(string="Started", required=True, index=True, readonly=True)
    call_end = fields.Datetime(string="Ended", readonly=True)
    # The stored computed fields are readonly=False (read-only in the views): the
    # values ingestion gives are then kept instead of being computed again per call.
    call_date = fields.Date(
        compute="_compute_call_date",
        store=True,
        readonly=False,
        index=True,
        help="Day of the call in the company's time zone.",
    )
    call_time = fields.Float(
        compute="_compute_call_date",
        store=True,
        readonly=False,
        aggregator=False,
        help="Time of day of the call in the company's time zone.",
    )
    direction = fields.Selection(DIRECTIONS, required=True, readonly=True)
    status = fields.Selection(STATUSES, required=True, readonly=True)
    from_number = fields.Char(readonly=True)
    to_number = fields.Char(readonly=True)
    number_search = fields.Char(
        string="Number",
        compute="_compute_number_search",
        search="_search_number_search",
        help="Either party's number, typed in any form: +31 20 555 0101, 020-5550101, "
        "0031205550101.",
    )
    client_number = fields.Char(
        readonly=True,
        help="The outside party's number in E.164 form: the caller of an incoming "
        "call, the callee of an outgoing one.",
    )
    # Indexed by _partner_calls_idx, in the order a client's history lists them.
    partner_id = fields.Many2one("res.partner", string="Client", ondelete="set null")
    client_type_id = fields.Many2one(
        "phone.client.type",
        ondelete="set null",
        help="The client's type when the call was registered.",
    )
    extension = fields.Char(readonly=True, help="The extension that answered, or that called out.")
    user_id = fields.Many2one(
        "res.users",
        string="Employee",
        index="btree_not_null",
        help="The user whose extension answered or called.",
    )
    forwarded = fields.Boolean(
        readonly=True, help="Another extension than the one rung first took the call."
    )
    first_extension = fields.Char(readonly=True, help="The extension that rang first.")
    transferred = fields.Boolean(readonly=True)
    ring_seconds = fields.Integer(
        string="Ring Time", aggregator="sum", readonly=True, help="Seconds from ring to answer."
    )
    talk_seconds = fields.Integer(
        string="Talk Time", aggregator="sum", readonly=True, help="Seconds of conversation."
    )
    duration_hours = fields.Float(
        string="Talk Time (hours)",
        compute="_compute_duration_hours",
        store=True,
        readonly=False,
        aggregator="sum",
        help="Talk time in hours, shown as h:mm:ss.",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    cost = fields.Monetary(
        readonly=True, aggregator="sum", help="Price of an outgoing call by the tariff table."
    )
    tariff_id = fields.Many2one("phone.tariff", readonly=True, ondelete="set null")
    hangup_cause = fields.Char(readonly=True)
    partner_call_ids = fields.Many2many(
        "phone.call", string="Client History", compute="_compute_partner_call_ids"
    )
    partner_call_count = fields.Integer(
        string="Client's Calls", compute="_compute_partner_call_ids"
    )
    call_end_time = fields.Float(
        string="End Time",
        compute="_compute_call_end_time",
        help="Time of day the call ended, in the call time zone.",
    )
    status_picture_url = fields.Char(compute="_compute_picture_urls")
    direction_picture_url = fields.Char(compute="_compute_picture_urls")

    _source_external_id_unique = models.Constraint(
        "UNIQUE(source, external_id)", "This PBX call is already registered."
    )
    # A client's calls newest first straight from the index (the Calls tab reads
    # every id of a client with thousands of calls), the company rule checked there
    # too; counts and the foreign key use it as well.
    _partner_calls_idx = models.Index(
        "(partner_id, call_start DESC, id DESC) INCLUDE (company_id) WHERE partner_id IS NOT NULL"
    )
    _durations_positive = models.Constraint(
        "CHECK(talk_seconds >= 0 AND ring_seconds >= 0)", "Durations cannot be negative."
    )

    @api.depends("call_start", "company_id")
    def _compute_call_date(self):
        zones = {}
        for call in self:
            if not call.call_start:
                call.call_date = False
                call.call_time = 0.0
                continue
            company = call.company_id
            if company not in zones:
                zones[company] = company._phone_timezone()
            start = fields.Datetime.to_datetime(call.call_start).replace(tzinfo=ZoneInfo("UTC"))
            call.call_date, call.call_time = call_rules.local_day_and_time(start, zones[company])

    @api.depends("talk_seconds")
    def _compute_duration_hours(self):
        for call in self:
            call.duration_hours = call.talk_seconds / 3600

    @api.depends("partner_id")
    def _compute_partner_call_ids(self):
        for call in self:
            if call.partner_id:
                # The call itself is on screen already: its history is the others.
                others = [("partner_id", "=", call.partner_id.id), ("id", "!=", call.id)]
                call.partner_call_ids = self.search(others, limit=80)
                call.partner_call_count = self.search_count(others) + 1
            else:
                call.partner_call_ids = False
                call.partner_call_count = 0

    @api.depends("call_end", "company_id")
    def _compute_call_end_time(self):
        for call in self:
            if not call.call_end:
                call.call_end_time = 0.0
                continue
            end = fields.Datetime.to_datetime(call.call_end).replace(tzinfo=ZoneInfo("UTC"))
            zone = call.company_id._phone_timezone()
            call.call_end_time = call_rules.local_day_and_time(end, zone)[1]

    @api.depends("status", "direction")
    def _compute_picture_urls(self):
        urls = self.env["phone.call.picture"].sudo()._picture_urls()
        for call in self:
            call.status_picture_url = urls.get(("status", call.status), False)
            call.direction_picture_url = urls.get(("direction", call.direction), False)

    @api.depends("direction", "client_number", "from_number", "to_number", "partner_id")
    @api.depends_context("lang")
    def _compute_display_name(self):
        labels = dict(self._fields["direction"]._description_selection(self.env))
        for call in self:
            other = call.partner_id.name or call.client_number
            if not other:
                other = f"{call.from_number or '?'} → {call.to_number or '?'}"
            call.display_name = f"{labels.get(call.direction, '')} {other}".strip()

    def _order_field_to_sql(self, alias, field_name, direction, nulls, query):
        # Date and time of day are parts of the start: sorting by either sorts
        # by the start, so that times within a day follow the same direction.
        if field_name in ("call_date", "call_time"):
            field_name = "call_start"
        return super()._order_field_to_sql(alias, field_name, direction, nulls, query)

    def _compute_number_search(self):
        self.number_search = False

    def _search_number_search(self, operator, value):
        if operator not in ("ilike", "=", "like", "=ilike") or not isinstance(value, str):
            raise UserError(self.env._("Search a number with 'contains' or 'is'."))
        text = value.strip()
        domain = Domain.OR(
            Domain(fname, "ilike", text) for fname in ("from_number", "to_number", "client_number")
        )
        number = numbers.classify(text, self.env.company._phone_country_code())
        if number.kind == numbers.EXTERNAL:
            # Stored as the company's people write it, or as E.164 for the client.
            written = {
                number.display_in(self.env.company._phone_country_code()),
                number.international,
            }
            domain |= Domain("client_number", "=", number.e164)
            domain |= Domain("from_number", "in", list(written))
            domain |= Domain("to_number", "in", list(written))
        return domain

    def action_dial(self):
        self.ensure_one()
        return self.env.user.action_phone_dial(self.client_number or self.from_number or "")

    def action_open_partner(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.partner",
            "res_id": self.partner_id.id,
            "view_mode": "form",
        }

    def action_view_partner_calls(self):
        """The client's calls, as the client's own Calls button lists them."""
        self.ensure_one()
        action = self.partner_id.action_view_phone_calls()
        action["name"] = action["display_name"] = self.env._(
            "Calls of %s", self.partner_id.display_name
        )
        return action
