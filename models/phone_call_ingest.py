import functools
import logging
from zoneinfo import ZoneInfo

from psycopg2 import errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, ConcurrencyError
from odoo.tools import SQL, clean_context

from ..pbx import call_rules, demo, numbers, tariff
from ..pbx.ingest import DEFAULT_SOURCE, InvalidCall, clean_call, client_number_of, fingerprint
from . import concurrency
from .phone_call_queue import QUEUE_FIELDS
from .phone_queue import answered_in_time, short_abandon

_logger = logging.getLogger(__name__)

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
    "queue_id",
    "queue_result",
)


class PhoneCall(models.Model):
    """The one way in: calls from every source, and the demo's."""

    _inherit = "phone.call"

    delivery_hash = fields.Char(
        string="Delivery Fingerprint",
        readonly=True,
        copy=False,
        groups="base.group_no_one",
        help="Digest of the call as its PBX last delivered it: the same delivery again"
        " is recognised and written nowhere.",
    )

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
            call_source = str(source or item.get("source") or DEFAULT_SOURCE)[:64]
            clean["fingerprint"] = fingerprint(clean, call_source)
            clean["source"] = call_source
            clean["pbx_id"] = pbx.id if pbx else False
            cleaned[index] = clean
        # Delivered again exactly as stored (a retry, a replayed spool, a re-read
        # CDR window): nothing to match, compute or write.
        for index, call_id in calls_model._unchanged_redeliveries(cleaned).items():
            results[index] = _result("updated", cleaned.pop(index), call_id)
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
        # The callers created here go again if none of their calls lands.
        new_callers = set()
        partners = self.env["res.partner"]._phone_match_or_create(
            [c["client"] for c in cleaned.values()], company, created=new_callers
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
        queues = self.env["phone.queue"]._queues_for(
            [c["queue"] for c in cleaned.values() if c.get("queue")], company, pbx
        )
        keys = {(c["source"], c["external_id"]) for c in cleaned.values()}
        existing = self._lock_and_fetch(keys)
        to_create, to_update, repeats, results = {}, [], [], {}
        used = set()  # the partners the landed calls refer to
        for index, clean in cleaned.items():
            vals = self._ingest_values(clean, partners, users, company, country)
            # The queue's fields only when the item speaks of queues (a CDR row that
            # does not must leave those of the queue log as they are).
            queue_vals = _queue_values(clean, queues)
            vals.update(queue_vals)
            key = (clean["source"], clean["external_id"])
            if key in existing:
                call = existing[key]
                if clean.get("queue_only"):
                    # From the queue log: the call's queue fields, nothing else.
                    vals = {**queue_vals, "delivery_hash": vals["delivery_hash"]}
                else:
                    used.add(vals["partner_id"])
                # Delivered again unchanged (a retry, a re-imported file): written nowhere.
                if changes := _redelivery_changes(call, vals):
                    to_update.append((call, changes))
                results[index] = _result("updated", clean, call.id)
            elif key in to_create:
                # The same call twice in one batch: the later delivery wins, but a
                # queue-log item brings its queue fields only, and a later item
                # without queue fields keeps the earlier one's.
                first, earlier = to_create[key]
                if clean.get("queue_only"):
                    merged = {**earlier, **queue_vals, "delivery_hash": vals["delivery_hash"]}
                else:
                    kept = {f: earlier[f] for f in QUEUE_FIELDS if f in earlier and f not in vals}
                    merged = _new_call_values({**vals, **kept})
                to_create[key] = (first, merged)
                repeats.append((index, key))
            else:
                to_create[key] = (index, _new_call_values(vals))
        moved = self._ingest_update(to_update)
        created = self._ingest_create([vals for _index, vals in to_create.values()])
        for (key, (index, vals)), (call, reason) in zip(to_create.items(), created, strict=True):
            if call:
                used.add(vals.get("partner_id"))
                existing[key] = call
                results[index] = _result("created", cleaned[index], call.id)
            else:
                results[index] = _rejected(cleaned[index], reason)
        for index, key in repeats:
            if key in existing:
                results[index] = _result("updated", cleaned[index], existing[key].id)
            else:
                results[index] = _rejected(cleaned[index], results[to_create[key][0]]["reason"])
        # No caller without a call: one created for calls that did not land, or
        # left by a call that moved to another number, goes with them.
        if unused := (new_callers | set(moved.values())) - used:
            self.env["res.partner"]._phone_drop_unused_callers(unused, moved_calls=moved)
        landed = self.browse(r["call_id"] for r in results.values() if r["call_id"])
        landed._process_callbacks()
        return results

    def _ingest_update(self, to_update):
        """Write the changes of redelivered calls; return {call id: the caller
        it moved away from} for the calls now from another number."""
        moved = {}
        if to_update:
            calls = self.browse(call.id for call, _changes in to_update)
            concurrency.lock_rows_quietly(calls, "call updated concurrently")
            for call, changes in to_update:
                if "partner_id" in changes and call.partner_id.phone_caller_number:
                    moved[call.id] = call.partner_id.id
                call.write(changes)
        return moved

    def _unchanged_redeliveries(self, cleaned):
        """{index: call id} of the items whose call is stored exactly as delivered."""
        by_key = {}
        for index, clean in cleaned.items():
            by_key.setdefault((clean["source"], clean["external_id"]), []).append(index)
        if not by_key:
            return {}
        self.flush_model(["source", "external_id", "delivery_hash"])
        rows = self.env.execute_query(
            SQL(
                "SELECT c.id, c.source, c.external_id, c.delivery_hash FROM phone_call c"
                " JOIN unnest(%s::varchar[], %s::varchar[]) AS k(source, external_id)"
                " ON c.source = k.source AND c.external_id = k.external_id"
                " WHERE c.delivery_hash IS NOT NULL",
                *_key_columns(by_key),
            )
        )
        unchanged = {}
        for call_id, source, external_id, stored in rows:
            indexes = by_key.get((source, external_id), ())
            if indexes and all(cleaned[i]["fingerprint"] == stored for i in indexes):
                unchanged.update(dict.fromkeys(indexes, call_id))
        return unchanged

    def _lock_and_fetch(self, keys):
        """Serialise concurrent deliveries of the same calls, then load them."""
        concurrency.lock_keys(
            self.env.cr, (f"{source}\x1f{external_id}" for source, external_id in keys)
        )
        self.flush_model(["source", "external_id"])
        rows = self.env.execute_query(
            SQL(
                "SELECT c.id, c.source, c.external_id FROM phone_call c"
                " JOIN unnest(%s::varchar[], %s::varchar[]) AS k(source, external_id)"
                " ON c.source = k.source AND c.external_id = k.external_id",
                *_key_columns(keys),
            )
        )
        found = {
            (source, external_id): self.browse(call_id)
            for call_id, source, external_id in rows
            if (source, external_id) in keys
        }
        missing = keys - set(found)
        if missing and concurrency.committed_since_snapshot(
            self.env,
            SQL(
                "SELECT 1 FROM phone_call WHERE (source, external_id) IN %s LIMIT 1",
                tuple(sorted(missing)),
            ),
        ):
            raise ConcurrencyError("call delivered concurrently")
        return found

    def _ingest_values(self, clean, partners, users, company, country):
        """The call's values from a cleaned item (its queue fields: ``_queue_values``)."""
        client = clean["client"]
        partner = partners.get(client.e164) if client.e164 else None
        user = users.get(clean["extension"])
        cost = tariff.cost(clean["talk_seconds"], clean["tariff"])
        call_date, call_time = call_rules.local_day_and_time(clean["start"], clean["zone"])
        return {
            # Stored computed fields given here are not computed again: one INSERT a call.
            "call_date": call_date,
            "call_time": call_time,
            "duration_hours": clean["talk_seconds"] / 3600,
            "is_too_long": call_rules.too_long(
                clean["talk_seconds"],
                cost,
                company.phone_long_call_minutes,
                company.phone_long_call_cost,
            ),
            "source": clean["source"],
            "external_id": clean["external_id"],
            "company_id": company.id,
            "pbx_id": clean["pbx_id"],
            "call_start": clean["start"].replace(tzinfo=None),
            "call_end": clean["end"].replace(tzinfo=None),
            "direction": clean["direction"],
            "status": clean["status"],
            # The client's side is classified already; only the other side is read here.
            "from_number": client.display_in(country)
            if clean["direction"] == "incoming" and client.raw
            else _display_number(clean["from_number"], country),
            "to_number": client.display_in(country)
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
            "ring_seconds": clean["ring_seconds"],
            "talk_seconds": clean["talk_seconds"],
            "recording": clean["recording"] or False,
            "recording_state": "pending" if clean["recording"] else "none",
            "hangup_cause": clean["hangup_cause"] or False,
            "delivery_hash": clean["fingerprint"],
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
                created = calls.create(vals_list)
                created.flush_recordset()
                return [(call, None) for call in created]
        except errors.UniqueViolation as exc:
            _raise_if_delivered_concurrently(exc)
            self.env.invalidate_all()
        except Exception:  # noqa: BLE001 - retried item by item below to name the culprit
            _logger.warning("Batch of %d calls failed; retrying one by one", len(vals_list))
            self.env.invalidate_all()
        outcome = []
        for vals in vals_list:
            try:
                with self.env.cr.savepoint():
                    call = calls.create(vals)
                    call.flush_recordset()
                    outcome.append((call, None))
            except Exception as exc:  # noqa: BLE001 - one bad item must not sink the batch
                if isinstance(exc, errors.UniqueViolation):
                    _raise_if_delivered_concurrently(exc)
                self.env.invalidate_all()
                outcome.append((None, self.env._("The database refused the call: %s", exc)))
        return outcome

    @api.model
    def _demo_ingest(self):
        """Feed the demo days of traffic through the one way in, as the demo PBX.

        The recorded calls get their shipped recording as the PBX's upload
        stores it, then the analysis the cron runs: figures, transcript and
        keyword flags are measured, not written in.
        """
        pbx = self.env.ref("phone_call_accounting.phone_pbx_demo_webhook").sudo()
        known = ["+31205550101", "+31305550202", "+31612345678", "+4930901820"]
        unknown = ["+31201234567", "+31104567890", "+32470123456", "+442079460123"]
        now = fields.Datetime.now().replace(tzinfo=ZoneInfo("UTC"))
        extensions = ["101", "102", "103"]
        calls = demo.demo_calls(now, known, unknown, extensions)
        recorded = demo.recorded_calls(now, known)
        # A day of the support queue, today in the company's time zone.
        zone = pbx.company_id._phone_timezone()
        today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        queued = demo.queue_calls(now, today, known, extensions)
        results = pbx._ingest(calls + recorded + queued)
        rejected = [r for r in results if r["result"] == "rejected"]
        if rejected:
            _logger.warning("Demo calls rejected: %s", rejected)
        self.sudo()._long_calls_to_review()._schedule_long_call_review()
        recorded_results = results[len(calls) : len(calls) + len(recorded)]
        for item, result in zip(recorded, recorded_results, strict=True):
            call = self.sudo().browse(result["call_id"])
            if call and not call.recording_downloaded:
                call._store_recording(demo.recording(item["recording"]))
                call._analyse_recording()


@functools.lru_cache(maxsize=4096)
def _display_number(raw, country):
    if not raw:
        return False
    number = numbers.classify(raw, country)
    return number.display_in(country) or raw


def _key_columns(keys):
    """(sources, external ids) of (source, external id) pairs, for a join on unnest:
    pairs reach the unique index on both columns, ANY() on each would not."""
    keys = sorted(keys)
    return [source for source, _id in keys], [external_id for _source, external_id in keys]


def _new_call_values(vals):
    """``vals`` of a call to create: with its call-back state, empty values left out."""
    # Known now: set in the INSERT rather than by an UPDATE right after it.
    vals["callback_state"] = "pending" if call_rules.needs_callback(vals) else "none"
    # Computed (phone_call_queue) but known: in the INSERT, not computed per call.
    vals.setdefault("queue_answered_in_time", False)
    vals.setdefault("queue_short_abandon", False)
    for fname in _NULL_WHEN_EMPTY:
        if not vals.get(fname, True):
            del vals[fname]
    return vals


def _queue_values(clean, queues):
    """The call's queue fields when the item gave the ``queue`` key, else nothing."""
    if "queue" not in clean:
        return {}
    queue = queues.get(clean["queue"]) if clean["queue"] else None
    if not queue:
        return {
            "queue_id": False,
            "queue_wait_seconds": 0,
            "queue_result": False,
            "queue_position": 0,
            "queue_answered_in_time": False,
            "queue_short_abandon": False,
        }
    result = clean.get("queue_result") or False
    wait = clean.get("queue_wait_seconds") or 0
    return {
        "queue_id": queue.id,
        "queue_wait_seconds": wait,
        "queue_result": result,
        "queue_position": clean.get("queue_position") or 0,
        "queue_answered_in_time": answered_in_time(result, wait, queue),
        "queue_short_abandon": short_abandon(result, wait, queue),
    }


def _redelivery_changes(call, vals):
    """The values of a redelivered call that differ from what ``call`` holds."""
    if "partner_id" in vals and call.partner_id.id == vals["partner_id"]:
        vals.pop("client_type_id")  # the client's type when the call was registered
    if "recording" in vals and call.recording == vals["recording"]:
        vals.pop("recording_state")
    changed = {}
    for fname, value in vals.items():
        field = call._fields[fname]
        current = call[fname]
        if field.type == "many2one":
            current = current.id
        if field.type in ("float", "monetary"):
            same = abs((current or 0.0) - (value or 0.0)) < 1e-6
        else:
            same = (current or False) == (value or False)
        if not same:
            changed[fname] = value
    return changed


def _raise_if_delivered_concurrently(exc):
    """The same call committed by another transaction after this one's snapshot:
    start again on a fresh snapshot, where it is an update. The callers created
    for it meanwhile go with this attempt, so none is left behind."""
    concurrency.raise_if_duplicate_committed(
        exc, "call delivered concurrently", constraint="source_external_id_unique"
    )


def _result(kind, clean, call_id):
    return {"result": kind, "external_id": clean["external_id"], "call_id": call_id, "reason": None}


def _rejected(item, reason):
    external_id = item.get("external_id") if isinstance(item, dict) else None
    # Echoed only when it is a call id at all: the answer must encode as JSON.
    if isinstance(external_id, bool) or not isinstance(external_id, str | int):
        external_id = None
    elif isinstance(external_id, str):
        external_id = external_id.encode("utf-8", "replace").decode()[:255]
    return {"result": "rejected", "external_id": external_id, "call_id": False, "reason": reason}
