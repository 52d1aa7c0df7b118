import logging
from datetime import timedelta

from odoo import api, fields, models

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
    def _cron_download_recordings(self, batch_size=50):
        """Fetch pending recordings in batches; one bad file never stops the run."""
        cron = self.env["ir.cron"]
        domain = self._recordings_due_domain()
        cron._commit_progress(remaining=self.search_count(domain))
        while calls := self.search(domain, limit=batch_size, order="recording_next_try, id"):
            for call in calls:
                call._download_recording()
            if not cron._commit_progress(len(calls)):
                break

    @api.model
    def _recordings_due_domain(self):
        return [
            ("recording_state", "=", "pending"),
            "|",
            ("recording_next_try", "=", False),
            ("recording_next_try", "<=", fields.Datetime.now()),
        ]

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
