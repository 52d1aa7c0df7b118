import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ConcurrencyError, UserError

from ..pbx.asterisk import queue_log

_logger = logging.getLogger(__name__)

QUEUE_LOG_SOURCES = [
    ("none", "Not read"),
    ("file", "File on the Odoo server"),
    ("table", "Table in the CDR database"),
]


class PhonePbx(models.Model):
    """Asterisk's queue log as another source of a PBX's calls: the pipe file
    (``/var/log/asterisk/queue_log``, read from where the last read stopped)
    or the realtime ``queue_log`` table (read after a watermark, through the
    CDR database connection). Its calls carry their queue visits and go
    through the one way in (``queue_only`` items: a call another source
    delivered keeps its other fields)."""

    _inherit = "phone.pbx"

    queue_log_source = fields.Selection(
        QUEUE_LOG_SOURCES,
        string="Queue Log",
        default="none",
        required=True,
        help="Where Asterisk's queue log is read from: the file app_queue writes, mounted "
        "on the Odoo server, or the queue_log table of a realtime set-up, in the CDR "
        "database below.",
    )
    queue_log_path = fields.Char(
        string="Queue Log File",
        default="/var/log/asterisk/queue_log",
        help="The queue log file as the Odoo server sees it (e.g. a read-only mount of "
        "/var/log/asterisk). A rotated file is read from its start.",
    )
    queue_log_table = fields.Char(
        default="queue_log",
        help="The realtime queue_log table in the CDR database (schema.table allowed).",
    )
    queue_log_settle_seconds = fields.Integer(
        string="Queue Log Settle Delay",
        default=120,
        help="Calls with a queue log line more recent than this wait for the next read: "
        "another queue may follow.",
    )
    queue_log_position = fields.Text(
        readonly=True,
        copy=False,
        groups="base.group_no_one",
        help="Where the file was read up to: its inode, the byte offset, and the lines of "
        "the calls still going on.",
    )
    queue_log_offset = fields.Integer(
        string="Queue Log Read Up To (byte)",
        compute="_compute_queue_log_offset",
        help="How far the queue log file was read.",
    )
    queue_log_watermark = fields.Datetime(
        string="Queue Log Pulled Until",
        copy=False,
        help="Time of the last queue_log row taken; the next pull starts after it.",
    )
    queue_log_error = fields.Text(string="Queue Log Problem", readonly=True, copy=False)

    @api.depends("queue_log_position")
    def _compute_queue_log_offset(self):
        for pbx in self:
            position = pbx.sudo().queue_log_position
            pbx.queue_log_offset = queue_log.QueueLogPosition.from_json(position).offset

    @api.model
    def _cron_pull_queue_logs(self):
        """Read every PBX's queue log. Several servers' crons (or a click on
        Pull Queue Log Now) read each PBX once: one that another is reading
        is skipped this time."""
        for pbx in self.search([("queue_log_source", "!=", "none")]):
            try:
                with self.env.cr.savepoint():
                    pbx._pull_queue_log(skip_locked=True)
            except ConcurrencyError as exc:
                # Its calls were being delivered by another source: next run.
                _logger.info("Queue log of PBX %s left for the next run: %s", pbx.name, exc)
            self.env["ir.cron"]._commit_progress(1)

    def action_pull_queue_log_now(self):
        self.ensure_one()
        results = self._pull_queue_log()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Queue log"),
                "message": self.env._("%s calls taken.", len(results)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _pull_queue_log(self, skip_locked=False):
        """Read what the queue log gained and ingest its calls; their results.

        The PBX's row is locked first (:meth:`_lock_for_pull`), so that two
        readers never take the same lines. For the cron (``skip_locked``), a
        PBX another transaction is reading (or read since this one began) is
        left alone, and a log that cannot be read is noted on the PBX (None
        both times); otherwise this waits for the other reader, and a log that
        cannot be read is a UserError. Position and watermark stay when
        nothing was read.
        """
        self.ensure_one()
        if self.queue_log_source == "none":
            raise UserError(self.env._("Choose where %s's queue log is read from.", self.name))
        if not self._lock_for_pull(skip_locked):
            return None
        try:
            if self.queue_log_source == "file":
                return self._pull_queue_log_file()
            return self._pull_queue_log_table()
        except (queue_log.QueueLogDatabaseError, OSError, UserError) as exc:
            if not skip_locked:
                raise UserError(str(exc)) from exc
            _logger.warning("Queue log of PBX %s not read: %s", self.name, exc)
            self.queue_log_error = str(exc)
            return None

    def _pull_queue_log_file(self):
        if not self.queue_log_path:
            raise UserError(self.env._("Set the queue log file of %s first.", self.name))
        position = queue_log.QueueLogPosition.from_json(self.sudo().queue_log_position)
        read = queue_log.read_queue_log(
            self.queue_log_path, position, settle_seconds=self.queue_log_settle_seconds
        )
        results = self._ingest(read.calls) if read.calls else []
        self.sudo().write(
            {
                "queue_log_position": read.position.to_json(),
                "queue_log_error": _problems(read.errors, results, read.dropped),
            }
        )
        return results

    def _pull_queue_log_table(self, limit=5000):
        source = queue_log.QueueLogSource(
            **self._cdr_db_connection(), table=self.queue_log_table or "queue_log"
        )
        since = self.queue_log_watermark or fields.Datetime.now() - timedelta(days=30)
        pull = source.pull(
            since=since,
            settle_seconds=self.queue_log_settle_seconds,
            limit=limit,
            timezone=self.timezone,
        )
        results = self._ingest(pull.calls) if pull.calls else []
        self.write(
            {
                "queue_log_watermark": pull.watermark or self.queue_log_watermark,
                "queue_log_error": _problems([], results, []),
            }
        )
        return results


def _problems(read_errors, results, dropped):
    problems = [str(error) for error in read_errors]
    problems += [
        f"call {result['external_id']}: {result['reason']}"
        for result in results
        if result["result"] == "rejected"
    ]
    if dropped:
        problems.append(f"calls given up (their queue visit never ended): {', '.join(dropped)}")
    return "\n".join(problems) or False
