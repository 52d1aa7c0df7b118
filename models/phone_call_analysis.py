import logging
import os
import tempfile
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.tools import SQL, html_escape

from ..pbx.analysis import audio, client, transcribe
from ..pbx.analysis.keywords import find_keywords

_logger = logging.getLogger(__name__)

MAX_ANALYSIS_ATTEMPTS = 3


class PhoneCall(models.Model):
    """Recordings measured, transcribed and matched to keywords."""

    _inherit = "phone.call"

    analysis_state = fields.Selection(
        [
            ("none", "Not Analysed"),
            ("pending", "To Analyse"),
            ("done", "Analysed"),
            ("no_audio", "No Audio"),
            ("failed", "Error"),
        ],
        default="none",
        required=True,
        readonly=True,
        copy=False,
    )
    analysis_error = fields.Char(readonly=True, copy=False)
    analysis_attempts = fields.Integer(readonly=True, copy=False)
    analysis_next_try = fields.Datetime(readonly=True, copy=False)
    audio_seconds = fields.Float(string="Recording Length", readonly=True, aggregator="sum")
    talk_seconds_measured = fields.Float(string="Measured Talk", readonly=True, aggregator="sum")
    silence_seconds = fields.Float(string="Silence", readonly=True, aggregator="sum")
    silence_ratio = fields.Float(
        readonly=True, aggregator="avg", help="Silence / recording length."
    )
    longest_silence = fields.Float(readonly=True, aggregator="max")
    long_silence_count = fields.Integer(
        string="Long Silences",
        readonly=True,
        help="Silences at least the company's threshold long.",
    )
    audio_channels = fields.Integer(readonly=True)
    side_a_talk_share = fields.Float(
        string="Left Side Talk Share",
        readonly=True,
        aggregator="avg",
        help="Share of the talk on the left channel (on MixMonitor: what the recorded channel "
        "heard, usually the other party). Empty for mono recordings.",
    )
    side_b_talk_share = fields.Float(
        string="Right Side Talk Share", readonly=True, aggregator="avg"
    )
    overtalk_seconds = fields.Float(
        string="Overtalk", readonly=True, aggregator="sum", help="Both sides speaking at once."
    )
    transcript = fields.Text(readonly=True, copy=False)
    # Tracked: the chatter says what was mentioned under the field's label,
    # which each reader sees in their own language.
    keyword_ids = fields.Many2many(
        "phone.keyword", string="Mentions", readonly=True, copy=False, tracking=True
    )
    # [{"keyword", "start", "end", "heard", "source"}]: where each keyword was said
    keyword_hits = fields.Json(readonly=True, copy=False)
    keyword_hits_html = fields.Html(
        string="Mentioned At", compute="_compute_keyword_hits_html", sanitize=False
    )
    keyword_review_scheduled = fields.Boolean(readonly=True, copy=False)

    # The crons look for the few calls still to work on: partial indexes stay small
    # and most inserted calls never enter them.
    _analysis_pending_idx = models.Index("(id) WHERE analysis_state = 'pending'")

    @api.depends("keyword_hits")
    def _compute_keyword_hits_html(self):
        second_listen = self.env._("second listen")
        heading = "".join(
            f"<th class='pe-3'>{html_escape(label)}</th>"
            for label in (
                self.env._("At"),
                self.env._("Keyword"),
                self.env._("Heard in the Conversation"),
            )
        )
        heading = f"<thead><tr>{heading}</tr></thead>"
        for call in self:
            rows = []
            for hit in call.keyword_hits or []:
                start = hit.get("start")
                at = "–" if start is None else f"{int(start // 60)}:{start % 60:04.1f}"
                if start is not None:
                    # The form's player starts from here when the time is clicked.
                    at = (
                        f"<a href='#' role='button' class='o_phone_hit_time'"
                        f" data-seconds='{float(start)}'>{at}</a>"
                    )
                source = "" if hit.get("source") == "transcript" else f" ({second_listen})"
                rows.append(
                    f"<tr><td class='pe-3 text-nowrap'>{at}</td>"
                    f"<td class='pe-3'>{html_escape(hit.get('keyword') or '')}</td>"
                    f"<td class='text-muted'>{html_escape(hit.get('heard') or '')}"
                    f"{html_escape(source)}</td></tr>"
                )
            call.keyword_hits_html = (
                f"<table class='o_phone_keyword_hits'>{heading}{''.join(rows)}</table>"
                if rows
                else False
            )

    # ------------------------------------------------------------------
    # Conversation analysis
    # ------------------------------------------------------------------

    def write(self, vals):
        result = super().write(vals)
        if vals.get("analysis_state") == "pending":
            self._enqueue_work("analyse")
        return result

    @api.model
    def _cron_analyse_recordings(self, batch_size=5):
        """Measure, transcribe and flag downloaded recordings, a small claimed
        batch at a time: the claimed calls stay locked until the batch is
        committed, so workers running this at once never analyse a call twice."""
        cron = self.env["ir.cron"]
        domain = [
            ("analysis_state", "=", "pending"),
            ("recording_downloaded", "=", True),
            "|",
            ("analysis_next_try", "=", False),
            ("analysis_next_try", "<=", fields.Datetime.now()),
        ]
        cron._commit_progress(remaining=self.search_count(domain))
        seen = set()
        while calls := self._claim_due(self._analysis_due_sql(), "analyse", batch_size, seen):
            seen.update(calls.ids)
            for call in calls:
                call._analyse_recording()
            if not cron._commit_progress(len(calls)):
                break

    @api.model
    def _analysis_due_sql(self):
        return SQL(
            "analysis_state = 'pending' AND recording_downloaded"
            " AND (analysis_next_try IS NULL OR analysis_next_try <= %s)",
            fields.Datetime.now(),
        )

    def _job_analyse(self):
        """Analyse the call's recording"""
        claimed = self._claim_due(
            SQL("id = ANY(%s::int[]) AND %s", self.ids, self._analysis_due_sql()),
            "analyse",
            len(self),
            cron=False,
        )
        for call in claimed:
            call._analyse_recording()

    def _analyse_recording(self):
        self.ensure_one()
        company = self.company_id
        attachment = self.recording_attachment_id.sudo()
        if not attachment.file_size:
            self._analysis_failed(self.env._("the recording is empty"), state="no_audio")
            return
        suffix = os.path.splitext(attachment.name or "")[1] or ".wav"
        try:
            with tempfile.NamedTemporaryFile(suffix=suffix) as handle:
                handle.write(attachment.raw or b"")
                handle.flush()
                figures = audio.analyse(
                    handle.name, long_silence=max(company.phone_long_silence_seconds, 1)
                )
                text, hits = "", []
                if company.phone_transcription:
                    text, hits = self._transcribe_and_spot(handle.name)
        except audio.AudioError as exc:
            # An unreadable file stays unreadable: no retry.
            no_audio = "no audio" in str(exc) or "empty file" in str(exc)
            self._analysis_failed(str(exc), state="no_audio" if no_audio else "failed")
            return
        except client.SpeechServiceUnavailable as exc:
            # Nothing was tried on the recording: it waits for the next run.
            self._analysis_postponed(str(exc))
            return
        except transcribe.TranscriptionError as exc:
            self._analysis_failed(str(exc), retry=True)
            return
        except Exception as exc:
            _logger.exception("Recording of call %s could not be analysed", self.id)
            self._analysis_failed(str(exc), retry=True)
            return
        self._store_analysis(figures, text, hits)

    def _transcribe_and_spot(self, path):
        """The transcript's text and the keyword hits, a second listen for
        the keywords the transcript missed where the language has an engine
        that can (a Vosk grammar). The models live in this machine's speech
        process (pbx/analysis/service.py), started on demand: the worker
        stays under Odoo's memory limits whatever the language."""
        engine, language = self._speech_settings()
        names = self._phone_keywords().mapped("name")
        transcript, hits = client.analyse(
            path, engine, language, names, second_listen=self.company_id.phone_second_listen
        )
        return transcript.text, hits

    def _speech_settings(self):
        """(engine, language) of this call: its PBX's when set, else its company's."""
        if self.pbx_id:
            return self.pbx_id.with_company(self.company_id)._speech_settings()
        company = self.company_id
        return company.phone_transcription_backend, company.phone_transcription_language

    def _phone_keywords(self):
        return self.env["phone.keyword"].search([("company_id", "=", self.company_id.id)])

    def _analysis_postponed(self, reason):
        """The speech process could not be reached: the call stays pending,
        without an attempt counted, for the next run of the analysis."""
        _logger.warning("Recording of call %s left for the next run: %s", self.id, reason)
        self.write(
            {
                "analysis_error": self.env._("Waiting for the speech process: %s", reason)[:255],
                "analysis_next_try": False,
            }
        )

    def _analysis_failed(self, reason, state="failed", retry=False):
        """Record why; a passing failure (engine, memory) is tried again later."""
        attempts = self.analysis_attempts + 1
        values = {"analysis_error": reason[:255], "analysis_attempts": attempts}
        if retry and attempts < MAX_ANALYSIS_ATTEMPTS:
            values["analysis_next_try"] = fields.Datetime.now() + timedelta(minutes=10 * attempts)
        else:
            values.update(analysis_state=state, analysis_next_try=False)
        self.write(values)

    def _store_analysis(self, figures, text, hits=None):
        """``hits``: :class:`~..pbx.analysis.keywords.Hit` list; without it the
        keywords are looked for in ``text``, with no times."""
        self.ensure_one()
        keywords = self._phone_keywords()
        language = self._speech_settings()[1]
        if hits is None:
            found = set(find_keywords(text, keywords.mapped("name"), language)) if text else set()
            hits = []
        else:
            found = {hit.keyword for hit in hits}
        flagged = keywords.filtered(lambda k: " ".join(k.name.split()) in found)
        self.write(
            {
                "analysis_state": "done",
                "analysis_error": False,
                "analysis_next_try": False,
                "audio_seconds": figures.duration,
                "talk_seconds_measured": figures.talk_seconds,
                "silence_seconds": figures.silence_seconds,
                "silence_ratio": figures.silence_ratio,
                "longest_silence": figures.longest_silence,
                "long_silence_count": figures.long_silences,
                "audio_channels": figures.channels,
                "side_a_talk_share": figures.left_talk_share or 0.0,
                "side_b_talk_share": figures.right_talk_share or 0.0,
                "overtalk_seconds": figures.overtalk_seconds or 0.0,
                "transcript": text or False,
                "keyword_ids": [Command.set(flagged.ids)],
                "keyword_hits": [
                    {
                        "keyword": hit.keyword,
                        "start": hit.start,
                        "end": hit.end,
                        "heard": hit.heard,
                        "source": hit.source,
                    }
                    for hit in hits
                ]
                or False,
            }
        )
        reviewer = self.company_id._phone_review_users()[:1]
        if flagged.filtered("review") and reviewer and not self.keyword_review_scheduled:
            # The activity type's name says what to do, shown in each reader's
            # language; the summary holds only the company's own words.
            self.activity_schedule(
                "phone_call_accounting.mail_activity_type_keyword_review",
                summary=", ".join(flagged.mapped("name")),
                note="",
                user_id=reviewer.id,
                date_deadline=fields.Date.context_today(self),
            )
            self.keyword_review_scheduled = True

    def action_analyse_again(self):
        self.filtered("recording_downloaded").write(
            {
                "analysis_state": "pending",
                "analysis_error": False,
                "analysis_attempts": 0,
                "analysis_next_try": False,
            }
        )
