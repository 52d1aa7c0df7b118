"""Repeat callers and first-contact resolution.

An answered incoming call is *resolved at first contact* unless the same client
number calls the company again (any incoming call, answered or not) within N
days of it (``res.company.phone_repeat_days``, Settings, default 7): that later
call is a *repeat*. "Within N days" includes the end: a call exactly N days
later is a repeat. Calls without a client number (withheld) are neither.

Both flags depend on the other calls of the number, which arrive in any order
(a CDR import of last week after today's webhooks): they are stored, and
every ingestion sets them again in SQL for the numbers its batch touched;
deleting calls and changing N do the same.

Concurrent ingestions of one number would each compute from a snapshot that
lacks the other's calls, and none can write the calls it cannot see. Each
takes, in one consistent order:

1. a share lock on its company's row: a change of N (an UPDATE of that row)
   waits for the ingestions in flight, and one committed after this
   transaction's snapshot fails this lock (serialization failure);
2. a transaction advisory lock per (company, number) (numbers share 1,024
   locks), in the order of their keys: concurrent deliveries of one number
   run this section one at a time;
3. a write of the number's row in ``phone_call_repeat_number``: when another
   transaction wrote it after this one's snapshot (it delivered calls of the
   number and committed), PostgreSQL refuses the write.

When all three pass, the snapshot holds every call of those numbers and N as
they are (later deliveries will see these): the flags are set there, exact at
commit. When one fails, the delivery is not retried (eight workers delivering
one number at once would run out of tries): the flags are set right after
its commit instead, in a READ COMMITTED transaction of their own that takes
a lock per number and sees every committed call (``_repeat_settle``, in
phone_call_repeat_settle.py); the last settling of a number sees the last
delivery. A change of N does the same.
"""

from psycopg2 import errors

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import column_exists

from . import concurrency

NUMBERS_TABLE = "phone_call_repeat_number"
NUMBERS_VERSION = "phone_call_repeat_number_version"
# Advisory lock class of the repeat-caller locks (two-key form: apart from the
# single-key locks of the calls' delivery).
LOCK_CLASS = 0x70637270  # "pcrp"
# Numbers share this many locks (a power of 2): a batch of thousands of numbers
# takes at most this many of the server's shared lock slots
# (max_locks_per_transaction x max_connections); two numbers of one lock only
# wait for each other.
LOCK_BUCKETS = 1024
# The columns the flags are computed from.
BASE_FIELDS = ("company_id", "client_number", "direction", "status", "call_start")
FLAGS = ("repeat_call", "first_contact_resolved")
# The numbers' rows this transaction wrote (kept until it ends, in the cursor's data).
WRITTEN = "phone_call_repeat_written"
# A change of N sets the flags of a company with more incoming calls than this
# by chunks of numbers in the scheduled action, not in the request.
SYNC_CALLS = 200_000
CHUNK_NUMBERS = 2000
RESUME_PREFIX = "phone_call_accounting.repeat_recompute_after."


