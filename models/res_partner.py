import logging
import re

from psycopg2 import errors

from odoo import api, fields, models
from odoo.exceptions import ConcurrencyError
from odoo.tools import SQL

from ..pbx import numbers
from . import concurrency

_logger = logging.getLogger(__name__)
_NON_DIGITS = re.compile(r"\D")
_AUTO_CREATE_CONTEXT = {"tracking_disable": True, "mail_create_nolog": True}
# Computed fields of an auto-created caller whose value its INSERT holds already.
_KNOWN_AT_CREATION = ("phone_sanitized", "phone_national_number")
# The resized copies of the partner's picture: none while it has no picture.
_PICTURE_COPIES = ("image_1024", "image_512", "image_256", "image_128")


# Calls shown on the client's Calls tab, newest first.
RECENT_CALLS = 80


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Odoo ships this column without an index; calls are matched on it.
    phone_sanitized = fields.Char(index="btree_not_null")
    phone_national_number = fields.Char(
        compute="_compute_phone_national_number",
        store=True,
        index="btree_not_null",
        help="National significant number of the phone, for matching numbers "
        "saved with a wrong or missing country.",
    )
    phone_client_type_id = fields.Many2one(
        "phone.client.type", string="Client Type", index="btree_not_null", ondelete="set null"
    )
    phone_call_ids = fields.One2many("phone.call", "partner_id", string="Call History")
    phone_caller_number = fields.Char(
        string="Created for Caller",
        readonly=True,
        copy=False,
        help="The number this contact was created for as an unknown caller; cleared when "
        "its phone changes or it is archived.",
    )

    # One caller, one contact: the database refuses a second contact for a number,
    # whichever worker or server creates it (see _phone_create_callers).
    _phone_caller_number_unique = models.UniqueIndex(
        "(phone_caller_number) WHERE phone_caller_number IS NOT NULL",
        "A contact was already created for this caller.",
    )
    phone_call_count = fields.Integer(string="Calls", compute="_compute_phone_call_count")
    # The Calls tab: a client with thousands of calls must open at once, and
    # an x2many reads every id it holds; the smart button lists them all.
    phone_recent_call_ids = fields.Many2many(
        "phone.call",
        string="Latest Calls",
        compute="_compute_phone_recent_call_ids",
        help="The client's most recent calls; the Calls button lists them all.",
    )

    @api.depends("phone_sanitized", "phone")
    def _compute_phone_national_number(self):
        for partner in self:
            national = numbers.national_number(partner.phone_sanitized)
            if not national and partner.phone:
                digits = _NON_DIGITS.sub("", partner.phone).lstrip("0")
                national = digits if len(digits) > numbers.MAX_EXTENSION_DIGITS else False
            partner.phone_national_number = national or False

    def _compute_phone_call_count(self):
        counts = dict(
            self.env["phone.call"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        for partner in self:
            partner.phone_call_count = counts.get(partner, 0)

    def _compute_phone_recent_call_ids(self):
        Call = self.env["phone.call"]
        for partner in self:
            partner.phone_recent_call_ids = (
                Call.search([("partner_id", "=", partner.id)], limit=RECENT_CALLS)
                if partner.id
                else Call
            )

    def action_view_phone_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "phone_call_accounting.phone_call_action"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    @api.model
    def _phone_match_or_create(self, client_numbers, company, created=None):
        """Map each outside E.164 number to a partner, creating unknown callers.

        ``created``, a set when given, receives the ids of the callers created.
        """
        wanted = self._phone_wanted(client_numbers)
        found = self._phone_match(wanted, company)
        unknown = [n for e164, n in wanted.items() if e164 not in found]
        if unknown and company.phone_auto_create_partner:
            found.update(
                self.sudo()
                .with_context(active_test=True)
                ._phone_create_callers(unknown, company, created)
            )
        return found

    @api.model
    def _phone_wanted(self, client_numbers):
        """{E.164: number} of the outside numbers that may be a client."""
        wanted = {n.e164: n for n in client_numbers if n.kind == numbers.EXTERNAL}
        # The company's own numbers (a call routed back in) are never a client.
        for own in self._phone_own_numbers():
            wanted.pop(own, None)
        return wanted

    @api.model
    def _phone_match(self, wanted, company):
        """Map E.164 numbers to existing partners; never creates one.

        A fixed number of indexed queries, however many numbers: exact E.164
        first, then the national number.
        """
        if not wanted:
            return {}
        partners = self.sudo().with_context(active_test=True)
        found = partners._phone_find("phone_sanitized", wanted, company)
        missing = {n.national: n.e164 for e164, n in wanted.items() if e164 not in found}
        if missing:
            for national, partner in partners._phone_find(
                "phone_national_number", missing, company
            ).items():
                found[missing[national]] = partner
        return found

    @api.model
    def _phone_find(self, column, values, company):
        """First active partner (lowest id) visible to ``company`` per value of ``column``.

        Plain SQL on the indexed column: this runs for every delivered call,
        and the ORM's domain handling would cost more than the query.
        """
        self.flush_model([column, "active", "company_id", "phone_client_type_id"])
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT ON (%(col)s) %(col)s, id, phone_client_type_id FROM res_partner"
                " WHERE %(col)s = ANY(%(values)s) AND active"
                " AND (company_id IS NULL OR company_id = %(company)s)"
                " ORDER BY %(col)s, id",
                col=SQL.identifier(column),
                values=list(values),
                company=company.id,
            )
        )
        # One recordset, so that reading a field of one partner reads it for all.
        partners = self.browse([partner_id for _value, partner_id, _type in rows])
        found = {}
        for partner, (value, _partner_id, type_id) in zip(partners, rows, strict=True):
            # What ingestion reads next is put in the cache: no second query.
            partner._update_cache({"phone_client_type_id": type_id or False})
            found[value] = partner
        return found

    @api.model
    def _phone_own_numbers(self):
        return self.env["res.company"]._phone_own_numbers()

    def write(self, vals):
        result = super().write(vals)
        if {"phone", "active"} & set(vals) and "phone_caller_number" not in vals:
            # Matching no longer finds it for that number: a new caller may take it.
            stale = self.filtered(
                lambda p: (
                    p.phone_caller_number
                    and (not p.active or p.phone_sanitized != p.phone_caller_number)
                )
            )
            if stale:
                super(ResPartner, stale).write({"phone_caller_number": False})
        if {"phone", "country_id", "tz"} & set(vals) and self.env[
            "res.company"
        ].sudo().search_count([("partner_id", "in", self.ids)], limit=1):
            # A company's own number, country or time zone changed: drop the cached settings.
            self.env.registry.clear_cache()
        return result

    @api.model
    def _phone_create_callers(self, client_numbers, company, created=None):
        """Create one partner per unknown, valid, outside number.

        ``created``, a set when given, receives the ids of the partners created.
        """
        creatable = sorted(
            {n.e164: n for n in client_numbers if n.valid}.values(),
            key=lambda n: n.e164,
        )
        if not creatable:
            return {}
        # Two deliveries of a new caller in parallel must make one partner: the
        # second waits here, then finds the first's on a fresh snapshot.
        concurrency.lock_keys(self.env.cr, (f"phone.partner:{n.e164}" for n in creatable))
        callers = {
            p.phone_caller_number: p
            for p in self.search_fetch(
                [("phone_caller_number", "in", [n.e164 for n in creatable])],
                ["phone_caller_number", "phone_client_type_id"],
            )
        }
        unseen = [n.e164 for n in creatable if n.e164 not in callers]
        if unseen and concurrency.committed_since_snapshot(
            self.env,
            SQL(
                "SELECT 1 FROM res_partner WHERE phone_caller_number = ANY(%s) LIMIT 1",
                unseen,
            ),
        ):
            raise ConcurrencyError("caller created concurrently")
        todo = [n for n in creatable if n.e164 not in callers]
        countries = {
            c.code: c.id
            for c in self.env["res.country"].search_fetch(
                [("code", "in", list({n.region for n in todo if n.region}))], ["code"]
            )
        }
        client_type = company.phone_default_client_type_id.id
        try:
            with self.env.cr.savepoint():
                new = self._phone_insert_callers(
                    todo, countries, client_type, company._phone_country_code()
                )
        except errors.UniqueViolation as exc:
            # Another transaction created the caller after this one's snapshot: a lock
            # would not show it (REPEATABLE READ). Start again on a fresh snapshot,
            # which finds it; nothing of this attempt stays.
            concurrency.raise_if_duplicate_committed(exc, "caller created concurrently")
            raise
        for partner, number in zip(new, todo, strict=True):
            callers[number.e164] = partner
        if created is not None:
            created.update(new.ids)
        return callers

    def _phone_insert_callers(self, todo, countries, client_type, home_country=None):
        new = self.with_context(**_AUTO_CREATE_CONTEXT).create(
            [
                {
                    # Named as the company's people write the number, like the calls.
                    "name": n.display_in(home_country) if home_country else n.international,
                    "phone": n.e164,
                    "country_id": countries.get(n.region, False),
                    "phone_client_type_id": client_type,
                    # No parent to take a salesperson from: given, it is not precomputed
                    # on a throw-away new record per partner.
                    "user_id": False,
                    # Known already: stored in the INSERT (see _KNOWN_AT_CREATION).
                    "phone_sanitized": n.e164,
                    "phone_national_number": n.national,
                    "phone_caller_number": n.e164,
                }
                for n in todo
            ]
        )
        # Their values went into the INSERT already (numbers validated above, no picture
        # to resize): computing them again per partner would only find the same.
        known = _KNOWN_AT_CREATION
        if not any(new.mapped("image_1920")):
            known += _PICTURE_COPIES
        for fname in known:
            self.env.remove_to_compute(self._fields[fname], new)
        # The unique index is checked at INSERT: flushed inside the caller's savepoint.
        new.flush_recordset()
        return new

    @api.model
    def _phone_drop_unused_callers(self, partner_ids, moved_calls=()):
        """Delete the callers among ``partner_ids`` left without a call.

        A caller is created for a batch before its calls land: a call the
        database then refuses, or that a later delivery moves to another number
        (``moved_calls``, the ids of the calls this transaction moved), leaves it
        with none. Only a caller nobody touched goes: still the unknown caller's
        (phone and activity unchanged), never written since its creation, with
        no message, activity, contact or user of its own.
        """
        if not partner_ids:
            return self.browse()
        # Locked first: no call of another transaction can take it from here on.
        # SKIP LOCKED: a caller another transaction holds (its new call's foreign
        # key locks the row) is in use and stays; waiting for it while this
        # transaction holds its calls' locks would deadlock with that one.
        query = SQL(
            "SELECT id FROM res_partner WHERE id = ANY(%s) AND phone_caller_number IS NOT NULL"
            " ORDER BY id FOR UPDATE SKIP LOCKED",
            sorted(partner_ids),
        )
        rows = concurrency.lock_quietly(self.env, query, "caller changed concurrently")
        locked = [partner_id for (partner_id,) in rows]
        self.env["phone.call"].flush_model(["partner_id"])
        used = {
            partner_id
            for (partner_id,) in self.env.execute_query(
                SQL("SELECT DISTINCT partner_id FROM phone_call WHERE partner_id = ANY(%s)", locked)
            )
        }
        partners = (
            self.sudo()
            .with_context(active_test=False)
            .browse(p for p in locked if p not in used)
            .filtered(
                lambda p: (
                    p.active
                    and p.write_date == p.create_date
                    and not (p.message_ids or p.activity_ids or p.child_ids or p.user_ids)
                )
            )
        )
        if not partners:
            return partners
        # A call committed by another transaction after this one's snapshot is
        # invisible here: start again on a fresh snapshot, which sees it.
        if concurrency.committed_since_snapshot(
            self.env,
            SQL(
                "SELECT 1 FROM phone_call WHERE partner_id = ANY(%s) AND NOT id = ANY(%s) LIMIT 1",
                partners.ids,
                list(moved_calls),
            ),
        ):
            raise ConcurrencyError("call of a caller delivered concurrently")
        numbers = partners.mapped("phone_caller_number")
        try:
            with self.env.cr.savepoint():
                partners.unlink()
        except Exception:  # noqa: BLE001 - a record of another module refers to it: it stays
            _logger.info("Callers without a call kept, in use elsewhere: %s", numbers)
            self.env.invalidate_all()
            return self.browse()
        _logger.info("Callers left without a call removed: %s", numbers)
        return partners
