import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..pbx.testing.speech import spoken_wav, tools_missing
from .common import make_pbx, no_cron_commits
from .test_analysis_workers import without_queue_jobs

WAV = spoken_wav()


class PbxWebServer(BaseHTTPRequestHandler):
    """A PBX's web server on 127.0.0.1 serving recordings, good and bad."""

    files = {
        "/rec/ok.wav": WAV,
        "/rec/corrupt.wav": b"\x00garbage, not audio" * 10,
        "/rec/empty.wav": b"",
        "/rec/huge.wav": WAV[:44] + b"\x00" * (1024 * 1024 + 10),
    }

    def do_GET(self):
        self.server.requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestRecordings(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), PbxWebServer)
        cls.httpd.requests = []
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.httpd.server_close)
        cls.addClassCleanup(cls.httpd.shutdown)
        cls.pbx = make_pbx(
            cls.env,
            recording_source="url",
            recording_url_template=f"http://127.0.0.1:{cls.httpd.server_port}/rec/{{name}}",
            recording_max_mb=1,
        )
        cls.Call = cls.env["phone.call"]
        cls.manager = new_test_user(
            cls.env, "rec_manager", groups="phone_call_accounting.group_phone_manager"
        )
        cls.plain = new_test_user(cls.env, "rec_plain", groups="base.group_user")

    def setUp(self):
        super().setUp()
        no_cron_commits(self)
        without_queue_jobs(self)

    def ingest(self, external_id, recording, **values):
        item = {
            "external_id": external_id,
            "direction": "incoming",
            "status": "answered",
            "from_number": "+31205550101",
            "start": "2026-11-20T10:00:00Z",
            "talk_seconds": 30,
            "recording": recording,
        } | values
        result = self.pbx._ingest([item])[0]
        self.assertIn(result["result"], ("created", "updated"), result)
        return self.Call.browse(result["call_id"])

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_call")
    def test_download_cron_survives_every_failure(self):
        ok = self.ingest("r-ok", "ok.wav")
        missing = self.ingest("r-404", "missing.wav")
        corrupt = self.ingest("r-corrupt", "corrupt.wav")
        empty = self.ingest("r-empty", "empty.wav")
        huge = self.ingest("r-huge", "huge.wav")
        none = self.ingest("r-none", "")
        self.assertEqual(ok.recording_state, "pending")
        self.assertEqual(none.recording_state, "none")
        self.Call._cron_download_recordings(batch_size=2)

        self.assertTrue(ok.recording_downloaded)
        self.assertEqual(ok.recording_state, "downloaded")
        self.assertEqual(ok.recording_attachment_id.raw, WAV)
        self.assertEqual(ok.recording_attachment_id.mimetype, "audio/wav")
        self.assertEqual(
            (ok.recording_attachment_id.res_model, ok.recording_attachment_id.res_id),
            ("phone.call", ok.id),
        )
        # A 404 may be a file the PBX has not written yet: retried later.
        self.assertEqual(missing.recording_state, "pending")
        self.assertIn("404", missing.recording_error)
        self.assertEqual(missing.recording_attempts, 1)
        self.assertGreater(missing.recording_next_try, fields.Datetime.now())
        for call, reason in (
            (corrupt, "not an audio file"),
            (empty, "empty"),
            (huge, "larger than"),
        ):
            self.assertEqual(call.recording_state, "failed", call.recording)
            self.assertIn(reason, call.recording_error)
            self.assertFalse(call.recording_downloaded)
        self.assertFalse(none.recording_attachment_id)

        # Not due yet: the next run leaves it; once due, it is tried again.
        self.Call._cron_download_recordings()
        self.assertEqual(missing.recording_attempts, 1)
        missing.recording_next_try = fields.Datetime.now() - timedelta(seconds=1)
        PbxWebServer.files["/rec/missing.wav"] = WAV
        self.addCleanup(PbxWebServer.files.pop, "/rec/missing.wav")
        self.Call._cron_download_recordings()
        self.assertTrue(missing.recording_downloaded)
        self.assertFalse(missing.recording_error)

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_call")
    def test_retries_stop_after_the_last_attempt(self):
        call = self.ingest("r-gone", "gone.wav")
        for _attempt in range(8):
            call.recording_next_try = False
            self.Call._cron_download_recordings()
        self.assertEqual(call.recording_state, "failed")
        self.assertEqual(call.recording_attempts, 8)
        call.action_retry_recording()
        self.assertEqual((call.recording_state, call.recording_attempts), ("pending", 0))

    def test_claims_take_the_calls_the_due_rule_finds(self):
        """The due rule is written once, as a domain: the cron's count and search and the
        claims' SQL (``_recordings_due_sql``) select the same calls."""
        now = fields.Datetime.now()
        calls = {
            "new": self.ingest("r-due-new", "a.wav"),
            "retry-now": self.ingest("r-due-past", "b.wav"),
            "retry-later": self.ingest("r-due-later", "c.wav"),
            "failed": self.ingest("r-due-failed", "d.wav"),
            "none": self.ingest("r-due-none", ""),
        }
        calls["retry-now"].recording_next_try = now - timedelta(seconds=1)
        calls["retry-later"].recording_next_try = now + timedelta(minutes=5)
        calls["failed"].recording_state = "failed"
        ids = [call.id for call in calls.values()]

        def claimed():
            return {
                name
                for name, call in calls.items()
                if call in self.Call._claim_due(self.Call._recordings_due_sql(), "download", 10)
            }

        def found():
            domain = [("id", "in", ids), *self.Call._recordings_due_domain()]
            return {name for name, call in calls.items() if call in self.Call.search(domain)}

        self.assertEqual(found(), {"new", "retry-now"})
        self.assertEqual(claimed(), found())
        # A rule changed in its one place changes the claims.
        failed = [("recording_state", "=", "failed")]
        with patch.object(type(self.Call), "_recordings_due_domain", lambda self: failed):
            self.assertEqual(found(), {"failed"})
            self.assertEqual(claimed(), {"failed"})
        with self.assertRaisesRegex(ValueError, "the call's own columns"):
            self.Call._due_sql([("partner_id.name", "=", "x")])

    def test_redelivery_keeps_the_downloaded_recording(self):
        call = self.ingest("r-keep", "ok.wav")
        self.Call._cron_download_recordings()
        self.ingest("r-keep", "ok.wav", talk_seconds=31)
        self.assertEqual(call.recording_state, "downloaded")
        self.ingest("r-keep", "other.wav")
        self.assertEqual(call.recording_state, "pending")

    def test_player_route_checks_access(self):
        call = self.ingest("r-play", "ok.wav")
        self.Call._cron_download_recordings()
        url = call.recording_url
        self.assertEqual(url, f"/phone_call_accounting/call/{call.id}/recording")
        self.authenticate("rec_manager", "rec_manager")
        answer = self.url_open(url)
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(answer.headers["Content-Type"], "audio/wav")
        self.assertEqual(answer.content, WAV)
        download = self.url_open(url + "?download=1")
        self.assertIn("attachment", download.headers["Content-Disposition"])
        self.authenticate("rec_plain", "rec_plain")
        self.assertEqual(self.url_open(url).status_code, 404)
        self.authenticate(None, None)
        self.assertNotEqual(self.url_open(url, allow_redirects=False).status_code, 200)

    def test_retention_deletes_recordings_not_calls(self):
        old = self.ingest("r-old", "ok.wav", start="2026-01-01T10:00:00Z")
        recent = self.ingest("r-recent", "ok.wav", start=fields.Datetime.now().isoformat() + "Z")
        self.Call._cron_download_recordings()
        attachment = old.recording_attachment_id
        self.env.company.phone_recording_retention_days = 30
        self.Call._cron_purge_recordings()
        self.assertTrue(old.exists())
        self.assertEqual(old.recording_state, "deleted")
        self.assertFalse(old.recording_downloaded)
        self.assertFalse(attachment.exists())
        self.assertTrue(recent.recording_downloaded)

    @mute_logger("odoo.http")
    def test_upload_through_the_webhook(self):
        call = self.ingest("r-up", "")
        url = f"/phone_call_accounting/pbx/{self.pbx.id}/calls/r-up/recording?filename=up.wav"
        headers = {"Authorization": f"Bearer {self.pbx.token}", "Content-Type": "audio/wav"}
        self.assertEqual(self.url_open(url, data=WAV, headers={}).status_code, 401)
        wrong = headers | {"Authorization": "Bearer nope"}
        self.assertEqual(self.url_open(url, data=WAV, headers=wrong).status_code, 403)
        self.assertEqual(self.url_open(url, data=b"MZ not audio", headers=headers).status_code, 415)
        too_big = WAV[:44] + b"\x00" * (1024 * 1024 + 1)
        self.assertEqual(self.url_open(url, data=too_big, headers=headers).status_code, 413)
        other = url.replace("r-up", "r-unknown")
        self.assertEqual(self.url_open(other, data=WAV, headers=headers).status_code, 404)
        self.assertFalse(call.recording_downloaded)
        answer = self.url_open(url, data=WAV, headers=headers)
        self.assertEqual(answer.status_code, 200, answer.text)
        call.invalidate_recordset()
        self.assertTrue(call.recording_downloaded)
        self.assertEqual(call.recording, "up.wav")
        self.assertEqual(call.recording_attachment_id.raw, WAV)

    def test_recording_plays_in_the_browser(self):
        if tools_missing():
            self.skipTest(f"needs {', '.join(tools_missing())}")
        self.env["phone.keyword"].create({"name": "lawyer"})
        call = self.ingest("r-tour", "ok.wav", start=fields.Datetime.now().isoformat() + "Z")
        self.Call._cron_download_recordings()
        self.assertTrue(call.recording_downloaded)
        self.Call._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.start_tour(
            f"/odoo/action-phone_call_accounting.phone_call_action/{call.id}",
            "phone_call_accounting_recording_tour",
            login="admin",
        )
