import functools
import logging
import os
import tempfile
from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL, clean_context

from ..pbx import audio, demo, numbers, tariff, transcribe
from ..pbx.ingest import InvalidCall, clean_call, client_number_of
from ..pbx.keywords import find_keywords
from ..pbx.recordings import RecordingError

_logger = logging.getLogger(__name__)

DIRECTIONS = [("incoming", "Incoming"), ("outgoing", "Outgoing"), ("internal", "Internal")]
STATUSES = [
    ("answered", "Answered"),
    ("missed", "Missed"),
    ("busy", "Busy"),
    ("failed", "Failed"),
    ("unknown", "Unknown"),
]
DEFAULT_SOURCE = "api"
RECORDING_STATES = [
    ("none", "No Recording"),
    ("pending", "To Download"),
    ("downloaded", "Downloaded"),
    ("failed", "Download Failed"),
    ("deleted", "Deleted (Retention)"),
]
MAX_RECORDING_ATTEMPTS = 8
MAX_ANALYSIS_ATTEMPTS = 3
# Context that keeps batch inserts from writing a chatter message per record.
QUIET = {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}
# Left out of a new call's values when empty: the column is NULL all the same, and
# each value given costs a conversion (a Monetary one, a currency lookup per row).
_NULL_WHEN_EMPTY = (
    "cost",
    "pbx_id",
    "client_number",
    "partner_id",
    "client_type_id",
    "extension",
    "user_id",
    "first_extension",
    "tariff_id",
    "recording",
    "hangup_cause",
)


