from odoo import fields
from odoo.tests import new_test_user, tagged

from .common import PhoneCase, no_cron_commits


@tagged("post_install", "-at_install")
class TestCallbacks(PhoneCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.callback_type = cls.env.ref("phone_call_accounting.mail_activity_type_callback")
        cls.salesperson = new_test_user(cls.env, "seller", groups="base.group_user")

    def callbacks(self, partner=None):
        partner = partner or self.client
        return partner.activity_ids.filtered(lambda a: a.activity_type_id == self.callback_type)

    def done_callbacks(self, partner=None):
        partner = partner or self.client
        return (
            self.env["mail.activity"]
            .with_context(active_test=False)
            .search(
                [
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("activity_type_id", "=", self.callback_type.id),
                    ("active", "=", False),
                ]
            )
        )

    def setUp(self):
        super().setUp()
        no_cron_commits(self)

    def missed(self, minute, **values):
        call = self._missed(minute, **values)
        self.Call._cron_open_callback_activities()
        return call

    def _missed(self, minute, **values):
        return self.ingest_one(
            status="missed",
            talk_seconds=0,
            extension="",
            first_extension="202",
            start=self.utc(2026, 11, 20, 9, minute).isoformat(),
            **values,
        )

    def test_missed_calls_make_one_callback_for_the_rung_user(self):
        first = self.missed(0)
        second = self.missed(5)
        self.assertEqual((first.callback_state, second.callback_state), ("pending", "pending"))
        activity = self.callbacks()
        self.assertEqual(len(activity), 1, "several missed calls, one activity")
        self.assertEqual(activity.user_id, self.agent, "the user of the extension that rang")
        self.assertEqual(activity.date_deadline, fields.Date.context_today(activity))
        self.assertEqual(self.Call.phone_callback_count(), 2)

    def test_salesperson_gets_the_callback(self):
        self.client.user_id = self.salesperson
        self.missed(0)
        self.assertEqual(self.callbacks().user_id, self.salesperson)

    def test_outgoing_answered_callback_closes_it(self):
        missed = self.missed(0)
        self.missed(3)
        callback = self.ingest_one(
            direction="outgoing",
            from_number="201",
            to_number="020 555 0101",
            start=self.utc(2026, 11, 20, 9, 30).isoformat(),
        )
        self.assertEqual(missed.callback_state, "done")
        self.assertEqual(missed.callback_call_id, callback)
        self.assertFalse(self.callbacks())
        done = self.done_callbacks()
        self.assertEqual(len(done), 1)
        self.assertIn(f"data-oe-model='phone.call' data-oe-id='{callback.id}'", done.feedback)
        self.assertEqual(self.Call.phone_callback_count(), 0)

    def test_client_calling_again_and_being_answered_closes_it(self):
        missed = self.missed(0)
        answered = self.ingest_one(start=self.utc(2026, 11, 20, 10, 0).isoformat())
        self.assertEqual(missed.callback_call_id, answered)
        self.assertFalse(self.callbacks())

    def test_earlier_answered_call_does_not_close_a_later_miss(self):
        self.ingest_one(start=self.utc(2026, 11, 20, 8, 0).isoformat())
        missed = self.missed(0)
        self.assertEqual(missed.callback_state, "pending")
        self.assertTrue(self.callbacks())

    def test_no_callback_for_withheld_internal_or_answered_calls(self):
        self.assertEqual(self.missed(0, from_number="anonymous").callback_state, "none")
        internal = self.missed(1, direction="internal", from_number="201", to_number="202")
        self.assertEqual(internal.callback_state, "none")
        self.assertEqual(self.ingest_one().callback_state, "none")
        self.assertFalse(self.callbacks())

    def test_missed_filter_finds_open_ones(self):
        open_miss = self.missed(0)
        action = self.env.ref("phone_call_accounting.phone_call_callback_action")
        self.assertIn("search_default_to_call_back", action.context)
        self.assertEqual(self.Call.search([("callback_state", "=", "pending")]), open_miss)
        arch = self.Call.get_views([(False, "search")])["views"]["search"]["arch"]
        self.assertIn('name="to_call_back"', arch)

    def test_ingestion_starts_the_activity_cron_at_once(self):
        cron = self.env.ref("phone_call_accounting.ir_cron_phone_callback_activities")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        call = self._missed(0)
        self.assertEqual(call.callback_state, "pending")
        self.assertFalse(self.callbacks(), "opened by the cron, not while the PBX waits")
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers
        )
        self.Call._cron_open_callback_activities()
        self.assertEqual(len(self.callbacks()), 1)
        self.assertTrue(call.callback_scheduled)
        self.Call._cron_open_callback_activities()
        self.assertEqual(len(self.callbacks()), 1)

    def test_call_back_activity_shows_the_number_to_dial(self):
        self.missed(0)
        activity = self.callbacks()
        self.assertEqual(activity.phone_number, self.client.phone)
        review = self.env["mail.activity"].create(
            {
                "res_model_id": self.env["ir.model"]._get_id("phone.call"),
                "res_id": self.ingest_one().id,
                "activity_type_id": self.callback_type.id,
                "user_id": self.manager.id,
            }
        )
        self.assertEqual(review.phone_number, "+31205550101")
        for view in ("mail.mail_activity_view_form_popup", "mail.mail_activity_view_tree"):
            arch = self.env["mail.activity"].get_view(self.env.ref(view).id)["arch"]
            self.assertIn('name="phone_number" widget="phone"', arch.replace("  ", " "))

    def test_no_number_from_a_document_the_user_cannot_read(self):
        self.missed(0)
        plain = new_test_user(self.env, "no_contacts", groups="base.group_portal")
        activity = self.callbacks().with_user(plain).sudo(False)
        activity.invalidate_recordset(["phone_number"])
        self.assertFalse(activity.phone_number)

    def test_miss_and_answer_in_one_batch(self):
        miss = self.call(
            status="missed",
            talk_seconds=0,
            extension="",
            start=self.utc(2026, 11, 20, 9, 0).isoformat(),
        )
        answer = self.call(start=self.utc(2026, 11, 20, 9, 20).isoformat())
        missed_id, answered_id = (r["call_id"] for r in self.ingest(miss, answer))
        self.env.invalidate_all()
        missed = self.Call.browse(missed_id)
        self.assertEqual(missed.callback_state, "done")
        self.assertEqual(missed.callback_call_id.id, answered_id)

    def test_call_delivered_again_as_missed_gets_a_callback(self):
        first = self.call(status="busy", talk_seconds=0, extension="")
        call = self.Call.browse(self.ingest(first)[0]["call_id"])
        self.assertEqual(call.callback_state, "none")
        self.ingest(dict(first, status="missed"))
        self.env.invalidate_all()
        self.assertEqual(call.callback_state, "pending")
