import functools
import logging

from psycopg2 import errors

from odoo import api, fields, models
from odoo.exceptions import ConcurrencyError, ValidationError
from odoo.tools import SQL

from . import concurrency

_logger = logging.getLogger(__name__)


class PhoneQueue(models.Model):
    """A call queue of a PBX, as the PBX names it, with its service-level thresholds.

    Made by ingestion the first time a call names it (``_queues_for``). Its
    thresholds decide two stored booleans of its calls (``phone_call_queue``):
    answered within T and short abandon, which the queue measures count. The
    live state (members, callers waiting) is another file's
    (``phone_queue_live``).
    """

    _name = "phone.queue"
    _description = "Call Queue"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, help="The queue's name as the PBX knows it, e.g. support.")
    pbx_id = fields.Many2one(
        "phone.pbx",
        string="PBX",
        index="btree_not_null",
        ondelete="cascade",
        check_company=True,
        help="The PBX whose queue it is; empty for the calls registered without a PBX.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    active = fields.Boolean(default=True)
    service_level_seconds = fields.Integer(
        string="Service Level Threshold (s)",
        default=20,
        required=True,
        help="T: a call answered after waiting at most this long is answered within T.",
    )
    short_abandon_seconds = fields.Integer(
        string="Short Abandon Threshold (s)",
        default=5,
        required=True,
        help="A caller hanging up within this many seconds of waiting is a short abandon: "
        "left out of the service level and the abandon rate.",
    )
    target_service_level = fields.Float(
        string="Target Service Level (%)",
        default=80.0,
        help="The share of calls to answer within T; the wallboard colours the service "
        "level against it.",
    )
    call_count = fields.Integer(string="Calls", compute="_compute_call_count")

    _pbx_name_unique = models.Constraint(
        "UNIQUE NULLS NOT DISTINCT (company_id, pbx_id, name)",
        "This PBX already has a queue of this name.",
    )

    def _compute_call_count(self):
        counts = dict(
            self.env["phone.call"]._read_group(
                [("queue_id", "in", self.ids)], ["queue_id"], ["__count"]
            )
        )
        for queue in self:
            queue.call_count = counts.get(queue, 0)

    @api.constrains("service_level_seconds", "short_abandon_seconds", "target_service_level")
    def _check_thresholds(self):
        for queue in self:
            if queue.service_level_seconds < 0 or queue.short_abandon_seconds < 0:
                raise ValidationError(self.env._("A queue's thresholds cannot be negative."))
            if not 0 <= queue.target_service_level <= 100:
                raise ValidationError(
                    self.env._("The target service level is a percentage, from 0 to 100.")
                )

    def write(self, vals):
        thresholds = {"service_level_seconds", "short_abandon_seconds"} & set(vals)
        if thresholds:
            # Ingestions in flight read the thresholds they hold a share lock on: wait
            # for them; one that committed meanwhile is seen below and this starts again.
            concurrency.lock_quietly(
                self.env,
                SQL(
                    "SELECT id FROM phone_queue WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                    self.ids,
                ),
                "queue used by a delivery",
            )
        result = super().write(vals)
        if thresholds:
            self._recompute_call_thresholds()
        return result

    def _recompute_call_thresholds(self):
        """Answered within T and short abandon of these queues' calls, again, in one
        UPDATE: the roll-up's trigger sees the calls whose figures moved."""
        if not self:
            return
        self.flush_recordset(["service_level_seconds", "short_abandon_seconds"])
        calls = self.env["phone.call"]
        calls.flush_model(["queue_id", "queue_result", "queue_wait_seconds"])
        # A call a delivery changed after this snapshot: a retry, not a logged failure.
        concurrency.lock_quietly(
            self.env, _recompute_query(self.ids), "queue's calls changed concurrently"
        )
        calls.invalidate_model(["queue_answered_in_time", "queue_short_abandon"])
        # A delivery that held these queues while this waited for them committed
        # calls this transaction's snapshot does not show, counted with the old
        # thresholds: once this commits, the same UPDATE again on a fresh snapshot.
        self.env.cr.postcommit.add(
            functools.partial(_recompute_after_commit, self.env.registry, tuple(self.ids))
        )

    @api.model
    def _queues_for(self, names, company, pbx):
        """{name: queue} of ``pbx`` (or the company's PBX-less queues) for ``names``,
        the unknown ones created.

        Two deliveries naming a new queue at once make one queue: the second
        waits for the first's lock, then sees its queue on a fresh snapshot and
        starts again (ConcurrencyError, retried by Odoo).
        """
        names = sorted(set(names) - {""})
        if not names:
            return {}
        queues = self.sudo().with_context(active_test=False)
        domain = [("company_id", "=", company.id), ("pbx_id", "=", pbx.id or False)]
        thresholds = ["name", "service_level_seconds", "short_abandon_seconds"]
        found = {
            q.name: q for q in queues.search_fetch([*domain, ("name", "in", names)], thresholds)
        }
        if found:
            # The thresholds just read decide the calls' two booleans: held until this
            # transaction ends, so that a change of them waits for it (write()); one
            # committed since this snapshot makes this delivery start again.
            concurrency.lock_quietly(
                self.env,
                SQL(
                    "SELECT id FROM phone_queue WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                    [q.id for q in found.values()],
                ),
                "queue thresholds changed concurrently",
            )
        missing = [name for name in names if name not in found]
        if not missing:
            return found
        concurrency.lock_keys(
            self.env.cr, (f"phone.queue:{company.id}:{pbx.id or 0}:{name}" for name in missing)
        )
        if concurrency.committed_since_snapshot(
            self.env,
            SQL(
                "SELECT 1 FROM phone_queue WHERE company_id = %s"
                " AND pbx_id IS NOT DISTINCT FROM %s AND name = ANY(%s) LIMIT 1",
                company.id,
                pbx.id or None,
                missing,
            ),
        ):
            raise ConcurrencyError("queue created concurrently")
        try:
            with self.env.cr.savepoint():
                created = queues.create(
                    [
                        {"name": name, "company_id": company.id, "pbx_id": pbx.id or False}
                        for name in missing
                    ]
                )
        except errors.UniqueViolation as exc:
            concurrency.raise_if_duplicate_committed(
                exc, "queue created concurrently", constraint="pbx_name_unique"
            )
            raise
        found.update(zip(missing, created, strict=True))
        return found

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "phone_call_accounting.phone_call_action"
        )
        action["domain"] = [("queue_id", "=", self.id)]
        action["context"] = {"search_default_group_call_date": 1}
        action["name"] = action["display_name"] = self.env._("Calls of queue %s", self.name)
        return action


