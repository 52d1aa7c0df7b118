"""Incremental pull of calls from a PostgreSQL CDR table (FreePBX style).

Asterisk's ``cdr_pgsql`` (and FreePBX's ``asteriskcdrdb.cdr``) write one row
per call leg when the leg hangs up; ``calldate`` is the leg's start in the
PBX's local time. Rows are therefore taken by their *end*
(``calldate + duration``), up to a settle delay before now, and every row of
the calls they belong to is re-read so a call is always summarised whole.
Re-reading is safe: calls are upserted by their linkedid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from .cdr import _Row, calls_from_rows
from .channels import clean_number

COLUMNS = (
    "calldate",
    "src",
    "dst",
    "channel",
    "dstchannel",
    "lastapp",
    "duration",
    "billsec",
    "disposition",
    "uniqueid",
    "userfield",
    "linkedid",
    "sequence",
    "recordingfile",
)
_ENDED = sql.SQL("calldate + duration * interval '1 second'")
# A timestamp outside this window (or infinity) is corrupt, and Python's
# datetime could not even hold some of them: the row is reported, not read.
_SANE = sql.SQL(
    "CASE WHEN {value} >= '2000-01-01' AND {value} < LOCALTIMESTAMP + interval '1 day'"
    " THEN {value} END"
)


class CdrDatabaseError(RuntimeError):
    """The CDR database could not be read; nothing was taken from it."""


class _BadRow(ValueError):
    pass


@dataclass
class PullResult:
    calls: list[dict]
    watermark: datetime | None
    rows: int = 0
    errors: list[str] = field(default_factory=list)


def connect_readonly(source, timezone, error, what):
    """A read-only connection to a PBX's database (``source``: host, port,
    dbname, user, password, connect_timeout) with its session in ``timezone``;
    ``error`` saying ``what`` could not be reached."""
    try:
        connection = psycopg2.connect(
            host=source.host or None,
            port=source.port or None,
            dbname=source.dbname,
            user=source.user or None,
            password=source.password or None,
            connect_timeout=source.connect_timeout,
            application_name="phone_call_accounting",
            options=f"-c statement_timeout=60000 -c TimeZone={timezone}",
        )
    except psycopg2.Error as exc:
        raise error(f"cannot connect to {what}: {exc}".strip()) from exc
    connection.set_session(readonly=True, autocommit=False)
    return connection


@dataclass
class CdrSource:
    host: str | None
    port: int | None
    dbname: str
    user: str | None
    password: str | None
    table: str = "cdr"
    connect_timeout: int = 10

    def _connect(self, timezone):
        return connect_readonly(self, timezone, CdrDatabaseError, "the CDR database")

    def pull(
        self,
        since: datetime,
        settle_seconds: int = 120,
        limit: int = 5000,
        timezone: str = "UTC",
        trunks: Sequence[str] = (),
    ) -> PullResult:
        """Calls whose rows ended after ``since`` (naive UTC) and before now - settle.

        Returns the calls and the new watermark (naive UTC): the end of the
        last row taken. Raises :class:`CdrDatabaseError` on any database
        failure, in which case the caller keeps its old watermark.
        """
        zone = ZoneInfo(timezone)
        since_local = since.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
        connection = self._connect(timezone)
        try:
            with connection, connection.cursor(cursor_factory=psycopg2.extras.DictCursor) as cr:
                records = self._new_rows(cr, since_local, settle_seconds, limit)
                if not records:
                    return PullResult([], None)
                last_end = max(r["ended"] for r in records)
                keys = sorted({r["linkedid"] or r["uniqueid"] for r in records})
                records = self._rows_of_calls(cr, keys)
        except psycopg2.Error as exc:
            raise CdrDatabaseError(f"reading the CDR table failed: {exc}".strip()) from exc
        finally:
            connection.close()
        rows, errors = _readable_rows(records, zone)
        watermark = last_end.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        unsummarised = []
        calls = calls_from_rows(rows, trunks, unsummarised)
        errors += [error.message for error in unsummarised]
        return PullResult(calls, watermark, len(records), errors)

    def _select(self):
        columns = [
            _SANE.format(value=sql.Identifier(name)) + sql.SQL(" AS ") + sql.Identifier(name)
            if name == "calldate"
            else sql.Identifier(name)
            for name in COLUMNS
        ]
        return sql.SQL(
            "SELECT {columns}, calldate::text AS calldate_text, {ended} AS ended FROM {table}"
        ).format(
            columns=sql.SQL(", ").join(columns),
            ended=_SANE.format(value=_ENDED),
            table=sql.Identifier(*self.table.split(".")),
        )

    def _new_rows(self, cr, since_local, settle_seconds, limit):
        query = sql.SQL(
            "{select} WHERE {ended} > %(since)s"
            " AND {ended} <= LOCALTIMESTAMP - %(settle)s * interval '1 second'"
            " ORDER BY ended, sequence LIMIT %(limit)s"
        ).format(select=self._select(), ended=_ENDED)
        cr.execute(query, {"since": since_local, "settle": settle_seconds, "limit": limit})
        records = cr.fetchall()
        if len(records) == limit:
            # Rows that end at the same second as the last one must come along,
            # or the next pull (strictly after the watermark) would skip them.
            tail = sql.SQL("{select} WHERE {ended} = %(end)s").format(
                select=self._select(), ended=_ENDED
            )
            cr.execute(tail, {"end": records[-1]["ended"]})
            seen = {(r["uniqueid"], r["sequence"]) for r in records}
            records += [r for r in cr.fetchall() if (r["uniqueid"], r["sequence"]) not in seen]
        return records

    def _rows_of_calls(self, cr, keys):
        query = sql.SQL(
            "{select} WHERE linkedid = ANY(%(keys)s)"
            " OR (COALESCE(linkedid, '') = '' AND uniqueid = ANY(%(keys)s))"
            " ORDER BY calldate, sequence"
        ).format(select=self._select())
        cr.execute(query, {"keys": keys})
        return cr.fetchall()


def _readable_rows(records, zone):
    """Rows of the calls whose every row could be read, and one error per other call.

    A call with an unreadable leg is left out whole: summarised from its
    other legs it would be recorded wrong.
    """
    by_call = {}
    for record in records:
        by_call.setdefault(record["linkedid"] or record["uniqueid"] or "", []).append(record)
    rows, errors = [], []
    for key, group in by_call.items():
        try:
            rows += [_row(record, zone) for record in group]
        except _BadRow as exc:
            errors.append(f"call {key or '(no id)'}: {exc}; the call was not taken")
    return rows, errors


def _row(record, zone):
    where = f"row {record['uniqueid'] or '(no uniqueid)'}"
    if record["calldate"] is None:
        raise _BadRow(f"{where}: calldate {record['calldate_text']} is out of range")
    duration, billsec = record["duration"] or 0, record["billsec"] or 0
    if duration < 0 or billsec < 0:
        raise _BadRow(f"{where}: negative duration {duration} or billsec {billsec}")
    start = record["calldate"].replace(tzinfo=zone).astimezone(UTC)
    end = start + timedelta(seconds=duration)
    billsec = min(billsec, duration)
    disposition = (record["disposition"] or "").strip().upper()
    answered = disposition == "ANSWERED" and billsec > 0
    return _Row(
        line=0,
        src=clean_number(record["src"] or ""),
        dst=clean_number(record["dst"] or ""),
        channel=(record["channel"] or "").strip(),
        dstchannel=(record["dstchannel"] or "").strip(),
        lastapp=(record["lastapp"] or "").strip(),
        disposition=disposition,
        start=start,
        answer=end - timedelta(seconds=billsec) if answered else None,
        end=end,
        billsec=billsec,
        uniqueid=record["uniqueid"] or "",
        linkedid=record["linkedid"] or "",
        sequence=int(record["sequence"] or 0),
        userfield=(record["recordingfile"] or record["userfield"] or "").strip(),
    )
