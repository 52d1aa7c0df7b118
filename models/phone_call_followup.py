from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL

from ..pbx import call_rules
from . import concurrency
from .choices import CALLBACK_STATES

# Tells the Phone users' web clients that the calls to call back changed: each
# counts its own again (the navbar counter), whatever worker made the change.
CALLBACKS_NOTIFICATION = "phone_call_accounting/callbacks"


class PhoneCall(models.Model):
    """Missed calls called back, too-long calls reviewed."""

    _inherit = "phone.call"

    is_too_long = fields.Boolean(
        string="Too Long",
        compute="_compute_is_too_long",
        store=True,
        readonly=False,
        help="Longer than the company's long-call threshold.",
    )
    callback_state = fields.Selection(
        CALLBACK_STATES,
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

    # The crons look for the few calls still to work on: partial indexes stay small
    # and most inserted calls never enter them.
    _callback_pending_idx = models.Index(
        "(client_number, call_start) WHERE callback_state = 'pending'"
    )
    _too_long_idx = models.Index("(id) WHERE is_too_long")

    @api.model_create_multi
    def create(self, vals_list):
        calls = super().create(vals_list)
        self._callbacks_changed(calls._pending_companies())
        return calls

    def write(self, vals):
        watched = "callback_state" in vals or "company_id" in vals
        before = self._pending_companies() if watched else None
        result = super().write(vals)
        if watched and (changed := before | self._pending_companies()):
            self._callbacks_changed(changed)
        return result

    def unlink(self):
        self._callbacks_changed(self._pending_companies())
        return super().unlink()

    def _pending_companies(self):
        return self.filtered(lambda call: call.callback_state == "pending").sudo().company_id

    @api.model
    def _callbacks_changed(self, companies):
        """Tell the Phone users of ``companies`` that their calls to call back
        changed: once per transaction and company, on the Phone users' group
        channel (each of their web clients listens there, whichever worker
        serves it); each client counts its own calls again."""
        sent = self.env.cr.precommit.data.setdefault("phone_call_accounting.callbacks", set())
        new = set(companies.ids) - sent
        if not new:
            return
        sent.update(new)
        group = self.env.ref("phone_call_accounting.group_phone_user").sudo()
        group._bus_send(CALLBACKS_NOTIFICATION, {"company_ids": sorted(new)})

    @api.depends("talk_seconds", "cost", "company_id")
    def _compute_is_too_long(self):
        # The thresholds are read at registration: changing them must not rewrite history.
        for call in self:
            company = call.company_id
            call.is_too_long = call_rules.too_long(
                call.talk_seconds,
                call.cost,
                company.phone_long_call_minutes,
                company.phone_long_call_cost,
            )

    # ------------------------------------------------------------------
    # Missed calls get called back
    # ------------------------------------------------------------------

    def _process_callbacks(self):
        """Open callbacks for new missed calls; close them on an answered call."""
        answered = self.filtered(
            lambda c: c.status == "answered" and c.client_number and c.direction != "internal"
        )
        missed = self.filtered(call_rules.needs_callback)
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
                settled._close_callbacks(call)
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
            calls._open_callback_activities()
            calls.callback_scheduled = True
            if not cron._commit_progress(len(calls)):
                break

    def _open_callback_activities(self):
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
            responsible = call._callback_responsible()
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

    def _callback_responsible(self):
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

    def _close_callbacks(self, answered_call):
        """Mark missed calls called back and finish the client's callback activity."""
        if not self:
            return
        # Two workers logging answered calls from one number settle the same misses.
        concurrency.lock_rows_quietly(self, "call updated concurrently")
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
            # The activity type's name ("Review long call") is shown in each
            # reader's language; the summary holds only figures.
            call.activity_schedule(
                activity_type_id=activity_type.id,
                summary=_hms(call.talk_seconds),
                note="",
                user_id=reviewer.id,
                date_deadline=fields.Date.context_today(call),
            )
            call.review_scheduled = True

    def action_mark_called_back(self):
        """Settle missed calls by hand (called back from a mobile, by e-mail...).

        Phone users may, though they write no calls otherwise: the calls they can
        read, their call-back state and the client's call-back activity only.
        """
        self.check_access("read")
        pending = self.filtered(lambda call: call.callback_state == "pending")
        pending.sudo().write({"callback_state": "done"})
        activity_type = self.env.ref("phone_call_accounting.mail_activity_type_callback")
        still_waiting = self.sudo().search(
            [("callback_state", "=", "pending"), ("partner_id", "in", pending.partner_id.ids)]
        )
        for partner in pending.sudo().partner_id - still_waiting.partner_id:
            partner.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type
            ).action_feedback(feedback=self.env._("Marked called back by %s", self.env.user.name))


def _hms(seconds):
    seconds = int(seconds or 0)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
