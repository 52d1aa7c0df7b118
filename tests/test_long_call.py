import re
from unittest.mock import patch

from odoo.tests import tagged

from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestLongCall(PhoneCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.review_type = cls.env.ref("phone_call_accounting.mail_activity_type_long_call_review")

    def setUp(self):
        super().setUp()
        self.progress = []
        cron_class = type(self.env["ir.cron"])

        def commit_progress(cron, processed=0, *, remaining=None, deactivate=False):
            # The real one commits; a test transaction must not.
            self.progress.append((processed, remaining))
            return float("inf")

        patcher = patch.object(cron_class, "_commit_progress", commit_progress)
        patcher.start()
        self.addCleanup(patcher.stop)

    def reviews(self, calls):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "phone.call"),
                ("res_id", "in", calls.ids),
                ("activity_type_id", "=", self.review_type.id),
            ]
        )

    def test_threshold_marks_too_long(self):
        short = self.ingest_one(talk_seconds=self.minutes(10))
        long = self.ingest_one(talk_seconds=self.minutes(10) + 1)
        self.assertFalse(short.is_too_long)
        self.assertTrue(long.is_too_long)

    def test_zero_threshold_disables(self):
        self.company.phone_long_call_minutes = 0
        self.assertFalse(self.ingest_one(talk_seconds=self.minutes(90)).is_too_long)

    def test_redelivery_with_longer_talk_becomes_too_long(self):
        item = self.call(talk_seconds=60)
        self.ingest(item)
        item["talk_seconds"] = self.minutes(20)
        call = self.Call.browse(self.ingest(item)[0]["call_id"])
        self.assertTrue(call.is_too_long)

    def test_cron_gives_exactly_one_review_activity(self):
        self.company.phone_reviewer_id = self.manager
        long_calls = self.Call.browse(
            [
                r["call_id"]
                for r in self.ingest(*[self.call(talk_seconds=self.minutes(15)) for _ in range(5)])
            ]
        )
        short = self.ingest_one(talk_seconds=30)
        self.Call._cron_schedule_long_call_reviews(batch_size=2)
        activities = self.reviews(long_calls)
        self.assertEqual(len(activities), 5)
        self.assertEqual(activities.user_id, self.manager)
        self.assertEqual(set(activities.mapped("res_id")), set(long_calls.ids))
        self.assertFalse(self.reviews(short))
        self.assertTrue(all(long_calls.mapped("review_scheduled")))
        # Batches of two report their progress: 2 + 2 + 1.
        self.assertEqual(self.progress[0], (0, 5))
        self.assertEqual([p for p, _r in self.progress[1:]], [2, 2, 1])

        self.Call._cron_schedule_long_call_reviews()
        self.assertEqual(len(self.reviews(long_calls)), 5, "a second run adds nothing")
        activities[0].action_feedback(feedback="Checked")
        self.Call._cron_schedule_long_call_reviews()
        self.assertEqual(len(self.reviews(long_calls)), 4, "a done review is not given again")

    def test_cron_without_reviewer_goes_to_a_phone_manager(self):
        call = self.ingest_one(talk_seconds=self.minutes(15))
        self.Call._cron_schedule_long_call_reviews()
        review = self.reviews(call)
        self.assertEqual(len(review), 1, "a fresh install has no reviewer: nothing waits unseen")
        self.assertTrue(review.user_id.has_group("phone_call_accounting.group_phone_manager"))
        self.assertIn(self.company, review.user_id.company_ids)
        self.assertTrue(call.review_scheduled)

    def test_cron_with_nobody_to_review_waits(self):
        managers = self.env.ref("phone_call_accounting.group_phone_manager")
        managers.user_ids.group_ids -= managers
        call = self.ingest_one(talk_seconds=self.minutes(15))
        self.Call._cron_schedule_long_call_reviews()
        self.assertFalse(self.reviews(call))
        self.assertFalse(call.review_scheduled)
        self.company.phone_reviewer_id = self.agent
        self.Call._cron_schedule_long_call_reviews()
        self.assertEqual(self.reviews(call).user_id, self.agent)

    def test_review_reads_in_each_readers_language(self):
        """Scheduled while the reviewer reads English (as at install), read in
        Korean later: what it says comes from the translated activity type; the
        stored summary holds figures only."""
        self.env["res.lang"]._activate_lang("ko_KR")
        self.env["ir.module.module"]._load_module_terms(
            ["phone_call_accounting"], ["ko_KR"], overwrite=True
        )
        self.company.phone_reviewer_id = self.manager
        call = self.ingest_one(talk_seconds=self.minutes(47) + 5)
        self.Call._cron_schedule_long_call_reviews()
        self.manager.lang = "ko_KR"
        review = self.reviews(call).with_user(self.manager).with_context(lang="ko_KR")
        self.assertEqual(review.activity_type_id.name, "장시간 통화 검토")
        self.assertEqual(review.summary, "0:47:05")
        self.assertFalse(re.search(r"[A-Za-z]", review.summary + str(review.note or "")))

    def test_cron_record_runs_the_method(self):
        cron = self.env.ref("phone_call_accounting.ir_cron_phone_long_call_review")
        self.assertEqual(cron.code.strip(), "model._cron_schedule_long_call_reviews()")
        self.assertEqual(cron.model_id.model, "phone.call")
        self.assertTrue(cron.active)
