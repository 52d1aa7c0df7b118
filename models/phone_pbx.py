import logging
import re
import secrets
from datetime import timedelta

from psycopg2 import errors

from odoo import api, fields, models
from odoo.exceptions import ConcurrencyError, MissingError, UserError, ValidationError
from odoo.tools import SQL

from ..pbx import recordings, vendors, webhooks
from ..pbx.analysis import transcribe
from ..pbx.asterisk import cdr_database
from . import concurrency
from .choices import engine_selection, language_selection

_logger = logging.getLogger(__name__)


KINDS = [
    ("asterisk_ami", "Asterisk (AMI listener)"),
    ("webhook", "Webhook from another PBX"),
    ("cdr_file", "CDR files (Master.csv upload)"),
    ("cdr_database", "CDR database (PostgreSQL)"),
]


def _tz_selection(self):
    # res.partner's zones with their labels in the reader's language, as Settings
    # shows them (a callable selection of our own would not be translated).
    return self.env["res.partner"]._fields["tz"]._description_selection(self.env)


class PhonePbx(models.Model):
    """One telephone exchange that delivers calls, with its secrets."""

    _name = "phone.pbx"
    _description = "Telephone Exchange (PBX)"
    _order = "sequence, name, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(KINDS, required=True, default="asterisk_ami")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    country_id = fields.Many2one(
        "res.country",
        help="Country of numbers without an international prefix; the company's default "
        "phone country when empty.",
    )
    timezone = fields.Selection(
        _tz_selection,
        default="UTC",
        required=True,
        help="Time zone of the times the PBX writes without one (CDR files, Yeastar).",
    )
    trunk_patterns = fields.Text(
        help="One regular expression per line matching the channel names of provider trunks, "
        "e.g. ^SIP/voipgrid- or ^PJSIP/provider-. Every other channel is a desk phone.",
    )
    trunk_patterns_missing = fields.Boolean(compute="_compute_trunk_patterns_missing")
    webhook_format = fields.Selection(
        vendors.selection(),
        default=vendors.NATIVE.key,
        required=True,
        help="How this PBX's own events are read, by the calls webhook and by the ringing "
        "pop-up alike.",
    )
    token = fields.Char(
        string="Secret Token",
        copy=False,
        groups="phone_call_accounting.group_phone_manager",
        default=lambda self: secrets.token_urlsafe(32),
        help="Sent by the PBX as a bearer token, or used as the key of the HMAC-SHA256 "
        "signature of the body.",
    )
    webhook_url = fields.Char(string="Calls Webhook URL", compute="_compute_webhook_url")
    # A site with PBXes in several countries, or one line for Korean customers.
    transcription_backend = fields.Selection(
        engine_selection,
        string="Speech Engine",
        help="Transcribes this PBX's recordings; empty: the company's engine.",
    )
    transcription_language = fields.Selection(
        language_selection,
        string="Speech Language",
        help="Language spoken on this PBX's calls; empty: the company's.",
    )
    transcription_problem = fields.Char(compute="_compute_transcription_problem")
    ringing_url = fields.Char(
        string="Ringing URL",
        compute="_compute_webhook_url",
        help="Where the PBX (or the listener) posts ringing events for the pop-up, in the"
        " format above; for 3CX, the CRM template's contact lookup.",
    )
    ami_host = fields.Char(string="AMI Host", default="127.0.0.1")
    ami_port = fields.Integer(string="AMI Port", default=5038)
    ami_username = fields.Char(string="AMI User")
    ami_secret = fields.Char(
        string="AMI Secret", groups="phone_call_accounting.group_phone_manager"
    )
    cdr_db_host = fields.Char(string="CDR Database Host")
    cdr_db_port = fields.Integer(string="CDR Database Port", default=5432)
    cdr_db_name = fields.Char(string="CDR Database Name", default="asteriskcdrdb")
    cdr_db_user = fields.Char(string="CDR Database User")
    cdr_db_password = fields.Char(
        string="CDR Database Password", groups="phone_call_accounting.group_phone_manager"
    )
    cdr_db_table = fields.Char(string="CDR Table", default="cdr")
    cdr_watermark = fields.Datetime(
        string="CDR Pulled Until",
        copy=False,
        help="End time of the last CDR row taken; the next pull starts after it.",
    )
    cdr_settle_seconds = fields.Integer(
        default=120,
        help="Rows that ended more recently than this are left for the next pull, "
        "so that every leg of a call has been written.",
    )
    recording_source = fields.Selection(
        [("none", "Not fetched"), ("url", "Web address"), ("directory", "Local directory")],
        default="none",
        required=True,
    )
    recording_url_template = fields.Char(
        help="Where a recording is downloaded from: {name} (file name), {path} (as the PBX "
        "gave it), {year}, {month}, {day} (of the call) and {external_id}, e.g. "
        "https://pbx.example.com/monitor/{year}/{month}/{day}/{name}",
    )
    recording_username = fields.Char()
    recording_password = fields.Char(groups="phone_call_accounting.group_phone_manager")
    recording_verify_tls = fields.Boolean(string="Verify TLS Certificate", default=True)
    recording_directory = fields.Char(
        help="A directory on the Odoo server (e.g. a mount of /var/spool/asterisk/monitor)."
    )
    recording_max_mb = fields.Integer(string="Largest Recording (MB)", default=50)
    last_sync = fields.Datetime(
        string="Last Delivery",
        readonly=True,
        copy=False,
        help="When this PBX last delivered calls (webhook, listener, CDR file) or its CDR "
        "database was last read; kept to the minute.",
    )
    last_error = fields.Text(readonly=True, copy=False)
    call_count = fields.Integer(compute="_compute_call_count")

    _token_unique = models.Constraint("UNIQUE(token)", "Each PBX needs its own secret token.")

    @api.depends("kind")
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for pbx in self:
            root = f"{base}/phone_call_accounting/pbx/{pbx.id}" if pbx.id else ""
            pbx.webhook_url = f"{root}/calls" if root else ""
            pbx.ringing_url = f"{root}/ringing" if root else ""

    def _speech_settings(self):
        """(engine, language) for this PBX's recordings: its own, else its company's."""
        company = self.company_id or self.env.company
        return (
            self.transcription_backend or company.phone_transcription_backend,
            self.transcription_language or company.phone_transcription_language,
        )

    @api.depends("transcription_backend", "transcription_language", "company_id")
    def _compute_transcription_problem(self):
        for pbx in self:
            problem = False
            if pbx.transcription_backend or pbx.transcription_language:
                # The package and model files only: loading a model costs seconds.
                reason = transcribe.backend_problem(*pbx._speech_settings())
                if reason:
                    problem = self.env._(
                        "Recordings cannot be transcribed with this engine: %s", reason
                    )
            pbx.transcription_problem = problem

    def _compute_call_count(self):
        counts = dict(
            self.env["phone.call"]._read_group(
                [("pbx_id", "in", self.ids)], ["pbx_id"], ["__count"]
            )
        )
        for pbx in self:
            pbx.call_count = counts.get(pbx, 0)

    @api.depends("kind", "trunk_patterns")
    def _compute_trunk_patterns_missing(self):
        # CDRs name channels only: without the trunks' names every call is internal.
        for pbx in self:
            pbx.trunk_patterns_missing = (
                pbx.kind in ("cdr_file", "cdr_database") and not pbx._trunk_regexes()
            )

    @api.constrains("trunk_patterns")
    def _check_trunk_patterns(self):
        for pbx in self:
            for pattern in pbx._trunk_regexes():
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValidationError(
                        self.env._("Trunk pattern %(p)s is not valid: %(e)s", p=pattern, e=exc)
                    ) from exc

    def _trunk_regexes(self):
        self.ensure_one()
        return [line.strip() for line in (self.trunk_patterns or "").splitlines() if line.strip()]

    def _source(self):
        self.ensure_one()
        return f"pbx-{self.id}"

    def _country_code(self):
        self.ensure_one()
        return self.country_id.code or self.company_id._phone_country_code()

    def _ingest(self, items):
        """Deliver call dicts from this PBX through the one way in."""
        self.ensure_one()
        self._touch_last_sync()
        return self.env["phone.call"]._ingest_calls(items, pbx=self)

    def _lock_for_pull(self, skip_locked=False):
        """Take the PBX's row before reading one of its sources (CDR database,
        queue log) and ingesting what it gained; whether this transaction holds it.

        Two readers must not take the same rows. And the reader writes its
        position on the row at the end, while a delivery from this PBX may hold
        the row (:meth:`_touch_last_sync`) as it waits for the locks ingesting
        takes (callers, calls): a reader holding those and then waiting for the
        row would close a deadlock. So the row comes first. With
        ``skip_locked`` (crons of several servers) a row another transaction
        holds, or changed since this one's snapshot, is left: False. Otherwise
        this waits for the row; a change since the snapshot is a
        ConcurrencyError, which Odoo retries on a fresh snapshot.
        """
        self.ensure_one()
        if not skip_locked:
            concurrency.lock_rows_quietly(self, "PBX read concurrently")
            return True
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM phone_pbx WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                        self.id,
                    ),
                    log_exceptions=False,
                )
                return bool(self.env.cr.fetchall())
        except errors.SerializationFailure:
            return False

    def _touch_last_sync(self):
        """Note the delivery, at most once a minute and never at the price of a
        delivery: concurrent requests of one PBX skip the row another holds,
        and a row changed since this transaction's snapshot is left as it is."""
        query = SQL(
            "UPDATE phone_pbx SET last_sync = now() AT TIME ZONE 'UTC' WHERE id IN ("
            " SELECT id FROM phone_pbx WHERE id = %s AND (last_sync IS NULL"
            " OR last_sync < now() AT TIME ZONE 'UTC' - interval '1 minute')"
            " FOR NO KEY UPDATE SKIP LOCKED)",
            self.id,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                touched = self.env.cr.rowcount
        except errors.SerializationFailure:
            return
        if touched:
            self.invalidate_recordset(["last_sync"])

    def action_regenerate_token(self):
        """A new secret, shown once in a dialog with a copy button."""
        self.ensure_one()
        self.token = secrets.token_urlsafe(32)
        shown = self.env["phone.pbx.token"].create({"pbx_id": self.id, "token": self.token})
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("New Secret Token"),
            "res_model": "phone.pbx.token",
            "res_id": shown.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
        }

    def action_pull_cdr_now(self):
        self.ensure_one()
        try:
            results = self._pull_cdr_database()
        except cdr_database.CdrDatabaseError as exc:
            raise UserError(str(exc)) from exc
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("CDR pull"),
                "message": self.env._("%s calls taken.", len(results)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_view_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "phone_call_accounting.phone_call_action"
        )
        action["domain"] = [("pbx_id", "=", self.id)]
        action["context"] = {}
        return action

    def _map_webhook_body(self, payload, fmt=None):
        """Return (items, rejections) for a decoded webhook body."""
        self.ensure_one()
        fmt = fmt or self.webhook_format
        items, rejected = [], {}
        for index, raw in enumerate(vendors.batch_items(payload, fmt)):
            try:
                items.append(vendors.map_item(raw, fmt, self.timezone, self._trunk_regexes()))
            except webhooks.MappingError as exc:
                rejected[index] = str(exc)
                items.append(None)
        return items, rejected

    def _receive_calls(self, payload, fmt=None):
        """A decoded webhook body in: one result per item, in order, mapping
        rejections merged with ingestion's. Raises MappingError for a body
        that is no batch at all."""
        self.ensure_one()
        items, mapping_errors = self._map_webhook_body(payload, fmt)
        good = [item for index, item in enumerate(items) if index not in mapping_errors]
        ingested = iter(self._ingest(good) if good else [])
        results = [
            {
                "result": "rejected",
                "external_id": None,
                "call_id": False,
                "reason": mapping_errors[index],
            }
            if index in mapping_errors
            else next(ingested)
            for index in range(len(items))
        ]
        _logger.info(
            "PBX %s delivered %d calls: %s",
            self.name,
            len(results),
            {
                kind: sum(r["result"] == kind for r in results)
                for kind in ("created", "updated", "rejected")
            },
        )
        return results

    def _receive_recording(self, external_id, body, filename=None):
        """Store an uploaded recording on this PBX's call ``external_id``.

        Raises MissingError for an unknown call, RecordingError for a body
        that is not audio or too large."""
        self.ensure_one()
        call = (
            self.env["phone.call"]
            .sudo()
            .search([("source", "=", self._source()), ("external_id", "=", external_id)], limit=1)
        )
        if not call:
            raise MissingError(
                self.env._("no call %r from this PBX; send the call first", external_id)
            )
        name = filename or call.recording or f"{external_id}.wav"
        recording = recordings.check_audio(body, name, self._recording_max_bytes())
        if not call.recording:
            call.recording = recording.filename
        call._store_recording(recording)
        return call

    def _recording_max_bytes(self):
        return max(self.recording_max_mb, 1) * 1024 * 1024

    def _fetch_recording(self, call):
        """Download ``call``'s recording as this PBX is set up to serve it."""
        if not self:
            raise recordings.RecordingError(self.env._("the call has no PBX to fetch from"))
        self.ensure_one()
        name = call.recording
        if self.recording_source == "url" and self.recording_url_template:
            url = recordings.expand(
                self.recording_url_template, name, call.call_start, call.external_id
            )
            auth = (self.recording_username, self.sudo().recording_password or "")
            return recordings.fetch_url(
                url,
                auth=auth if self.recording_username else None,
                max_bytes=self._recording_max_bytes(),
                verify=self.recording_verify_tls,
            )
        if self.recording_source == "directory" and self.recording_directory:
            return recordings.fetch_file(
                self.recording_directory, name, max_bytes=self._recording_max_bytes()
            )
        raise recordings.RecordingError(
            self.env._("PBX %s is not set up to fetch recordings", self.name)
        )

    # ------------------------------------------------------------------
    # CDR database pull
    # ------------------------------------------------------------------

    @api.model
    def _cron_pull_cdr_databases(self):
        """Pull every CDR database. Several servers' crons (or a click on Pull
        Now) pull each PBX once: one that another is pulling is skipped."""
        for pbx in self.search([("kind", "=", "cdr_database")]):
            try:
                with self.env.cr.savepoint():
                    pbx._pull_cdr_database(skip_locked=True)
            except (cdr_database.CdrDatabaseError, UserError) as exc:
                # Keep the watermark: the next run retries from the same point. A PBX
                # not set up yet (UserError) must not stop the others' pulls.
                _logger.warning("CDR pull of PBX %s failed: %s", pbx.name, exc)
                pbx.last_error = str(exc)
            except ConcurrencyError as exc:
                _logger.info("CDR pull of PBX %s left for the next run: %s", pbx.name, exc)
            self.env["ir.cron"]._commit_progress(1)

    def _cdr_db_connection(self):
        """How to reach the PBX's CDR database (where its queue log table is too)."""
        if not self.cdr_db_host and not self.cdr_db_name:
            raise UserError(self.env._("Set the CDR database of %s first.", self.name))
        return {
            "host": self.cdr_db_host,
            "port": self.cdr_db_port,
            "dbname": self.cdr_db_name,
            "user": self.cdr_db_user,
            "password": self.sudo().cdr_db_password,
        }

    def _pull_cdr_database(self, limit=5000, skip_locked=False):
        """Pull the rows that ended after the watermark and ingest their calls;
        their results, or None when ``skip_locked`` and another transaction is
        pulling (:meth:`_lock_for_pull`)."""
        self.ensure_one()
        connection = self._cdr_db_connection()
        if not self._lock_for_pull(skip_locked):
            return None
        source = cdr_database.CdrSource(**connection, table=self.cdr_db_table or "cdr")
        since = self.cdr_watermark or fields.Datetime.now() - timedelta(days=30)
        batch = source.pull(
            since=since,
            settle_seconds=self.cdr_settle_seconds,
            limit=limit,
            timezone=self.timezone,
            trunks=self._trunk_regexes(),
        )
        results = self._ingest(batch.calls) if batch.calls else []
        errors = [str(error) for error in batch.errors] + [
            f"call {result['external_id']}: {result['reason']}"
            for result in results
            if result["result"] == "rejected"
        ]
        self.write(
            {
                "cdr_watermark": batch.watermark or self.cdr_watermark,
                "last_sync": fields.Datetime.now(),
                "last_error": "\n".join(errors) or False,
            }
        )
        return results
