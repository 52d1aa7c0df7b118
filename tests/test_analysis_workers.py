import io
import random
import struct
import threading
import time
import wave
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged

from ..pbx.recordings import Recording
from .common import make_pbx, no_cron_commits

CALLS = 12


def noise_wav(seconds=2, rate=8000):
    """A second of noise, a second of silence, and so on: audio any host can measure."""
    rng = random.Random(seconds)
    samples = (
        int(rng.gauss(0, 6000)) if (i // rate) % 2 == 0 else 0 for i in range(seconds * rate)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, s))) for s in samples))
    return buffer.getvalue()


def without_queue_jobs(test):
    """The scheduled actions' own path, also in a database where queue_job is
    installed (where each pending call would otherwise be left to its job)."""
    patcher = patch.object(type(test.env["phone.call"]), "_queue_jobs_enabled", lambda self: False)
    patcher.start()
    test.addCleanup(patcher.stop)


def item(external_id, recording="call.wav", number="+31205550101"):
    return {
        "external_id": external_id,
        "direction": "incoming",
        "status": "answered",
        "from_number": number,
        "start": "2026-11-20T10:00:00Z",
        "talk_seconds": 10,
        "recording": recording,
    }


@tagged("post_install", "-at_install")
class TestAnalysisWorkers(TransactionCase):
    """Two cron workers, each in a transaction of its own that commits, run the
    claiming loop over the same pending recordings at the same moment.

    Each worker waits on its first call until the other has one too: both hold a
    claimed batch at once, which a claim that blocks on the other's locks (or
    skips nothing) could not do.
    """

    def setUp(self):
        super().setUp()
        without_queue_jobs(self)
        self.block = random.Random().randrange(100000, 999999)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pbx = make_pbx(env, name=f"Workers PBX {self.block}")
            # A number no other test uses: the caller created for it is committed.
            self.number = f"+3120{self.block}9"
            results = pbx._ingest(
                [item(f"wk{self.block}-{n}", number=self.number) for n in range(CALLS)]
            )
            self.pbx_id, self.call_ids = pbx.id, [r["call_id"] for r in results]
        self.addCleanup(self.clean_up)

    def clean_up(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            calls = env["phone.call"].browse(self.call_ids)
            callers = calls.partner_id
            calls.unlink()
            env["phone.pbx"].browse(self.pbx_id).unlink()
            callers.with_context(active_test=False).unlink()

    def run_workers(self, method, entry_point, done_values, workers=2, batch_size=2):
        """Run ``phone.call.<method>`` in ``workers`` threads at once with
        ``entry_point`` (the per-call work) recording the calls it is given."""
        worked, lock, failures = [], threading.Lock(), []
        start = threading.Barrier(workers)
        both_working = threading.Barrier(workers)
        local = threading.local()

        def work(call):
            with lock:
                worked.append(call.id)
            if not getattr(local, "waited", False):
                local.waited = True
                both_working.wait(timeout=60)
            time.sleep(0.01)
            call.write(done_values)

        def worker():
            try:
                with self.registry.cursor() as cr:
                    cr.transaction = Transaction(self.registry)
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    start.wait(timeout=60)
                    getattr(env["phone.call"], method)(batch_size=batch_size)
            except Exception as exc:  # noqa: BLE001 - reported by the test below
                failures.append(repr(exc))
                both_working.abort()

        threads = [threading.Thread(target=worker) for _i in range(workers)]
        with (
            patch.object(type(self.env["phone.call"]), entry_point, work),
            self.assertNoLogs(level="ERROR"),
        ):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=180)
        self.assertFalse([t for t in threads if t.is_alive()], "a worker hung")
        self.assertFalse(failures, "a worker failed")
        return worked

    def test_two_workers_analyse_each_recording_once(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["phone.call"].browse(self.call_ids).write(
                {"recording_state": "downloaded", "recording_downloaded": True}
            )
            env["phone.call"].browse(self.call_ids).write({"analysis_state": "pending"})
        analysed = self.run_workers(
            "_cron_analyse_recordings", "_analyse_recording", {"analysis_state": "done"}
        )
        self.assertEqual(len(analysed), len(set(analysed)), "a recording analysed twice")
        self.assertEqual(sorted(set(analysed) & set(self.call_ids)), sorted(self.call_ids))
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            states = env["phone.call"].browse(self.call_ids).mapped("analysis_state")
            self.assertEqual(set(states), {"done"})

    def test_two_workers_download_each_recording_once(self):
        downloaded = self.run_workers(
            "_cron_download_recordings", "_download_recording", {"recording_state": "downloaded"}
        )
        self.assertEqual(len(downloaded), len(set(downloaded)), "a recording fetched twice")
        self.assertEqual(sorted(set(downloaded) & set(self.call_ids)), sorted(self.call_ids))

    def test_claim_after_a_concurrent_change_takes_a_new_snapshot(self):
        """A worker whose snapshot predates another's commit on a pending call
        (REPEATABLE READ refuses to lock it) commits and claims again, silently."""
        first = min(self.call_ids)
        with self.registry.cursor() as late, self.registry.cursor() as quick:
            late.transaction = Transaction(self.registry)
            quick.transaction = Transaction(self.registry)
            late_env = api.Environment(late, SUPERUSER_ID, {})
            quick_env = api.Environment(quick, SUPERUSER_ID, {})
            late.execute("SELECT 1")  # its snapshot, taken before the other commits
            Call = quick_env["phone.call"]
            taken = Call._claim_due(Call._recordings_due_sql(), "download", 1)
            self.assertEqual(taken.ids, [first])
            taken.write({"recording_state": "downloaded"})
            quick.commit()
            with self.assertNoLogs(level="ERROR"):
                Late = late_env["phone.call"]
                claimed = Late._claim_due(Late._recordings_due_sql(), "download", CALLS)
            self.assertNotIn(first, claimed.ids)
            self.assertEqual(sorted(claimed.ids), sorted(set(self.call_ids) - {first}))


@tagged("post_install", "-at_install")
class TestAnalysisJobs(TransactionCase):
    """With OCA queue_job installed: one job per call on the phone channel."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "queue.job" not in cls.env:
            return
        cls.env.company.phone_transcription = False
        cls.pbx = make_pbx(cls.env)
        cls.Call = cls.env["phone.call"]

    def setUp(self):
        super().setUp()
        if "queue.job" not in self.env:
            self.skipTest("queue_job is not installed in this database")
        no_cron_commits(self)
        self.fetched = []

        def fetch(pbx, call):
            self.fetched.append(call.id)
            return Recording(noise_wav(), "audio/wav", call.recording)

        patcher = patch.object(type(self.env["phone.pbx"]), "_fetch_recording", fetch)
        patcher.start()
        self.addCleanup(patcher.stop)

    def ingest(self, external_id):
        result = self.pbx._ingest([item(external_id)])[0]
        return self.Call.browse(result["call_id"])

    def jobs(self, call, kind):
        return self.env["queue.job"].search(
            [("identity_key", "=", f"phone_call_accounting.{kind}:{call.id}")]
        )

    def test_download_and_analysis_run_as_jobs_end_to_end(self):
        from odoo.addons.queue_job.tests.common import trap_jobs  # queue_job is optional

        with trap_jobs() as trap:
            call = self.ingest("job-1")
            trap.assert_jobs_count(1, only=call._job_download)
            trap.assert_enqueued_job(call._job_download, properties={"channel": "root.phone"})
            trap.perform_enqueued_jobs()
            self.assertEqual(call.recording_state, "downloaded")
            trap.assert_jobs_count(1, only=call._job_analyse)
            trap.assert_enqueued_job(call._job_analyse, properties={"channel": "root.phone"})
            trap.perform_enqueued_jobs()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        self.assertAlmostEqual(call.audio_seconds, 2.0, delta=0.05)
        self.assertEqual(self.fetched, [call.id])

    def test_crons_leave_queued_calls_to_their_jobs(self):
        from odoo.addons.queue_job.job import Job  # queue_job is optional

        call = self.ingest("job-2")
        job = self.jobs(call, "download")
        self.assertEqual((len(job), job.channel, job.state), (1, "root.phone", "pending"))
        call.write({"recording_state": "pending"})
        self.assertEqual(len(self.jobs(call, "download")), 1, "one job per call and work")
        self.Call._cron_download_recordings()
        self.assertEqual(call.recording_state, "pending", "the job's to do")
        Job.load(self.env, job.uuid).perform()
        self.assertEqual(call.recording_state, "downloaded")
        analyse = self.jobs(call, "analyse")
        self.assertEqual(len(analyse), 1)
        # A job the runner never started: after the grace the cron takes the call,
        # and the late job finds nothing left to do.
        self.env.cr.execute(
            "UPDATE queue_job SET date_created = now() - interval '2 hours' WHERE id = %s",
            [analyse.id],
        )
        self.Call._cron_analyse_recordings()
        self.assertEqual(call.analysis_state, "done", call.analysis_error)
        with patch.object(type(self.Call), "_analyse_recording") as analyse_again:
            Job.load(self.env, analyse.uuid).perform()
        analyse_again.assert_not_called()
        self.assertEqual(self.fetched, [call.id])
