"""The repeat-call flags set after a delivery's commit (see phone_call_repeat.py).

A delivery whose snapshot may lack another's calls of its numbers leaves their
flags to a READ COMMITTED transaction run once it committed. So that a server
dying in between loses nothing, the delivery also writes those numbers to
``phone_call_repeat_pending``, in its own transaction: they are there exactly
when its calls are. The settling deletes them in the transaction that sets the
flags; what a dead server left, the scheduled action settles.
"""

import logging
import random
import time

from psycopg2 import errors

from odoo import SUPERUSER_ID, api, models, sql_db
from odoo.orm.environments import Transaction
from odoo.tools import SQL

from .phone_call_repeat import LOCK_BUCKETS, LOCK_CLASS, _numbers_scope

PENDING_TABLE = "phone_call_repeat_pending"
# What to set once the transaction committed (the cursor's post-commit data).
SETTLE = "phone_call_repeat_settle"
SETTLE_CLASS = LOCK_CLASS + 1  # a number's settling, one at a time
SETTLE_COMPANY_CLASS = LOCK_CLASS + 2  # a company's whole settling, alone
SETTLE_TRIES = 5
# Settlings left this long are taken as lost (a settling takes milliseconds).
LOST_AFTER_SECONDS = 120
# Pending numbers settled by one run of the scheduled action.
CRON_BATCH = 5000

_logger = logging.getLogger(__name__)


class PhoneCall(models.Model):
    _inherit = "phone.call"

    def init(self):
        # A row per number (client_number) or company (no number) whose flags are
        # still to be set; no unique index: deliveries add rows without waiting.
        self.env.cr.execute(
            SQL(
                "CREATE TABLE IF NOT EXISTS %s (company_id integer NOT NULL,"
                " client_number varchar,"
                " pending_since timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))",
                SQL.identifier(PENDING_TABLE),
            )
        )
        return super().init()

    @api.model
    def _repeat_settle_after_commit(self, keys=(), companies=()):
        """Set the flags of the numbers ``keys`` (of every number of ``companies``)
        once this transaction committed, in a transaction of their own that sees
        every committed call (see _repeat_settle); noted as pending with the
        calls, for the scheduled action if that never happens."""
        cr = self.env.cr
        keys, companies = sorted(keys), sorted(companies)
        cr.execute(
            SQL(
                "INSERT INTO %s (company_id, client_number)"
                " SELECT * FROM unnest(%s::int[], %s::varchar[])",
                SQL.identifier(PENDING_TABLE),
                [company_id for company_id, _number in keys] + companies,
                [number for _company_id, number in keys] + [None] * len(companies),
            )
        )
        pending = cr.postcommit.data.setdefault(SETTLE, {"keys": set(), "companies": set()})
        if not pending["keys"] and not pending["companies"]:
            registry = self.env.registry

            @cr.postcommit.add
            def settle():
                _settle(registry, pending["keys"], pending["companies"])

        pending["keys"].update(keys)
        pending["companies"].update(companies)

    @api.model
    def _repeat_settle(self, keys, companies):
        """The flags of ``keys`` and of every number of ``companies``, in a READ
        COMMITTED transaction that ran nothing else: each statement sees every
        call committed when it starts. The settlings of one number run one at a
        time (a company's whole one alone), so the last one sees every call.
        The pending rows of those numbers go: the deliveries that wrote them
        committed their calls before this reads them."""
        cr = self.env.cr
        others = sorted(key for key in keys if key[0] not in companies)
        cr.execute(
            SQL(
                "SELECT pg_advisory_xact_lock(%s, c) FROM unnest(%s::int[]) AS c ORDER BY c",
                SETTLE_COMPANY_CLASS,
                sorted(companies),
            )
        )
        cr.execute(
            SQL(
                "SELECT pg_advisory_xact_lock_shared(%s, c) FROM ("
                " SELECT DISTINCT c FROM unnest(%s::int[]) AS c ORDER BY c) AS companies",
                SETTLE_COMPANY_CLASS,
                [company_id for company_id, _number in others],
            )
        )
        cr.execute(
            SQL(
                "SELECT pg_advisory_xact_lock(%s, k) FROM ("
                " SELECT DISTINCT hashtext(c::text || ':' || n) & %s AS k"
                " FROM unnest(%s::int[], %s::varchar[]) AS t(c, n) ORDER BY k) AS keys",
                SETTLE_CLASS,
                LOCK_BUCKETS - 1,
                [company_id for company_id, _number in others],
                [number for _company_id, number in others],
            )
        )
        cr.execute(
            SQL(
                "DELETE FROM %s p WHERE p.company_id = ANY(%s)"
                " OR (p.company_id, p.client_number)"
                " IN (SELECT * FROM unnest(%s::int[], %s::varchar[]))",
                SQL.identifier(PENDING_TABLE),
                sorted(companies),
                [company_id for company_id, _number in others],
                [number for _company_id, number in others],
            )
        )
        for company_id in sorted(companies):
            self._repeat_recompute(SQL("c.company_id = %s", company_id))
        if others:
            self._repeat_recompute(_numbers_scope(others))

    @api.model
    def _cron_repeat_settle_pending(self, lost_after=LOST_AFTER_SECONDS):
        """Set the flags a delivery left pending and nobody settled (its server
        stopped between its commit and the settling), ``lost_after`` seconds on."""
        rows = self.env.execute_query(
            SQL(
                "SELECT DISTINCT company_id, client_number FROM %s"
                " WHERE pending_since <= now() AT TIME ZONE 'UTC' - %s * interval '1 second'"
                " ORDER BY company_id, client_number LIMIT %s",
                SQL.identifier(PENDING_TABLE),
                lost_after,
                CRON_BATCH,
            )
        )
        if not rows:
            return
        companies = {company_id for company_id, number in rows if number is None}
        keys = {(company_id, number) for company_id, number in rows if number is not None}
        _logger.info(
            "Settling the repeat-call flags of %d numbers and %d companies left pending",
            len(keys),
            len(companies),
        )
        _settle(self.env.registry, keys, companies)


def _settle(registry, keys, companies):
    """Run phone.call._repeat_settle in a READ COMMITTED transaction of its own,
    again on a deadlock or a serialization failure."""
    for attempt in range(SETTLE_TRIES):
        try:
            with registry.cursor() as cr:
                # A test's cursor shares the test's transaction: left as it is.
                if isinstance(cr, sql_db.Cursor):
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                # The committed transaction's registry: none to look up (nor wait for).
                cr.transaction = Transaction(registry)
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["phone.call"]._repeat_settle(keys, companies)
            return
        except (errors.DeadlockDetected, errors.SerializationFailure):
            time.sleep(random.uniform(0.0, 0.05 * 2**attempt))
    _logger.error(
        "Repeat-call flags not settled for %d numbers and companies %s: the scheduled "
        "action tries again",
        len(keys),
        sorted(companies),
    )