class PhoneCall(models.Model):
    _name = "phone.call"
    _description = "Phone Call"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "call_start desc, id desc"
    _check_company_auto = True

    source = fields.Char(
        required=True,
        default=DEFAULT_SOURCE,
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
    client_number = fields.Char(
        readonly=True,
        help="The outside party's number in E.164 form: the caller of an incoming "
        "call, the callee of an outgoing one.",
    )
    partner_id = fields.Many2one(
        "res.partner", string="Client", index="btree_not_null", ondelete="set null"
    )
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
    ring_duration = fields.Integer(
        string="Ring Time", aggregator="sum", readonly=True, help="Seconds from ring to answer."
    )
    duration = fields.Integer(
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
    is_too_long = fields.Boolean(
        string="Too Long",
        compute="_compute_is_too_long",
        store=True,
        readonly=False,
        help="Longer than the company's long-call threshold.",
    )
    callback_state = fields.Selection(
        [("none", "Not Needed"), ("pending", "To Call Back"), ("done", "Called Back")],
        string="Call Back",
        default="none",
        required=True,
        readonly=True,
        copy=False,
    )
    callback_call_id = fields.Many2one(
        "phone.call",
        string="Called Back By",
        readonly=True,
        copy=False,
        ondelete="set null",
        help="The answered call with this number that settled the missed one.",
    )
    callback_scheduled = fields.Boolean(
        readonly=True, copy=False, help="The client's call-back activity was looked after."
    )
    review_scheduled = fields.Boolean(
        readonly=True, copy=False, help="A long-call review activity was given for this call."
    )
    recording = fields.Char(readonly=True, help="File name of the recording on the PBX.")
    recording_state = fields.Selection(
        RECORDING_STATES, default="none", required=True, readonly=True, copy=False
    )
    recording_attachment_id = fields.Many2one(
        "ir.attachment", readonly=True, copy=False, ondelete="set null"
    )
    recording_downloaded = fields.Boolean(
        string="Conversation Downloaded", readonly=True, copy=False
    )
    recording_error = fields.Char(readonly=True, copy=False)
    recording_attempts = fields.Integer(readonly=True, copy=False)
    recording_next_try = fields.Datetime(readonly=True, copy=False)
    recording_url = fields.Char(compute="_compute_recording_url")
    analysis_state = fields.Selection(
        [
            ("none", "Not Analysed"),
            ("pending", "To Analyse"),
            ("done", "Analysed"),
            ("no_audio", "No Audio"),
            ("failed", "Error"),
        ],
        default="none",
        required=True,
        readonly=True,
        copy=False,
    )
    analysis_error = fields.Char(readonly=True, copy=False)
    analysis_attempts = fields.Integer(readonly=True, copy=False)
    analysis_next_try = fields.Datetime(readonly=True, copy=False)
    audio_seconds = fields.Float(string="Recording Length (s)", readonly=True, aggregator="sum")
    talk_seconds_measured = fields.Float(string="Talk (s)", readonly=True, aggregator="sum")
    silence_seconds = fields.Float(string="Silence (s)", readonly=True, aggregator="sum")
    silence_ratio = fields.Float(
        readonly=True, aggregator="avg", help="Silence / recording length."
    )
    longest_silence = fields.Float(string="Longest Silence (s)", readonly=True, aggregator="max")
    long_silence_count = fields.Integer(
        string="Long Silences",
        readonly=True,
        help="Silences at least the company's threshold long.",
    )
    audio_channels = fields.Integer(readonly=True)
    side_a_talk_share = fields.Float(
        string="Left Side Talk Share",
        readonly=True,
        aggregator="avg",
        help="Share of the talk on the left channel (on MixMonitor: what the recorded channel "
        "heard, usually the other party). Empty for mono recordings.",
    )
    side_b_talk_share = fields.Float(
        string="Right Side Talk Share", readonly=True, aggregator="avg"
    )
    overtalk_seconds = fields.Float(
        string="Overtalk (s)", readonly=True, aggregator="sum", help="Both sides speaking at once."
    )
    transcript = fields.Text(readonly=True, copy=False)
    keyword_ids = fields.Many2many("phone.keyword", string="Mentions", readonly=True, copy=False)
    keyword_review_scheduled = fields.Boolean(readonly=True, copy=False)
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
    _durations_positive = models.Constraint(
        "CHECK(duration >= 0 AND ring_duration >= 0)", "Durations cannot be negative."
    )
    # The crons look for the few calls still to work on: partial indexes stay small
    # and most inserted calls never enter them.
    _callback_pending_idx = models.Index(
        "(client_number, call_start) WHERE callback_state = 'pending'"
    )
    _too_long_idx = models.Index("(id) WHERE is_too_long")
    _recording_pending_idx = models.Index("(id) WHERE recording_state = 'pending'")
    _recording_downloaded_idx = models.Index("(company_id, call_start) WHERE recording_downloaded")
    _analysis_pending_idx = models.Index("(id) WHERE analysis_state = 'pending'")

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
            call.call_date, call.call_time = _local_day_and_time(start, zones[company])

    @api.depends("duration")
    def _compute_duration_hours(self):
        for call in self:
            call.duration_hours = call.duration / 3600

    @api.depends("duration", "cost", "company_id")
    def _compute_is_too_long(self):
        # The thresholds are read at registration: changing them must not rewrite history.
        for call in self:
            call.is_too_long = _too_long(call.duration, call.cost, call.company_id)

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
            call.call_end_time = _local_day_and_time(end, call.company_id._phone_timezone())[1]

    @api.depends("recording_downloaded")
    def _compute_recording_url(self):
        for call in self:
            call.recording_url = (
                f"/phone_call_accounting/call/{call.id}/recording"
                if call.recording_downloaded and call.id
                else False
            )

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

    # ------------------------------------------------------------------
    # The one way in
    # ------------------------------------------------------------------

    @api.model
    def _ingest_calls(self, calls, source=None, company=None, pbx=None):
        """Create or update calls from plain dicts; return one result per item.

        Every road into the addon ends here. Each result is a dict with
        ``result`` ('created', 'updated' or 'rejected'), ``external_id``,
        ``call_id`` and ``reason`` (why it was rejected). Good items land even
        when others in the batch are rejected; a rejected item writes nothing.
        """
        if not self.env.su and not self.env.user.has_group(
            "phone_call_accounting.group_phone_manager"
        ):
            raise AccessError(
                self.env._("Only Phone managers and PBX connections may register calls.")
            )
        if pbx:
            source, company = pbx._source(), pbx.company_id
        company = company or self.env.company
        country = pbx._country_code() if pbx else company._phone_country_code()
        # The caller's default_* keys (a partner's Calls list opens with one) must not
        # fill the fields a call leaves empty, nor the callers created for it.
        calls_model = (
            self.sudo().with_company(company).with_context(clean_context(self.env.context), **QUIET)
        )
        results = [None] * len(calls)
        cleaned = {}
        for index, item in enumerate(calls):
            try:
                clean = clean_call(item)
            except InvalidCall as exc:
                results[index] = _rejected(item, str(exc))
                continue
            # The caller's source wins: a PBX must not write into another's calls.
            clean["source"] = str(source or item.get("source") or DEFAULT_SOURCE)[:64]
            clean["pbx_id"] = pbx.id if pbx else False
            cleaned[index] = clean
        if cleaned:
            outcome = calls_model._ingest_clean(
                cleaned, company, country, pbx or self.env["phone.pbx"]
            )
            for index, result in outcome.items():
                results[index] = result
        return results

    def _ingest_clean(self, cleaned, company, country, pbx):
        zone = company._phone_timezone()
        for clean in cleaned.values():
            clean["client"] = numbers.classify(client_number_of(clean), country)
        partners = self.env["res.partner"]._phone_match_or_create(
            [c["client"] for c in cleaned.values()], company
        )
        tariffs = self.env["phone.tariff"]._tariffs_for(company, pbx)
        for clean in cleaned.values():
            line = None
            if clean["direction"] == "outgoing" and clean["status"] != "missed":
                line = tariff.match(clean["client"].e164, tariffs)
            clean["tariff"] = line
            clean["zone"] = zone
        extensions = {c["extension"] for c in cleaned.values()}
        extensions |= {c["first_extension"] for c in cleaned.values()}
        users = self.env["res.users"]._phone_users_by_extension(extensions - {""}, company)
        keys = {(c["source"], c["external_id"]) for c in cleaned.values()}
        existing = self._phone_lock_and_fetch(keys)
        to_create, repeats, results = {}, [], {}
        for index, clean in cleaned.items():
            vals = self._ingest_values(clean, partners, users, company, country)
            key = (clean["source"], clean["external_id"])
            if key in existing:
                call = existing[key]
                if call.partner_id.id == vals["partner_id"]:
                    vals.pop("client_type_id")
                if call.recording == vals["recording"]:
                    vals.pop("recording_state")
                call.write(vals)
                results[index] = _result("updated", clean, call.id)
            elif key in to_create:
                # The same call twice in one batch: the later delivery wins.
                to_create[key] = (to_create[key][0], vals)
                repeats.append((index, key))
            else:
                # Known now: set in the INSERT rather than by an UPDATE right after it.
                vals["callback_state"] = "pending" if _needs_callback(vals) else "none"
                for fname in _NULL_WHEN_EMPTY:
                    if not vals[fname]:
                        del vals[fname]
                to_create[key] = (index, vals)
        created = self._ingest_create([vals for _index, vals in to_create.values()])
        for (key, (index, _vals)), (call, reason) in zip(to_create.items(), created, strict=True):
            if call:
                existing[key] = call
                results[index] = _result("created", cleaned[index], call.id)
            else:
                results[index] = _rejected(cleaned[index], reason)
        for index, key in repeats:
            if key in existing:
                results[index] = _result("updated", cleaned[index], existing[key].id)
            else:
                results[index] = _rejected(cleaned[index], results[to_create[key][0]]["reason"])
        landed = self.browse(r["call_id"] for r in results.values() if r["call_id"])
        landed._phone_process_callbacks()
        return results

    def _phone_lock_and_fetch(self, keys):
        """Serialise concurrent deliveries of the same calls, then load them."""
        ordered = sorted(f"{source}\x1f{external_id}" for source, external_id in keys)
        self.env.cr.execute(
            "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(%s::text[]) AS k", [ordered]
        )
        self.flush_model(["source", "external_id"])
        rows = self.env.execute_query(
            SQL(
                "SELECT id, source, external_id FROM phone_call"
                " WHERE source = ANY(%s) AND external_id = ANY(%s)",
                list({source for source, _id in keys}),
                list({external_id for _source, external_id in keys}),
            )
        )
        return {
            (source, external_id): self.browse(call_id)
            for call_id, source, external_id in rows
            if (source, external_id) in keys
        }

    def _ingest_values(self, clean, partners, users, company, country):
        client = clean["client"]
        partner = partners.get(client.e164) if client.e164 else None
        user = users.get(clean["extension"])
        cost = tariff.cost(clean["talk_seconds"], clean["tariff"])
        call_date, call_time = _local_day_and_time(clean["start"], clean["zone"])
        return {
            # Stored computed fields given here are not computed again: one INSERT a call.
            "call_date": call_date,
            "call_time": call_time,
            "duration_hours": clean["talk_seconds"] / 3600,
            "is_too_long": _too_long(clean["talk_seconds"], cost, company),
            "source": clean["source"],
            "external_id": clean["external_id"],
            "company_id": company.id,
            "pbx_id": clean["pbx_id"],
            "call_start": clean["start"].replace(tzinfo=None),
            "call_end": clean["end"].replace(tzinfo=None),
            "direction": clean["direction"],
            "status": clean["status"],
            # The client's side is classified already; only the other side is read here.
            "from_number": client.display
            if clean["direction"] == "incoming" and client.raw
            else _display_number(clean["from_number"], country),
            "to_number": client.display
            if clean["direction"] == "outgoing" and client.raw
            else _display_number(clean["to_number"], country),
            "client_number": client.e164 or False,
            "partner_id": partner.id if partner else False,
            "client_type_id": partner.phone_client_type_id.id if partner else False,
            "extension": clean["extension"] or False,
            "user_id": user.id if user else False,
            "forwarded": clean["forwarded"],
            "first_extension": clean["first_extension"] or False,
            "transferred": clean["transferred"],
            "tariff_id": clean["tariff"].key if clean["tariff"] else False,
            "cost": cost,
            "ring_duration": clean["ring_seconds"],
            "duration": clean["talk_seconds"],
            "recording": clean["recording"] or False,
            "recording_state": "pending" if clean["recording"] else "none",
            "hangup_cause": clean["hangup_cause"] or False,
        }

    @api.model
    def _add_missing_default_values(self, values):
        if self.env.context.get("phone_call_defaults_given"):
            return values
        return super()._add_missing_default_values(values)

    def _ingest_create(self, vals_list):
        """Create in one batch; on a database error isolate the faulty items."""
        if not vals_list:
            return []
        # The defaults of a call depend on the environment alone: looked up once a
        # batch, not once a call.
        defaults = self.default_get(list(self._fields))
        vals_list = [{**defaults, **vals} for vals in vals_list]
        calls = self.with_context(phone_call_defaults_given=True)
        try:
            with self.env.cr.savepoint():
                return [(call, None) for call in calls.create(vals_list)]
        except Exception:  # noqa: BLE001 - retried item by item below to name the culprit
            _logger.warning("Batch of %d calls failed; retrying one by one", len(vals_list))
            self.env.invalidate_all()
        outcome = []
        for vals in vals_list:
            try:
                with self.env.cr.savepoint():
                    outcome.append((calls.create(vals), None))
            except Exception as exc:  # noqa: BLE001 - one bad item must not sink the batch
                self.env.invalidate_all()
                outcome.append((None, self.env._("The database refused the call: %s", exc)))
        return outcome

    # ------------------------------------------------------------------
    # Missed calls get called back
    # ------------------------------------------------------------------

    def _phone_process_callbacks(self):
        """Open callbacks for new missed calls; close them on an answered call."""
        answered = self.filtered(
            lambda c: c.status == "answered" and c.client_number and c.direction != "internal"
        )
        missed = self.filtered(_needs_callback)
        missed.filtered(lambda c: c.callback_state == "none").callback_state = "pending"
        if answered:
            # Plain SQL on the indexed number: runs for every answered call delivered.
            self.flush_model(["callback_state", "client_number", "call_start"])
            pending = self.browse(
                call_id
                for (call_id,) in self.env.execute_query(
                    SQL(
                        "SELECT id FROM phone_call WHERE callback_state = 'pending'"
                        " AND client_number = ANY(%s) ORDER BY call_start",
                        list(set(answered.mapped("client_number"))),
                    )
                )
            )
            waiting = defaultdict(list)
            for missed_call in pending:
                waiting[missed_call.client_number].append(missed_call.id)
            for call in answered.sorted("call_start"):
                if call.client_number not in waiting:
                    continue
                settled = self.browse(waiting[call.client_number]).filtered(
                    lambda m, c=call: m.call_start <= c.call_start and m.callback_state == "pending"
                )
                settled._phone_close_callbacks(call)
        if missed.filtered(lambda c: c.callback_state == "pending" and c.partner_id):
            # The activities are opened by a cron started now: the PBX is not kept waiting.
            self.env.ref("phone_call_accounting.ir_cron_phone_callback_activities")._trigger()

    @api.model
    def phone_callback_count(self):
        """Missed calls of the user's companies still to call back (navbar counter)."""
        return self.search_count([("callback_state", "=", "pending")])

    @api.model
    def _cron_open_callback_activities(self, batch_size=1000):
        """Open the call-back activities of missed calls, a batch at a time."""
        cron = self.env["ir.cron"]
        domain = [
            ("callback_state", "=", "pending"),
            ("callback_scheduled", "=", False),
            ("partner_id", "!=", False),
        ]
        cron._commit_progress(remaining=self.search_count(domain))
        while calls := self.search(domain, limit=batch_size, order="call_start"):
            calls._phone_open_callback_activities()
            calls.callback_scheduled = True
            if not cron._commit_progress(len(calls)):
                break

    def _phone_open_callback_activities(self):
        """One "Call back" activity per client, however many calls it missed."""
        calls_by_partner = self.filtered("partner_id").grouped("partner_id")
        if not calls_by_partner:
            return
        self.partner_id.mapped("user_id")  # one read for every salesperson
        activity_type = self.env.ref("phone_call_accounting.mail_activity_type_callback")
        Activity = self.env["mail.activity"]
        already = set(
            Activity.search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "in", [partner.id for partner in calls_by_partner]),
                    ("activity_type_id", "=", activity_type.id),
                ]
            ).mapped("res_id")
        )
        partner_model = self.env["ir.model"]._get_id("res.partner")
        new = []
        for partner, calls in calls_by_partner.items():
            call = calls.sorted("call_start")[-1]
            responsible = call._phone_callback_responsible()
            if partner.id in already or not responsible:
                continue
            new.append(
                {
                    "res_model_id": partner_model,
                    "res_id": partner.id,
                    "activity_type_id": activity_type.id,
                    "summary": self.env._("Call back %s", call.client_number),
                    "note": self.env._("Missed call on %s.", call._get_html_link()),
                    "user_id": responsible.id,
                    "date_deadline": fields.Date.context_today(call),
                }
            )
        # One INSERT for the batch; the assignee sees it in their activities.
        Activity.with_context(mail_activity_quick_update=True).create(new)

    def _phone_callback_responsible(self):
        """The client's salesperson, else whoever's phone rang, else the reviewer
        (or, without one, a Phone manager)."""
        self.ensure_one()
        salesperson = self.partner_id.user_id
        if salesperson and salesperson.active and not salesperson.share:
            return salesperson
        rang = self.user_id
        if not rang and self.first_extension:
            rang = (
                self.env["res.users"]
                ._phone_users_by_extension({self.first_extension}, self.company_id)
                .get(self.first_extension)
            )
        return rang or self.company_id._phone_review_users()[:1]

    def _phone_close_callbacks(self, answered_call):
        """Mark missed calls called back and finish the client's callback activity."""
        if not self:
            return
        self.write({"callback_state": "done", "callback_call_id": answered_call.id})
        activity_type = self.env.ref("phone_call_accounting.mail_activity_type_callback")
        for partner in self.partner_id:
            activities = partner.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type
            )
            activities.action_feedback(
                feedback=self.env._("Called back: %s", answered_call._get_html_link())
            )

    # ------------------------------------------------------------------
    # Long-call reviews
    # ------------------------------------------------------------------

    @api.model
    def _cron_schedule_long_call_reviews(self, batch_size=200):
        """Give each too-long call exactly one review activity, in batches."""
        cron = self.env["ir.cron"]
        cron._commit_progress(remaining=self.search_count(self._long_call_review_domain()))
        while calls := self._long_calls_to_review(batch_size):
            calls._schedule_long_call_review()
            if not cron._commit_progress(len(calls)):
                break

    @api.model
    def _long_call_review_domain(self):
        # Calls of a company with nobody to review them wait, out of the batches.
        companies = self.env["res.company"].sudo().search([])  # pylint: disable=no-search-all
        reviewed = companies.filtered(lambda company: company._phone_review_users())
        return [
            ("is_too_long", "=", True),
            ("review_scheduled", "=", False),
            ("company_id", "in", reviewed.ids),
        ]

    @api.model
    def _long_calls_to_review(self, limit=None):
        return self.search(self._long_call_review_domain(), limit=limit, order="id")

    def _schedule_long_call_review(self):
        activity_type = self.env.ref("phone_call_accounting.mail_activity_type_long_call_review")
        reviewers = {}
        for call in self:
            company = call.company_id
            if company not in reviewers:
                reviewers[company] = company._phone_review_users()[:1]
            reviewer = reviewers[company]
            if not reviewer:
                continue  # left pending: the cron's domain skips it until someone can review
            # Written in the reviewer's language: the cron's own is nobody's.
            call = call.with_context(lang=reviewer.lang)
            call.activity_schedule(
                activity_type_id=activity_type.id,
                summary=call.env._(
                    "Review long call (%(minutes)s min)", minutes=round(call.duration / 60)
                ),
                note=call.env._(
                    "This call lasted longer than the %(limit)s minutes allowed.",
                    limit=company.phone_long_call_minutes,
                ),
                user_id=reviewer.id,
                date_deadline=fields.Date.context_today(call),
            )
            call.review_scheduled = True

    @api.model
    def _phone_demo_ingest(self):
        """Feed the demo days of traffic through the one way in, as the demo PBX.

        The recorded calls get their shipped recording as the PBX's upload
        stores it, then the analysis the cron runs: figures, transcript and
        keyword flags are measured, not written in.
        """
        pbx = self.env.ref("phone_call_accounting.phone_pbx_demo_webhook").sudo()
        known = ["+31205550101", "+31305550202", "+31612345678", "+4930901820"]
        unknown = ["+31201234567", "+31104567890", "+32470123456", "+441632960961"]
        now = fields.Datetime.now().replace(tzinfo=ZoneInfo("UTC"))
        calls = demo.demo_calls(now, known, unknown, ["101", "102", "103"])
        recorded = demo.recorded_calls(now, known)
        results = pbx._ingest(calls + recorded)
        rejected = [r for r in results if r["result"] == "rejected"]
        if rejected:
            _logger.warning("Demo calls rejected: %s", rejected)
        self.sudo()._long_calls_to_review()._schedule_long_call_review()
        for item, result in zip(recorded, results[len(calls) :], strict=True):
            call = self.sudo().browse(result["call_id"])
            if call and not call.recording_downloaded:
                call._store_recording(demo.recording(item["recording"]))
                call._analyse_recording()

    # ------------------------------------------------------------------
    # Recordings
    # ------------------------------------------------------------------

    @api.model
    def _cron_download_recordings(self, batch_size=50):
        """Fetch pending recordings in batches; one bad file never stops the run."""
        cron = self.env["ir.cron"]
        domain = self._recordings_due_domain()
        cron._commit_progress(remaining=self.search_count(domain))
        while calls := self.search(domain, limit=batch_size, order="recording_next_try, id"):
            for call in calls:
                call._download_recording()
            if not cron._commit_progress(len(calls)):
                break

    @api.model
    def _recordings_due_domain(self):
        return [
            ("recording_state", "=", "pending"),
            "|",
            ("recording_next_try", "=", False),
            ("recording_next_try", "<=", fields.Datetime.now()),
        ]

    def _download_recording(self):
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                recording = self.pbx_id._fetch_recording(self)
                self._store_recording(recording)
        except RecordingError as exc:
            self._recording_failed(str(exc), exc.retry)
        except Exception as exc:  # the cron must go on with the next file
            _logger.exception("Recording of call %s could not be stored", self.id)
            self._recording_failed(self.env._("unexpected error: %s", exc), retry=True)

    def _store_recording(self, recording):
        """Keep the audio as an attachment of the call, then mark it downloaded."""
        self.ensure_one()
        old = self.recording_attachment_id
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": recording.filename,
                    "raw": recording.data,
                    "mimetype": recording.mimetype,
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )
        self.write(
            {
                "recording_attachment_id": attachment.id,
                "recording_downloaded": True,
                "recording_state": "downloaded",
                "recording_error": False,
                "recording_next_try": False,
                "analysis_state": "pending",
                "analysis_error": False,
            }
        )
        old.sudo().unlink()

    def _recording_failed(self, reason, retry):
        self.ensure_one()
        attempts = self.recording_attempts + 1
        values = {"recording_error": reason[:255], "recording_attempts": attempts}
        if retry and attempts < MAX_RECORDING_ATTEMPTS:
            values["recording_next_try"] = fields.Datetime.now() + timedelta(
                minutes=min(2**attempts, 24 * 60)
            )
        else:
            values.update(recording_state="failed", recording_next_try=False)
        self.write(values)

    @api.model
    def _cron_purge_recordings(self):
        """Delete recordings older than each company's retention; keep the calls."""
        for company in self.env["res.company"].search([("phone_recording_retention_days", ">", 0)]):
            limit = fields.Datetime.now() - timedelta(days=company.phone_recording_retention_days)
            calls = self.search(
                [
                    ("company_id", "=", company.id),
                    ("recording_downloaded", "=", True),
                    ("call_start", "<", limit),
                ]
            )
            attachments = calls.recording_attachment_id
            calls.write(
                {
                    "recording_downloaded": False,
                    "recording_state": "deleted",
                    "recording_attachment_id": False,
                }
            )
            attachments.sudo().unlink()
            self.env["ir.cron"]._commit_progress(len(calls))

    # ------------------------------------------------------------------
    # Conversation analysis
    # ------------------------------------------------------------------

    @api.model
    def _cron_analyse_recordings(self, batch_size=20):
        """Measure, transcribe and flag downloaded recordings, a batch at a time."""
        cron = self.env["ir.cron"]
        domain = [
            ("analysis_state", "=", "pending"),
            ("recording_downloaded", "=", True),
            "|",
            ("analysis_next_try", "=", False),
            ("analysis_next_try", "<=", fields.Datetime.now()),
        ]
        cron._commit_progress(remaining=self.search_count(domain))
        while calls := self.search(domain, limit=batch_size, order="id"):
            for call in calls:
                call._analyse_recording()
            if not cron._commit_progress(len(calls)):
                break

    def _analyse_recording(self):
        self.ensure_one()
        company = self.company_id
        attachment = self.recording_attachment_id.sudo()
        if not attachment.file_size:
            self._analysis_failed(self.env._("the recording is empty"), state="no_audio")
            return
        suffix = os.path.splitext(attachment.name or "")[1] or ".wav"
        try:
            with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
                handle.write(attachment.raw or b"")
                handle.flush()
                figures = audio.analyse(
                    handle.name, long_silence=max(company.phone_long_silence_seconds, 1)
                )
                text = ""
                if company.phone_transcription:
                    backend = transcribe.get_backend(company.phone_transcription_backend)
                    text = backend.transcribe(
                        handle.name, company.phone_transcription_language
                    ).text
        except audio.AudioError as exc:
            # An unreadable file stays unreadable: no retry.
            no_audio = "no audio" in str(exc) or "empty file" in str(exc)
            self._analysis_failed(str(exc), state="no_audio" if no_audio else "failed")
            return
        except transcribe.TranscriptionError as exc:
            self._analysis_failed(str(exc), retry=True)
            return
        except Exception as exc:
            _logger.exception("Recording of call %s could not be analysed", self.id)
            self._analysis_failed(str(exc), retry=True)
            return
        self._store_analysis(figures, text)

    def _analysis_failed(self, reason, state="failed", retry=False):
        """Record why; a passing failure (engine, memory) is tried again later."""
        attempts = self.analysis_attempts + 1
        values = {"analysis_error": reason[:255], "analysis_attempts": attempts}
        if retry and attempts < MAX_ANALYSIS_ATTEMPTS:
            values["analysis_next_try"] = fields.Datetime.now() + timedelta(minutes=10 * attempts)
        else:
            values.update(analysis_state=state, analysis_next_try=False)
        self.write(values)

    def _store_analysis(self, figures, text):
        self.ensure_one()
        keywords = self.env["phone.keyword"].search([("company_id", "=", self.company_id.id)])
        found = set(find_keywords(text, keywords.mapped("name"))) if text else set()
        flagged = keywords.filtered(lambda k: k.name in found)
        self.write(
            {
                "analysis_state": "done",
                "analysis_error": False,
                "analysis_next_try": False,
                "audio_seconds": figures.duration,
                "talk_seconds_measured": figures.talk_seconds,
                "silence_seconds": figures.silence_seconds,
                "silence_ratio": figures.silence_ratio,
                "longest_silence": figures.longest_silence,
                "long_silence_count": figures.long_silences,
                "audio_channels": figures.channels,
                "side_a_talk_share": figures.left_talk_share or 0.0,
                "side_b_talk_share": figures.right_talk_share or 0.0,
                "overtalk_seconds": figures.overtalk_seconds or 0.0,
                "transcript": text or False,
                "keyword_ids": [Command.set(flagged.ids)],
            }
        )
        if flagged:
            self.message_post(
                body=self.env._("The conversation mentions: %s", ", ".join(flagged.mapped("name"))),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )
        reviewer = self.company_id._phone_review_users()[:1]
        if flagged.filtered("review") and reviewer and not self.keyword_review_scheduled:
            call = self.with_context(lang=reviewer.lang)
            call.activity_schedule(
                "phone_call_accounting.mail_activity_type_keyword_review",
                summary=call.env._("Review call mentioning %s", ", ".join(flagged.mapped("name"))),
                user_id=reviewer.id,
                date_deadline=fields.Date.context_today(self),
            )
            self.keyword_review_scheduled = True

    def action_analyse_again(self):
        self.filtered("recording_downloaded").write(
            {
                "analysis_state": "pending",
                "analysis_error": False,
                "analysis_attempts": 0,
                "analysis_next_try": False,
            }
        )

    def action_retry_recording(self):
        self.filtered("recording").write(
            {"recording_state": "pending", "recording_attempts": 0, "recording_next_try": False}
        )

    def action_mark_called_back(self):
        """Settle missed calls by hand (called back from a mobile, by e-mail...)."""
        pending = self.filtered(lambda call: call.callback_state == "pending")
        pending.write({"callback_state": "done"})
        activity_type = self.env.ref("phone_call_accounting.mail_activity_type_callback")
        still_waiting = self.search(
            [("callback_state", "=", "pending"), ("partner_id", "in", pending.partner_id.ids)]
        )
        for partner in pending.partner_id - still_waiting.partner_id:
            partner.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type
            ).action_feedback(feedback=self.env._("Marked called back by %s", self.env.user.name))

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


def _local_day_and_time(start, zone):
    """The local date and the hour of the day (float) of an aware ``start``."""
    local = start.astimezone(zone)
    return local.date(), local.hour + local.minute / 60 + local.second / 3600


def _needs_callback(call):
    """An incoming call from an outside number nobody answered (a call or its values)."""
    return (
        call["direction"] == "incoming"
        and call["status"] == "missed"
        and bool(call["client_number"])
    )


def _too_long(talk_seconds, cost, company):
    minutes, max_cost = company.phone_long_call_minutes, company.phone_long_call_cost
    return (bool(minutes) and talk_seconds > minutes * 60) or (bool(max_cost) and cost > max_cost)


@functools.lru_cache(maxsize=4096)
def _display_number(raw, country):
    if not raw:
        return False
    number = numbers.classify(raw, country)
    return number.display or raw


def _result(kind, clean, call_id):
    return {"result": kind, "external_id": clean["external_id"], "call_id": call_id, "reason": None}


def _rejected(item, reason):
    external_id = item.get("external_id") if isinstance(item, dict) else None
    return {"result": "rejected", "external_id": external_id, "call_id": False, "reason": reason}
