import logging
from collections import Counter

from psycopg2 import errors

from odoo import fields, models
from odoo.exceptions import ConcurrencyError
from odoo.orm.environments import Transaction
from odoo.tools import SQL

from ..pbx import live
from . import concurrency

_logger = logging.getLogger(__name__)

LIVE_NOTIFICATION = "phone_call_accounting/live"

# A join older than the row's last event still moves the waiting caller's
# start earlier (the wait counts from the first join); nothing else of it.
_CALLER_JOIN = """
INSERT INTO phone_queue_caller AS c
       (queue_id, pbx_id, company_id, call_id, number, name, position, joined_at, event_at,
        create_uid, write_uid, create_date, write_date)
VALUES (%(queue)s, %(pbx)s, %(company)s, %(call_id)s, %(number)s, %(name)s, %(position)s,
        %(joined)s, %(at)s, %(uid)s, %(uid)s, %(now)s, %(now)s)
ON CONFLICT (queue_id, call_id) DO UPDATE
   SET number = CASE WHEN c.event_at <= EXCLUDED.event_at
                     THEN COALESCE(NULLIF(EXCLUDED.number, ''), c.number)
                     ELSE COALESCE(NULLIF(c.number, ''), EXCLUDED.number) END,
       name = CASE WHEN c.event_at <= EXCLUDED.event_at
                   THEN COALESCE(NULLIF(EXCLUDED.name, ''), c.name)
                   ELSE COALESCE(NULLIF(c.name, ''), EXCLUDED.name) END,
       position = CASE WHEN EXCLUDED.position > 0 AND c.event_at <= EXCLUDED.event_at
                       THEN EXCLUDED.position ELSE c.position END,
       joined_at = CASE WHEN c.left_at IS NULL THEN LEAST(c.joined_at, EXCLUDED.joined_at)
                        ELSE EXCLUDED.joined_at END,
       left_at = NULL,
       result = NULL,
       event_at = GREATEST(c.event_at, EXCLUDED.event_at),
       write_uid = EXCLUDED.write_uid,
       write_date = EXCLUDED.write_date
 WHERE c.left_at IS NULL OR c.event_at <= EXCLUDED.event_at
"""

# A leave without its join (lost, or still in another request) leaves a row
# that has left: the join arriving later is older and changes nothing.
_CALLER_LEAVE = """
INSERT INTO phone_queue_caller AS c
       (queue_id, pbx_id, company_id, call_id, joined_at, left_at, result, event_at,
        create_uid, write_uid, create_date, write_date)
VALUES (%(queue)s, %(pbx)s, %(company)s, %(call_id)s, %(at)s, %(at)s, %(result)s, %(at)s,
        %(uid)s, %(uid)s, %(now)s, %(now)s)
ON CONFLICT (queue_id, call_id) DO UPDATE
   SET left_at = EXCLUDED.left_at,
       result = EXCLUDED.result,
       event_at = EXCLUDED.event_at,
       write_uid = EXCLUDED.write_uid,
       write_date = EXCLUDED.write_date
 WHERE c.left_at IS NULL AND c.event_at <= EXCLUDED.event_at
"""

_MEMBER = """
INSERT INTO phone_queue_member AS m
       (queue_id, pbx_id, company_id, member, extension, name, status, status_since, event_at,
        active, create_uid, write_uid, create_date, write_date)
VALUES (%(queue)s, %(pbx)s, %(company)s, %(member)s, %(extension)s, %(name)s, %(status)s,
        %(at)s, %(at)s, %(active)s, %(uid)s, %(uid)s, %(now)s, %(now)s)
ON CONFLICT (queue_id, member) DO UPDATE
   SET extension = COALESCE(NULLIF(EXCLUDED.extension, ''), m.extension),
       name = COALESCE(NULLIF(EXCLUDED.name, ''), m.name),
       status = CASE WHEN EXCLUDED.active THEN EXCLUDED.status ELSE m.status END,
       status_since = CASE WHEN m.status = EXCLUDED.status AND m.active = EXCLUDED.active
                           THEN m.status_since ELSE EXCLUDED.status_since END,
       active = EXCLUDED.active,
       event_at = EXCLUDED.event_at,
       write_uid = EXCLUDED.write_uid,
       write_date = EXCLUDED.write_date
 WHERE m.event_at <= EXCLUDED.event_at
"""

