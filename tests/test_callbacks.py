import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.phone_call_followup import CALLBACKS_NOTIFICATION
from .common import PhoneCase, no_cron_commits, recent_start, setup_company


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

    # ------------------------------------------------------------------
    # The navbar counter follows live: the server tells the Phone users
    # ------------------------------------------------------------------

    def callback_pings(self):
        """The "calls to call back changed" bus messages sent since the last look:
        [(channel, payload)]; the bus writes them when the transaction commits."""
        self.env.cr.precommit.run()
        pings = []
        for record in self.env["bus.bus"].sudo().search([], order="id"):
            message = json.loads(record.message)
            if message["type"] == CALLBACKS_NOTIFICATION:
                pings.append((json.loads(record.channel), message["payload"]))
        self.env["bus.bus"].sudo().search([]).unlink()
        return pings

    def test_counter_is_told_of_every_change(self):
        group = self.env.ref("phone_call_accounting.group_phone_user")
        self.callback_pings()
        told = [([self.env.cr.dbname, "res.groups", group.id], {"company_ids": [self.company.id]})]
        # A missed call: one more to call back, once for the whole batch.
        missed = self.ingest(
            *(
                self.call(
                    status="missed",
                    talk_seconds=0,
                    extension="",
                    start=self.utc(2026, 11, 20, 9, minute).isoformat(),
                )
                for minute in range(3)
            )
        )
        calls = self.Call.browse(r["call_id"] for r in missed)
        self.assertEqual(set(calls.mapped("callback_state")), {"pending"})
        self.assertEqual(self.callback_pings(), told)
        # Marked called back by hand.
        calls[0].with_user(self.agent).action_mark_called_back()
        self.assertEqual(self.callback_pings(), told)
        # Called back: an answered call settles the others.
        self.ingest_one(start=self.utc(2026, 11, 20, 10, 0).isoformat())
        self.assertEqual(set(calls.mapped("callback_state")), {"done"})
        self.assertEqual(self.callback_pings(), told)
        # Calls that change nothing to call back tell nobody.
        self.ingest_one(start=self.utc(2026, 11, 20, 11, 0).isoformat())
        calls.action_mark_called_back()
        self.assertEqual(self.callback_pings(), [])
        # A deleted missed call is one less to call back.
        pending = self.missed(30)
        self.callback_pings()
        pending.unlink()
        self.assertEqual(self.callback_pings(), told)

    def test_phone_user_marks_called_back(self):
        """The To Call Back list's button works for a Phone user, who writes no calls
        otherwise: the call is settled and the client's call-back activity done."""
        missed = self.missed(0)
        self.assertTrue(self.callbacks())
        self.callback_pings()
        missed.with_user(self.agent).action_mark_called_back()
        self.assertEqual(missed.callback_state, "done")
        self.assertFalse(self.callbacks())
        self.assertIn("Marked called back by Alex Agent", self.done_callbacks().feedback)
        self.assertTrue(self.callback_pings())
        with self.assertRaises(AccessError):
            missed.with_user(self.agent).write({"callback_state": "pending"})


@tagged("post_install", "-at_install")
class TestCallbacksTour(HttpCase):
    def test_counter_follows_mark_called_back_and_does_not_stack(self):
        setup_company(self.env)
        self.env.ref("base.user_admin").tz = "Europe/Amsterdam"
        self.env["res.partner"].create({"name": "Callback Client", "phone": "+31205550888"})
        start = recent_start(self.env, minutes_ago=20)
        results = self.env["phone.call"]._ingest_calls(
            [
                {
                    "external_id": f"callback-tour-{n}",
                    "direction": "incoming",
                    "status": "missed",
                    "from_number": number,
                    "to_number": "+31207940100",
                    "start": (start + timedelta(minutes=n)).isoformat() + "+00:00",
                    "ring_seconds": 20,
                }
                for n, number in enumerate(("+31205550888", "+31612340000"))
            ]
        )
        self.assertEqual([r["result"] for r in results], ["created", "created"])
        self.assertEqual(self.env["phone.call"].phone_callback_count(), 2)
        self.start_tour("/odoo", "phone_callbacks_tour", login="admin")
        self.assertEqual(self.env["phone.call"].phone_callback_count(), 0)
