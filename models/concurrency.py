"""How the addon's writers stay correct when several workers deliver at once.

Not a model: the few database-concurrency helpers the models share, and what
each of them guarantees. The ground rules they rest on, Odoo's own:

- Each request and each cron runs in ONE transaction at REPEATABLE READ. Its
  snapshot is taken at its first query and never moves: rows another
  transaction commits later stay invisible to it, even after this one waited
  for a lock that the other held. "Lock, then search, then create" alone
  still creates a duplicate.
- ``ConcurrencyError``, ``SerializationFailure``, ``DeadlockDetected`` and
  ``LockNotAvailable`` make Odoo re-run the WHOLE request on a fresh
  snapshot (``odoo.service.model.retrying``: up to 5 tries, random back-off).
  A unique violation is NOT retried: the client gets an error. So each helper
  here turns "someone else got there first" into a ``ConcurrencyError``.

The guarantees:

- ``lock_keys``: transactions that lock the same key run the section after
  it one at a time, until the first commits or rolls back. Keys are locked in
  sorted order, so two batches sharing keys do not deadlock on them (two keys
  of one hash may: Odoo retries a deadlock).
- ``committed_since_snapshot``, asked under such a lock: a row that a previous
  holder committed is seen (on a fresh snapshot), and the caller starts again
  rather than insert a duplicate. An empty answer proves that no transaction
  taking the same lock committed such a row, nor will before this one ends;
  writers that skip the lock are caught only by the unique indexes. It
  answers "none" too while modules are being installed, and when it cannot
  get its answer within 10 s.
- ``lock_quietly``, ``lock_rows_quietly``: the rows are this transaction's to
  update until it ends (``lock_rows_quietly`` locks them in id order). A row
  changed after this snapshot is reported as a ``ConcurrencyError`` (retried)
  instead of failing at the UPDATE as a logged bad query.
- ``raise_if_duplicate_committed``: the unique violation of a row committed
  by another transaction after this snapshot becomes a ``ConcurrencyError``:
  on the retry the row is there and is updated.
- ``try_lock``: one holder at a time, and the others do not wait.
"""

from psycopg2 import errors

from odoo.exceptions import ConcurrencyError
from odoo.tools import SQL


def lock_keys(cr, keys):
    """Wait for the transaction-long advisory lock of each text in ``keys``."""
    cr.execute(
        "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(%s::text[]) AS k", [sorted(keys)]
    )


def try_lock(cr, key):
    """Take the transaction-long advisory lock of the number ``key`` if it is
    free; False when another transaction holds it."""
    cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
    return cr.fetchone()[0]


def committed_since_snapshot(env, query):
    """Whether ``query`` finds rows on a fresh snapshot.

    Odoo's transactions are REPEATABLE READ: rows that another transaction
    committed after this one's first query stay invisible to it, even once a
    lock was waited for. Asked under that lock, a fresh snapshot sees them:
    the caller then starts again (ConcurrencyError, retried by Odoo) instead
    of inserting a duplicate the database would refuse.
    """
    if not env.registry.ready:
        # Installing or updating modules: this transaction may hold the tables'
        # DDL locks, which a second cursor would wait for forever. Nothing else
        # delivers calls meanwhile; the unique indexes stay the last guard.
        return False
    with env.registry.cursor() as cr:
        cr.execute("SET LOCAL lock_timeout = '10s'")
        try:
            cr.execute(query, log_exceptions=False)
        except errors.LockNotAvailable:
            return False  # cannot tell: the unique indexes decide
        return bool(cr.fetchall())


def lock_quietly(env, query, message):
    """Run ``query``, a SELECT ... FOR [NO KEY] UPDATE, and return its rows.

    Updating a row that another transaction changed after this one's
    snapshot fails at the UPDATE, logged as a bad query. Locking the rows
    first finds that out quietly: ConcurrencyError(``message``), and Odoo
    starts again on a fresh snapshot.
    """
    try:
        with env.cr.savepoint(flush=False):
            env.cr.execute(query, log_exceptions=False)
            return env.cr.fetchall()
    except errors.SerializationFailure as exc:
        raise ConcurrencyError(message) from exc


def lock_rows_quietly(records, message):
    """Lock the rows of ``records`` before updating them, in id order (see
    :func:`lock_quietly`)."""
    query = SQL(
        "SELECT id FROM %s WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
        SQL.identifier(records._table),
        records.ids,
    )
    lock_quietly(records.env, query, message)


def raise_if_duplicate_committed(exc, message, constraint=""):
    """Raise ConcurrencyError(``message``) when the unique violation ``exc`` is
    of ``constraint`` (of any unique index when empty): the same row committed
    by another transaction after this one's snapshot, which a fresh one sees.
    Odoo does not retry a unique violation; it does retry this."""
    if (exc.diag.constraint_name or "").endswith(constraint):
        raise ConcurrencyError(f"{message} ({exc.diag.constraint_name})") from exc