class PhoneCall(models.Model):
    _inherit = "phone.call"

    repeat_call = fields.Boolean(
        string="Repeat",
        readonly=True,
        copy=False,
        help="An incoming call from a number whose earlier incoming call was answered at most "
        "N days before (Settings: Repeat call window).",
    )
    first_contact_resolved = fields.Boolean(
        string="Resolved at First Contact",
        readonly=True,
        copy=False,
        help="An answered incoming call after which the same number did not call again within "
        "N days (Settings: Repeat call window).",
    )

    # A number's incoming calls in time order, straight from the index.
    _repeat_calls_idx = models.Index(
        "(company_id, client_number, call_start, id)"
        " WHERE direction = 'incoming' AND client_number IS NOT NULL"
    )

    def init(self):
        cr = self.env.cr
        cr.execute(SQL("CREATE SEQUENCE IF NOT EXISTS %s", SQL.identifier(NUMBERS_VERSION)))
        cr.execute(
            SQL(
                "CREATE TABLE IF NOT EXISTS %s (company_id integer NOT NULL,"
                " client_number varchar NOT NULL,"
                " version bigint NOT NULL DEFAULT nextval(%s),"
                " PRIMARY KEY (company_id, client_number))",
                SQL.identifier(NUMBERS_TABLE),
                NUMBERS_VERSION,
            )
        )
        return super().init()

    def _auto_init(self):
        new = not column_exists(self.env.cr, self._table, "first_contact_resolved")
        result = super()._auto_init()
        if new:
            # Calls registered before the flags existed get them, once every
            # model's columns (the companies' N) are there.
            self.pool.post_init(self._repeat_after_upgrade)
        return result

    def _repeat_after_upgrade(self):
        """The flags of the calls registered before they existed: at once for a
        small company, by the scheduled action for a large one (the upgrade
        stays short; the action's record, made with this upgrade, runs soon)."""
        params = self.env["ir.config_parameter"].sudo()
        # A handful of companies at most: going through them all is the point.
        companies = self.env["res.company"].sudo().with_context(active_test=False)
        for company in companies.search([]):  # pylint: disable=no-search-all
            if self._repeat_is_large(company):
                params.set_param(_resume_key(company), " ")
            else:
                self._repeat_recompute(SQL("c.company_id = %s", company.id))

    # ------------------------------------------------------------------
    # Where the flags are set again
    # ------------------------------------------------------------------

    def _ingest_clean(self, cleaned, company, country, pbx):
        # The numbers the batch's known calls had before it: a call that moved to
        # another number, direction or status changes its old number's flags too.
        keys = sorted({(clean["source"], clean["external_id"]) for clean in cleaned.values()})
        before = self._repeat_keys(
            SQL(
                "JOIN unnest(%s::varchar[], %s::varchar[]) AS k(source, external_id)"
                " ON c.source = k.source AND c.external_id = k.external_id",
                [source for source, _id in keys],
                [external_id for _source, external_id in keys],
            )
        )
        results = super()._ingest_clean(cleaned, company, country, pbx)
        landed = sorted({r["call_id"] for r in results.values() if r["call_id"]})
        if landed:
            after = self._repeat_keys(SQL(""), SQL("c.id = ANY(%s)", landed))
            self._repeat_refresh(before | after, landed)
        return results

    def unlink(self):
        keys = self._repeat_keys(SQL(""), SQL("c.id = ANY(%s)", self.ids)) if self.ids else set()
        result = super().unlink()
        self._repeat_refresh(keys)
        return result

    # ------------------------------------------------------------------
    # The computation
    # ------------------------------------------------------------------

    @api.model
    def _repeat_keys(self, join, where=None):
        """{(company id, client number)} of the incoming calls with a number that
        ``join`` and ``where`` select (over phone_call aliased ``c``)."""
        self.flush_model(["source", "external_id", *BASE_FIELDS])
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT c.company_id, c.client_number FROM phone_call c %s"
                " WHERE c.direction = 'incoming' AND c.client_number IS NOT NULL AND %s",
                join,
                where or SQL("TRUE"),
            )
        )
        return {(company_id, number) for company_id, number in rows}

    @api.model
    def _repeat_refresh(self, keys, call_ids=()):
        """Set the flags again for the calls of ``keys``, {(company id, client number)};
        clear them on ``call_ids`` (this transaction's calls) that are no longer
        incoming calls with a number."""
        self.flush_model([*BASE_FIELDS, *FLAGS])
        self.env["res.company"].flush_model(["phone_repeat_days"])
        if call_ids:
            self.env.cr.execute(
                SQL(
                    "UPDATE phone_call SET repeat_call = false, first_contact_resolved = false"
                    " WHERE id = ANY(%s) AND (repeat_call OR first_contact_resolved)"
                    " AND (direction != 'incoming' OR client_number IS NULL)",
                    list(call_ids),
                )
            )
        if keys and not self._repeat_refresh_now(keys):
            self._repeat_settle_after_commit(keys)
        self.invalidate_model(FLAGS)

    @api.model
    def _repeat_refresh_now(self, keys):
        """Set the flags of the numbers ``keys`` in this transaction; False when its
        snapshot may lack calls of theirs (or N) that another transaction committed:
        nothing is written then."""
        companies = sorted({company_id for company_id, _number in keys})
        company_ids, numbers = (list(column) for column in zip(*sorted(keys), strict=True))
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                # 1. N as this transaction reads it, until it ends: a change of N
                #    committed since this snapshot fails here.
                cr.execute(
                    SQL(
                        "SELECT id FROM res_company WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                        companies,
                    ),
                    log_exceptions=False,
                )
                # 2. One delivery of a number at a time, in the order of the lock keys.
                cr.execute(
                    SQL(
                        "SELECT pg_advisory_xact_lock(%s, k) FROM ("
                        " SELECT DISTINCT hashtext(c::text || ':' || n) & %s AS k"
                        " FROM unnest(%s::int[], %s::varchar[]) AS t(c, n) ORDER BY k) AS keys",
                        LOCK_CLASS,
                        LOCK_BUCKETS - 1,
                        company_ids,
                        numbers,
                    )
                )
                # 3. A delivery of these numbers committed since this snapshot fails here.
                cr.execute(
                    SQL(
                        "INSERT INTO %s (company_id, client_number)"
                        " SELECT c, n FROM unnest(%s::int[], %s::varchar[]) AS t(c, n)"
                        " ORDER BY c, n ON CONFLICT (company_id, client_number)"
                        " DO UPDATE SET version = nextval(%s)",
                        SQL.identifier(NUMBERS_TABLE),
                        company_ids,
                        numbers,
                        NUMBERS_VERSION,
                    ),
                    log_exceptions=False,
                )
                # 4. The flags, from every call of these numbers.
                self._repeat_recompute(_numbers_scope(keys))
        except errors.SerializationFailure:
            return False
        # What this transaction wrote itself (see _repeat_recompute_companies).
        cr.precommit.data.setdefault(WRITTEN, set()).update(keys)
        return True

    @api.model
    def _repeat_recompute(self, scope):
        """Set the flags of the incoming calls with a number that ``scope`` selects
        (a condition over phone_call aliased ``c``), each number's calls taken
        together in time order."""
        query = SQL(
            """
            WITH ordered AS (
                SELECT c.id, c.status = 'answered' AS answered, c.call_start,
                       co.phone_repeat_days * interval '1 day' AS window_length,
                       max(c.call_start) FILTER (WHERE c.status = 'answered') OVER (
                           PARTITION BY c.company_id, c.client_number ORDER BY c.call_start, c.id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                       ) AS last_answered,
                       lead(c.call_start) OVER (
                           PARTITION BY c.company_id, c.client_number ORDER BY c.call_start, c.id
                       ) AS next_call
                  FROM phone_call c
                  JOIN res_company co ON co.id = c.company_id
                 WHERE c.direction = 'incoming' AND c.client_number IS NOT NULL AND %s
            ),
            flags AS (
                SELECT id,
                       COALESCE(call_start - last_answered <= window_length, false) AS repeat_call,
                       answered AND (next_call IS NULL OR next_call - call_start > window_length)
                           AS first_contact_resolved
                  FROM ordered
            )
            UPDATE phone_call p
               SET repeat_call = f.repeat_call, first_contact_resolved = f.first_contact_resolved
              FROM flags f
             WHERE p.id = f.id
               AND (p.repeat_call, p.first_contact_resolved)
                   IS DISTINCT FROM (f.repeat_call, f.first_contact_resolved)
            """,
            scope,
        )
        self.env.cr.execute(query, log_exceptions=False)
        self.invalidate_model(FLAGS)

    @api.model
    def _repeat_recompute_companies(self, companies):
        """Set every flag of ``companies`` again (their N changed).

        Runs after the company rows were updated, which waited for the
        ingestions in flight (they hold a share lock on them; later ones wait
        for this transaction, then settle after it). One that committed after
        this transaction's snapshot wrote its numbers' rows: their count or the
        sum of their versions (which only grow) differ on a fresh snapshot. The
        rows this transaction wrote are left out of the comparison: no other
        transaction can have written them since. Then, or when calls changed
        concurrently, the flags are set once this transaction committed.
        """
        self.flush_model([*BASE_FIELDS, *FLAGS])
        companies.flush_recordset(["phone_repeat_days"])
        written = self.env.cr.precommit.data.get(WRITTEN, set())
        for company in companies.sorted("id"):
            if self._repeat_is_large(company):
                # Minutes of work at millions of calls: the scheduled action
                # does it by chunks of numbers, each in its own transaction.
                self.env["ir.config_parameter"].sudo().set_param(_resume_key(company), " ")
                self.env.ref("phone_call_accounting.ir_cron_phone_repeat_recompute")._trigger()
                continue
            own = sorted(number for company_id, number in written if company_id == company.id)
            summary = SQL(
                "SELECT count(*), COALESCE(sum(version), 0) FROM %s"
                " WHERE company_id = %s AND client_number != ALL(%s::varchar[])",
                SQL.identifier(NUMBERS_TABLE),
                company.id,
                own,
            )
            [(count, total)] = self.env.execute_query(summary)
            stale = concurrency.committed_since_snapshot(
                self.env,
                SQL(
                    "SELECT 1 FROM (%s) AS t(count, total) WHERE (count, total) != (%s, %s)",
                    summary,
                    count,
                    total,
                ),
            )
            if not stale:
                try:
                    with self.env.cr.savepoint(flush=False):
                        self._repeat_recompute(SQL("c.company_id = %s", company.id))
                except errors.SerializationFailure:
                    stale = True
            if stale:
                self._repeat_settle_after_commit(companies=[company.id])

    @api.model
    def _repeat_is_large(self, company):
        """Whether ``company`` has more incoming calls than are set again at once."""
        self.flush_model(BASE_FIELDS)
        return bool(
            self.env.execute_query(
                SQL(
                    "SELECT 1 FROM phone_call WHERE company_id = %s AND direction = 'incoming'"
                    " AND client_number IS NOT NULL OFFSET %s LIMIT 1",
                    company.id,
                    SYNC_CALLS,
                )
            )
        )

    @api.model
    def _cron_repeat_recompute(self):
        """Set the flags again for the companies whose N changed while they had
        too many calls to do it at once: their numbers in order, by chunks,
        committing each; an interrupted run resumes after the last chunk done."""
        params = self.env["ir.config_parameter"].sudo()
        pending = params.search([("key", "=like", f"{RESUME_PREFIX}%")])
        ids = [int(key[len(RESUME_PREFIX) :]) for key in pending.mapped("key")]
        for company in self.env["res.company"].sudo().browse(sorted(ids)).exists():
            key = _resume_key(company)
            after = params.get_param(key)
            while after:
                rows = self.env.execute_query(
                    SQL(
                        "SELECT DISTINCT client_number FROM phone_call WHERE company_id = %s"
                        " AND direction = 'incoming' AND client_number IS NOT NULL"
                        " AND client_number > %s ORDER BY client_number LIMIT %s",
                        company.id,
                        after.strip(),
                        CHUNK_NUMBERS,
                    )
                )
                if not rows:
                    params.set_param(key, False)
                    self.env["ir.cron"]._commit_progress(remaining=0)
                    break
                self._repeat_refresh({(company.id, number) for (number,) in rows})
                after = rows[-1][0]
                params.set_param(key, after)
                if not self.env["ir.cron"]._commit_progress(len(rows), remaining=1):
                    return


def _resume_key(company):
    """The system parameter holding where the scheduled action goes on for
    ``company`` (a space: from the first number; none: nothing to do)."""
    return f"{RESUME_PREFIX}{company.id}"


def _numbers_scope(keys):
    """The calls of the numbers ``keys`` {(company id, client number)}, as a condition."""
    keys = sorted(keys)
    return SQL(
        "(c.company_id, c.client_number) IN (SELECT * FROM unnest(%s::int[], %s::varchar[]))",
        [company_id for company_id, _number in keys],
        [number for _company_id, number in keys],
    )