# The stored booleans of a queued call (``c``) from its queue's (``q``) thresholds;
# phone_call_queue computes the same in Python (``answered_in_time``, ``short_abandon``).
ANSWERED_IN_TIME_SQL = (
    "(c.queue_result = 'answered' AND COALESCE(c.queue_wait_seconds, 0) <= q.service_level_seconds)"
)
SHORT_ABANDON_SQL = (
    "(c.queue_result = 'abandoned'"
    " AND COALESCE(c.queue_wait_seconds, 0) <= q.short_abandon_seconds)"
)


def _recompute_query(queue_ids):
    """UPDATE the two booleans of the calls of ``queue_ids`` that their queue's
    thresholds now decide otherwise (only those: the roll-up's trigger follows)."""
    return SQL(
        """
        UPDATE phone_call c
           SET queue_answered_in_time = n.in_time, queue_short_abandon = n.short
          FROM (
              SELECT c.id, %(in_time)s AS in_time, %(short)s AS short
                FROM phone_call c JOIN phone_queue q ON q.id = c.queue_id
               WHERE c.queue_id = ANY(%(queues)s)
          ) n
         WHERE c.id = n.id
           AND (c.queue_answered_in_time, c.queue_short_abandon)
               IS DISTINCT FROM (n.in_time, n.short)
        RETURNING c.id
        """,
        in_time=SQL(ANSWERED_IN_TIME_SQL),
        short=SQL(SHORT_ABANDON_SQL),
        queues=list(queue_ids),
    )


def _recompute_after_commit(registry, queue_ids):
    """The thresholds' UPDATE again once they are committed, in a transaction of its
    own that reads committed rows statement by statement: the calls that deliveries
    committed while the change waited for them get the new thresholds too."""
    try:
        with registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(_recompute_query(queue_ids))
    except Exception:  # after the commit: logged, the change itself stands
        _logger.exception("Queue thresholds: recounting the calls after the commit failed")


def answered_in_time(result, wait, queue):
    """Whether a call that left ``queue`` with ``result`` after ``wait`` seconds was
    answered within the queue's T."""
    return bool(queue) and result == "answered" and (wait or 0) <= queue.service_level_seconds


def short_abandon(result, wait, queue):
    """Whether it was abandoned within the queue's short-abandon threshold."""
    return bool(queue) and result == "abandoned" and (wait or 0) <= queue.short_abandon_seconds
