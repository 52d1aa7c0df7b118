"""Durable local spool of finished calls waiting for Odoo (SQLite, WAL).

A finished call is written here before anything tries to send it, so a
listener killed with ``kill -9`` or an Odoo that is down for hours loses
nothing: the rows are still here when the listener starts again.

One row per ``external_id``: a call emitted again (for instance closed stale
first and seen again later) replaces the stored one and is sent again; Odoo
upserts by ``external_id``, so resending never duplicates a call. Each row
has a ``version`` that ``put`` bumps, so a delivery that sent an older
version cannot mark a newer one delivered.

States: ``pending`` (to send; ``next_try`` holds it back after a failure),
``delivered``, ``rejected`` (Odoo refused the item; final) and ``failed``
(the item made Odoo answer 400/413 on its own; final). Final rows keep their
``reason``; :meth:`Spool.purge` deletes old delivered rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PENDING, DELIVERED, REJECTED, FAILED = "pending", "delivered", "rejected", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_call (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    reason TEXT,
    result TEXT,
    odoo_id INTEGER,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spooled_call_due ON spooled_call (state, next_try, id);
"""


@dataclass(frozen=True)
class SpoolItem:
    """A pending call as read from the spool."""

    id: int
    external_id: str
    call: dict
    version: int
    attempts: int


def _ids_versions(items):
    """``(id, version or None)`` for spool items or bare ids."""
    pairs = []
    for item in items:
        if isinstance(item, SpoolItem):
            pairs.append((item.id, item.version))
        else:
            pairs.append((int(item), None))
    return pairs


class Spool:
    """The spool file at ``path``; safe to share between threads.

    ``synchronous`` is SQLite's setting: ``FULL`` (default) also survives a
    power cut; in WAL mode ``NORMAL`` survives a killed process but may lose
    the last commits on a power cut.
    """

    def __init__(self, path, synchronous="FULL", clock=time.time):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(self.path), timeout=30, isolation_level=None, check_same_thread=False
        )
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"{self.path}: cannot use WAL journal (got {mode})")
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        with self._write():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)

    def close(self):
        with self._lock:
            self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _write(self):
        return _Transaction(self._db, self._lock)

    # -- writing -----------------------------------------------------------

    def put(self, calls):
        """Store finished calls (one transaction); a known external_id is replaced."""
        now = self._clock()
        rows = [
            (str(call["external_id"]), json.dumps(call, ensure_ascii=False, sort_keys=True), now)
            for call in calls
        ]
        if not rows:
            return 0
        with self._write():
            self._db.executemany(
                """
                INSERT INTO spooled_call (external_id, payload, created, updated)
                VALUES (?1, ?2, ?3, ?3)
                ON CONFLICT (external_id) DO UPDATE SET
                    payload = excluded.payload,
                    version = version + 1,
                    state = 'pending',
                    attempts = 0,
                    next_try = 0,
                    reason = NULL,
                    result = NULL,
                    updated = excluded.updated
                """,
                rows,
            )
        return len(rows)

    def mark_delivered(self, items, results=None):
        """Mark items delivered. ``results`` (same order) are Odoo's answers.

        Items are :class:`SpoolItem` (only the version that was sent is
        marked) or bare ids.
        """
        results = results or [{}] * len(items)
        now = self._clock()
        rows = [
            (result.get("result"), _int_or_none(result.get("call_id")), now, row_id, version)
            for (row_id, version), result in zip(_ids_versions(items), results, strict=True)
        ]
        return self._update(
            """UPDATE spooled_call SET state = 'delivered', result = ?, odoo_id = ?, reason = NULL,
                   updated = ? WHERE id = ? AND (?5 IS NULL OR version = ?5)""",
            rows,
        )

    def mark_rejected(self, item, reason):
        """Odoo refused the item (its answer says why): final, never resent."""
        return self._final(item, REJECTED, reason)

    def mark_failed(self, item, reason):
        """The item alone made Odoo answer 400/413: final, never resent."""
        return self._final(item, FAILED, reason)

    def _final(self, item, state, reason):
        ((row_id, version),) = _ids_versions([item])
        return self._update(
            """UPDATE spooled_call SET state = ?, reason = ?, attempts = attempts + 1,
                   updated = ? WHERE id = ? AND (?5 IS NULL OR version = ?5)""",
            [(state, str(reason or "")[:2000], self._clock(), row_id, version)],
        )

    def defer(self, items, until, reason=None):
        """Keep items pending but not before ``until`` (epoch seconds)."""
        rows = [
            (until, reason, self._clock(), row_id, version)
            for row_id, version in _ids_versions(items)
        ]
        return self._update(
            """UPDATE spooled_call SET next_try = ?, reason = ?, attempts = attempts + 1,
                   updated = ? WHERE id = ? AND state = 'pending'
                   AND (?5 IS NULL OR version = ?5)""",
            rows,
        )

    def purge(self, older_than):
        """Delete delivered rows last updated before ``older_than`` (epoch seconds)."""
        with self._write():
            cursor = self._db.execute(
                "DELETE FROM spooled_call WHERE state = 'delivered' AND updated < ?", (older_than,)
            )
        return cursor.rowcount

    def _update(self, sql, rows):
        if not rows:
            return 0
        with self._write():
            before = self._db.total_changes
            self._db.executemany(sql, rows)
            return self._db.total_changes - before

    # -- reading -----------------------------------------------------------

    def pending(self, limit=200, now=None):
        """Up to ``limit`` pending items that are due, oldest first."""
        now = self._clock() if now is None else now
        with self._lock:
            rows = self._db.execute(
                """SELECT id, external_id, payload, version, attempts FROM spooled_call
                   WHERE state = 'pending' AND next_try <= ? ORDER BY id LIMIT ?""",
                (now, limit),
            ).fetchall()
        return [
            SpoolItem(row_id, external_id, json.loads(payload), version, attempts)
            for row_id, external_id, payload, version, attempts in rows
        ]

    def next_due(self):
        """Earliest ``next_try`` of the pending rows, or None when none is pending."""
        with self._lock:
            (due,) = self._db.execute(
                "SELECT MIN(next_try) FROM spooled_call WHERE state = 'pending'"
            ).fetchone()
        return due

    def counts(self):
        """Number of rows per state."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM spooled_call GROUP BY state"
            ).fetchall()
        return {state: 0 for state in (PENDING, DELIVERED, REJECTED, FAILED)} | dict(rows)

    def rows(self, state=None):
        """Every row as a dict (for inspection and tests), in spool order."""
        sql = "SELECT * FROM spooled_call"
        args = ()
        if state:
            sql, args = sql + " WHERE state = ?", (state,)
        with self._lock:
            cursor = self._db.execute(sql + " ORDER BY id", args)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def calls(self, state=None):
        """The stored call dicts, in spool order."""
        return [json.loads(row["payload"]) for row in self.rows(state)]


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the spool's lock."""

    def __init__(self, db, lock):
        self._db, self._lock = db, lock

    def __enter__(self):
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type, exc, tb):
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