# An ended call may ring the same phone again (a ring group's next round),
# but only with a later event. An older event of a call in progress only
# moves its start earlier.
_NEWER = (
    "(l.event_at < EXCLUDED.event_at OR (l.state <> 'ended' AND l.event_at = EXCLUDED.event_at))"
)
_CALL = """
INSERT INTO phone_call_live AS l
       (pbx_id, company_id, call_id, extension, state, from_number, to_number, started_at,
        state_since, event_at, create_uid, write_uid, create_date, write_date)
VALUES (%(pbx)s, %(company)s, %(call_id)s, %(extension)s, %(state)s, %(from_number)s,
        %(to_number)s, %(at)s, %(at)s, %(at)s, %(uid)s, %(uid)s, %(now)s, %(now)s)
ON CONFLICT (pbx_id, call_id, extension) DO UPDATE
   SET state = CASE WHEN {newer} THEN EXCLUDED.state ELSE l.state END,
       from_number = CASE WHEN {newer}
                          THEN COALESCE(NULLIF(EXCLUDED.from_number, ''), l.from_number)
                          ELSE COALESCE(NULLIF(l.from_number, ''), EXCLUDED.from_number) END,
       to_number = CASE WHEN {newer} THEN COALESCE(NULLIF(EXCLUDED.to_number, ''), l.to_number)
                        ELSE COALESCE(NULLIF(l.to_number, ''), EXCLUDED.to_number) END,
       started_at = CASE WHEN l.state = 'ended' THEN EXCLUDED.started_at
                         WHEN EXCLUDED.state = 'ended' THEN l.started_at
                         ELSE LEAST(l.started_at, EXCLUDED.started_at) END,
       state_since = CASE WHEN {newer} AND l.state <> EXCLUDED.state THEN EXCLUDED.state_since
                          ELSE l.state_since END,
       event_at = GREATEST(l.event_at, EXCLUDED.event_at),
       write_uid = EXCLUDED.write_uid,
       write_date = EXCLUDED.write_date
 WHERE l.state <> 'ended' OR l.event_at < EXCLUDED.event_at
""".replace("{newer}", _NEWER)

_CALL_ENDED_EVERYWHERE = """
UPDATE phone_call_live
   SET state = 'ended', state_since = %(at)s, event_at = %(at)s,
       write_uid = %(uid)s, write_date = %(now)s
 WHERE pbx_id = %(pbx)s AND call_id = %(call_id)s AND state <> 'ended'
   AND event_at <= %(at)s
"""

_SNAPSHOT_CALLERS_LEFT = """
UPDATE phone_queue_caller
   SET left_at = %(at)s, result = 'other', event_at = %(at)s,
       write_uid = %(uid)s, write_date = %(now)s
 WHERE queue_id = %(queue)s AND left_at IS NULL AND event_at <= %(at)s
   AND call_id <> ALL(%(present)s::varchar[])
"""

_SNAPSHOT_MEMBERS_GONE = """
UPDATE phone_queue_member
   SET active = FALSE, event_at = %(at)s, status_since = %(at)s,
       write_uid = %(uid)s, write_date = %(now)s
 WHERE queue_id = %(queue)s AND active AND event_at <= %(at)s
   AND member <> ALL(%(present)s::varchar[])
"""


