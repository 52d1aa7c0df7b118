import logging
from datetime import timedelta

from psycopg2.errors import SerializationFailure

from odoo import api, fields, models
from odoo.tools import SQL

from ..pbx.recordings import RecordingError

_logger = logging.getLogger(__name__)

RECORDING_STATES = [
    ("none", "No Recording"),
    ("pending", "To Download"),
    ("downloaded", "Downloaded"),
    ("failed", "Download Failed"),
    ("deleted", "Deleted (Retention)"),
]
MAX_RECORDING_ATTEMPTS = 8

# queue_job (optional): one job per call and kind of work, on a channel whose
# capacity each server sets ([queue_job] channels = root:2,root.phone:1).
JOB_CHANNEL = "root.phone"
JOB_METHODS = {"download": "_job_download", "analyse": "_job_analyse"}
# A job still waiting this long no longer keeps the crons off its call: queue_job
# installed without its runner started must not leave recordings untouched.
JOB_GRACE = timedelta(hours=1)
# A claim that meets a call changed since the transaction's snapshot fails
# (REPEATABLE READ); a new snapshot after a commit sees the change.
CLAIM_TRIES = 5


class PhoneCall(models.Model):
    """Recordings fetched from the PBX, kept as attachments, purged when old."""

    _inherit = "phone.call"

    recording = fields.Char(readonly=True, help="File name of the recording on the PBX.")
    recording_state = fields.Selection(
        RECORDING_STATES, default="none", required=True, readonly=True, copy=False
    )
    recording_attachment_id = fields.Many2one(
        "ir.attachment", readonly=True, copy=False, ondelete="set null"
    )
    recording_downloaded = fields.Boolean(
        string="Conversation Downloaded", readonly=True, copy=False
    )
    recording_error = fields.Char(readonly=True, copy=False)
    recording_attempts = fields.Integer(readonly=True, copy=False)
    recording_next_try = fields.Datetime(readonly=True, copy=False)
    recording_url = fields.Char(compute="_compute_recording_url")

    # The crons look for the few calls still to work on: partial indexes stay small
    # and most inserted calls never enter them.
    _recording_pending_idx = models.Index("(id) WHERE recording_state = 'pending'")
    _recording_downloaded_idx = models.Index("(company_id, call_start) WHERE recording_downloaded")

    @api.model_create_multi
    def create(self, vals_list):
        calls = super().create(vals_list)
        if self._queue_jobs_enabled():
            calls.filtered(lambda call: call.recording_state == "pending")._enqueue_work("download")
        return calls

    def write(self, vals):
        result = super().write(vals)
        if vals.get("recording_state") == "pending":
            self._enqueue_work("download")
        return result

    @api.depends("recording_downloaded")
    def _compute_recording_url(self):
        for call in self:
            call.recording_url = (
                f"/phone_call_accounting/call/{call.id}/recording"
                if call.recording_downloaded and call.id
                else False
            )

    # ------------------------------------------------------------------
    # Recordings
    # ------------------------------------------------------------------

    @api.model
    def _cron_download_recordings(self, batch_size=20):
        """Fetch pending recordings in small claimed batches; one bad file never
        stops the run, and workers running this at once never fetch a call twice."""
        cron = self.env["ir.cron"]
        cron._commit_progress(remaining=self.search_count(self._recordings_due_domain()))
        seen = set()
        while calls := self._claim_due(self._recordings_due_sql(), "download", batch_size, seen):
            seen.update(calls.ids)
            for call in calls:
                call._download_recording()
            if not cron._commit_progress(len(calls)):
                break

    @api.model
    def _recordings_due_domain(self):
        """The calls whose recording is to be fetched now: the rule, written once."""
        return [
            ("recording_state", "=", "pending"),
            "|",
            ("recording_next_try", "=", False),
            ("recording_next_try", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _recordings_due_sql(self):
        return self._due_sql(self._recordings_due_domain())

    @api.model
    def _due_sql(self, domain):
        """``domain`` as the SQL condition of a claim (``_claim_due``), so that a
        rule for the crons' counts and searches and for their claims is written
        once, as a domain. The claims lock rows of phone_call alone: a domain
        reaching another table is refused. No record rule is added: the crons
        and jobs work on the calls of every company.
        """
        query = self._search(domain, active_test=False, bypass_access=True)
        if query.is_empty():
            return SQL("FALSE")
        if query.from_clause != SQL.identifier(self._table):
            raise ValueError(f"a due rule reads only the call's own columns: {domain}")
        return query.where_clause or SQL("TRUE")

    # ------------------------------------------------------------------
    # Sharing the work between workers and servers
    # ------------------------------------------------------------------

    @api.model
    def _claim_due(self, condition, kind, limit, seen=(), cron=True):
        """Lock up to ``limit`` calls meeting ``condition`` that no other
        transaction holds, for the rest of this transaction.

        The partial indexes on the pending states serve the ``ORDER BY id``.
        ``seen`` are calls this run has worked on already (a retry waits for a
        later run). For a cron (``cron``), calls a queued job will take are left
        to it, and a claim that meets a concurrent change is tried again after a
        commit; a job gives up instead: whoever changed the call worked on it,
        and the crons take what is still pending.
        """
        self.env.flush_all()
        covered = SQL()
        if cron and self._queue_jobs_enabled():
            covered = SQL(
                " AND NOT EXISTS (SELECT 1 FROM queue_job qj"
                " WHERE qj.identity_key = %s::varchar || phone_call.id"
                " AND qj.state IN ('pending', 'enqueued', 'wait_dependencies')"
                " AND qj.date_created > %s)",
                f"phone_call_accounting.{kind}:",
                fields.Datetime.now() - JOB_GRACE,
            )
        query = SQL(
            "SELECT id FROM phone_call WHERE %s AND id != ALL(%s::int[])%s"
            " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            condition,
            sorted(seen),
            covered,
            limit,
        )
        for _attempt in range(CLAIM_TRIES if cron else 1):
            try:
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(query, log_exceptions=False)
                    return self.browse([row[0] for row in self.env.cr.fetchall()])
            except SerializationFailure:
                if not cron or not self.env["ir.cron"]._commit_progress():
                    break
        return self.browse()

    @api.model
    def _queue_jobs_enabled(self):
        return "queue.job" in self.env and hasattr(self, "with_delay")

    def _enqueue_work(self, kind):
        """One queue_job job per call when queue_job is installed; the identity
        key keeps a call from being queued twice for the same work."""
        if not self or not self._queue_jobs_enabled():
            return
        for call in self:
            delayable = call.with_delay(
                channel=JOB_CHANNEL, identity_key=f"phone_call_accounting.{kind}:{call.id}"
            )
            getattr(delayable, JOB_METHODS[kind])()

    def _job_download(self):
        """Download the call's recording"""
        claimed = self._claim_due(
            SQL("id = ANY(%s::int[]) AND %s", self.ids, self._recordings_due_sql()),
            "download",
            len(self),
            cron=False,
        )
        for call in claimed:
            call._download_recording()

    def _download_recording(self):
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                recording = self.pbx_id._fetch_recording(self)
                self._store_recording(recording)
        except RecordingError as exc:
            self._recording_failed(str(exc), exc.retry)
        except Exception as exc:  # the cron must go on with the next file
            _logger.exception("Recording of call %s could not be stored", self.id)
            self._recording_failed(self.env._("unexpected error: %s", exc), retry=True)

    def _store_recording(self, recording):
        """Keep the audio as an attachment of the call, then mark it downloaded."""
        self.ensure_one()
        old = self.recording_attachment_id
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": recording.filename,
                    "raw": recording.data,
                    "mimetype": recording.mimetype,
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )
        self.write(
            {
                "recording_attachment_id": attachment.id,
                "recording_downloaded": True,
                "recording_state": "downloaded",
                "recording_error": False,
                "recording_next_try": False,
                "analysis_state": "pending",
                "analysis_error": False,
            }
        )
        old.sudo().unlink()

    def _recording_failed(self, reason, retry):
        self.ensure_one()
        attempts = self.recording_attempts + 1
        values = {"recording_error": reason[:255], "recording_attempts": attempts}
        if retry and attempts < MAX_RECORDING_ATTEMPTS:
            values["recording_next_try"] = fields.Datetime.now() + timedelta(
                minutes=min(2**attempts, 24 * 60)
            )
        else:
            values.update(recording_state="failed", recording_next_try=False)
        self.write(values)

    @api.model
    def _cron_purge_recordings(self):
        """Delete recordings older than each company's retention; keep the calls."""
        for company in self.env["res.company"].search([("phone_recording_retention_days", ">", 0)]):
            limit = fields.Datetime.now() - timedelta(days=company.phone_recording_retention_days)
            calls = self.search(
                [
                    ("company_id", "=", company.id),
                    ("recording_downloaded", "=", True),
                    ("call_start", "<", limit),
                ]
            )
            attachments = calls.recording_attachment_id
            calls.write(
                {
                    "recording_downloaded": False,
                    "recording_state": "deleted",
                    "recording_attachment_id": False,
                }
            )
            attachments.sudo().unlink()
            self.env["ir.cron"]._commit_progress(len(calls))

    def action_retry_recording(self):
        self.filtered("recording").write(
            {"recording_state": "pending", "recording_attempts": 0, "recording_next_try": False}
        )