class PhonePbx(models.Model):
    """The PBX's live events (pbx/live.py): the wallboard's state, in the database."""

    _inherit = "phone.pbx"

    def _live_receive(self, events):
        """Apply checked live events (:func:`pbx.live.check_events`) in order and
        tell the managers' wallboards once.

        Every event is one upsert keyed by queue and call, queue and member,
        or call and extension, guarded by its time: an event older than what a
        row shows changes nothing, so batches arriving out of order through
        several workers end in the same state. The batches of one PBX are
        applied one at a time: this transaction waits for the PBX's advisory
        lock, then applies them in a transaction of its own begun once it holds
        the lock, whose snapshot sees everything the previous holders committed
        (this request's own snapshot was taken before the wait). So batches of
        one PBX never conflict, however many workers and servers take them.
        Returns ``{"result": "applied", "events": n, "applied": {type: n}}``.
        """
        self.ensure_one()
        concurrency.lock_keys(self.env.cr, [f"phone.live:{self.id}"])
        registry = self.env.registry
        with registry.cursor() as cr:
            # The registry is this one: no look-up by name (it waits for the
            # registry lock, which a server loading modules holds).
            cr.transaction = Transaction(registry)
            return self.with_env(self.env(cr=cr))._live_apply(events)

    def _live_apply(self, events):
        """The body of :meth:`_live_receive`, in its own transaction."""
        self.ensure_one()
        now = fields.Datetime.now()
        queues = self.env["phone.queue"]._queues_for(
            live.queue_names(events), self.company_id, self
        )
        for model in ("phone.queue.caller", "phone.queue.member", "phone.call.live"):
            self.env[model].flush_model()
        base = {"pbx": self.id, "company": self.company_id.id, "uid": self.env.uid, "now": now}
        applied = Counter()
        for event in events:
            at = event["at"] or now
            kind = event["type"]
            if kind == live.SNAPSHOT:
                for entry in event["queues"]:
                    queue = queues[entry["queue"]]
                    self._live_snapshot(base | {"queue": queue.id}, entry, at)
                applied[kind] += 1
                continue
            values = base | event | {"at": at}
            if "queue" in event:
                values["queue"] = queues[event["queue"]].id
            if kind == live.CALLER_JOIN:
                changed = self._live_execute(_CALLER_JOIN, values | {"joined": at})
            elif kind == live.CALLER_LEAVE:
                changed = self._live_execute(_CALLER_LEAVE, values)
            elif kind == live.MEMBER:
                changed = self._live_execute(_MEMBER, values | {"active": True})
            elif kind == live.MEMBER_REMOVED:
                changed = self._live_execute(
                    _MEMBER,
                    values
                    | {"extension": "", "name": "", "status": "unavailable", "active": False},
                )
            elif event["state"] == "ended" and not event["extension"]:
                changed = self._live_execute(_CALL_ENDED_EVERYWHERE, values)
            else:
                changed = self._live_execute(_CALL, values)
            if changed:
                applied[kind] += 1
        for model in ("phone.queue.caller", "phone.queue.member", "phone.call.live"):
            self.env[model].invalidate_model()
        last = max((event["at"] or now for event in events), default=now)
        self._live_notify(sorted({queue.id for queue in queues.values()}), last)
        return {"result": "applied", "events": len(events), "applied": dict(applied)}

    def _live_snapshot(self, base, entry, at):
        """Replace one queue's callers and members by the snapshot's (``entry``)."""
        for caller in entry["callers"]:
            caller_at = caller["at"] or at
            self._live_execute(
                _CALLER_JOIN, caller | base | {"joined": min(caller_at, at), "at": at}
            )
        self._live_execute(
            _SNAPSHOT_CALLERS_LEFT,
            base | {"at": at, "present": [c["call_id"] for c in entry["callers"]]},
        )
        for member in entry["members"]:
            self._live_execute(_MEMBER, member | base | {"at": at, "active": True})
        self._live_execute(
            _SNAPSHOT_MEMBERS_GONE,
            base | {"at": at, "present": [m["member"] for m in entry["members"]]},
        )

    def _live_execute(self, query, values):
        """Run one live statement; the number of rows it changed.

        A row that another transaction changed after this one's snapshot is a
        ConcurrencyError (Odoo runs the request again on a fresh snapshot),
        not a bad query in the log.
        """
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(SQL(query, **values), log_exceptions=False)
                return self.env.cr.rowcount
        except (errors.SerializationFailure, errors.DeadlockDetected) as exc:
            raise ConcurrencyError("live state changed by another request") from exc

    def _live_notify(self, queue_ids, last):
        """One bus message to the managers' wallboards: something changed (the
        queues named, up to the time of the latest event, ``last``)."""
        group = self.env.ref("phone_call_accounting.group_phone_manager").sudo()
        group._bus_send(
            LIVE_NOTIFICATION,
            {
                "pbx_id": self.id,
                "company_id": self.company_id.id,
                "queue_ids": queue_ids,
                "last_at": f"{last.isoformat(timespec='milliseconds')}Z",
            },
        )
