from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestIngest(PhoneCase):
    def test_created_then_redelivered_is_updated(self):
        item = self.call(external_id="pbx-42")
        first = self.ingest(item)[0]
        self.assertEqual(first["result"], "created")
        item["talk_seconds"] = 120
        second = self.ingest(item)[0]
        self.assertEqual(second["result"], "updated")
        self.assertEqual(second["call_id"], first["call_id"])
        calls = self.Call.search([("external_id", "=", "pbx-42")])
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls.talk_seconds, 120)

    def test_same_call_twice_in_one_batch_is_one_record(self):
        results = self.ingest(
            self.call(external_id="dup", talk_seconds=10),
            self.call(external_id="dup", talk_seconds=30),
        )
        self.assertEqual([r["result"] for r in results], ["created", "updated"])
        self.assertEqual(results[0]["call_id"], results[1]["call_id"])
        call = self.Call.search([("external_id", "=", "dup")])
        self.assertEqual(len(call), 1)
        self.assertEqual(call.talk_seconds, 30, "the later delivery wins")

    def test_same_external_id_from_two_sources_is_two_calls(self):
        self.ingest(self.call(external_id="1"), source="pbx-a")
        self.ingest(self.call(external_id="1"), source="pbx-b")
        self.assertEqual(self.Call.search_count([("external_id", "=", "1")]), 2)

    def test_bad_items_are_rejected_good_items_land(self):
        before_calls = self.Call.search_count([])
        before_partners = self.env["res.partner"].search_count([])
        bad = [
            self.call(start=None),
            self.call(start="2026-11-20 09:30:00"),
            self.call(ring_seconds=-3),
            self.call(talk_seconds=-1),
            self.call(status="ringing"),
            self.call(direction="upwards"),
            self.call(end="2026-11-20T09:00:00+00:00"),
            self.call(external_id=""),
            "not a call",
        ]
        # Unknown numbers in rejected items must not leave partners behind.
        for item in bad[:-1]:
            item["from_number"] = "+31104567890"
        good = self.call(external_id="good-one")
        results = self.ingest(*bad[:4], good, *bad[4:])
        kinds = [r["result"] for r in results]
        self.assertEqual(kinds.count("rejected"), len(bad))
        self.assertEqual(results[4]["result"], "created")
        reasons = [r["reason"] for r in results if r["result"] == "rejected"]
        for expected in (
            "start is missing",
            "no timezone",
            "ring_seconds must not be negative",
            "talk_seconds must not be negative",
            "status 'ringing'",
            "direction 'upwards'",
            "is before start",
            "call_id is missing",
            "must be an object",
        ):
            self.assertTrue(any(expected in r for r in reasons), f"{expected!r} not in {reasons}")
        self.assertEqual(self.Call.search_count([]), before_calls + 1)
        self.assertEqual(self.env["res.partner"].search_count([]), before_partners)

    def test_direction_decides_the_client_number(self):
        incoming = self.ingest_one(
            direction="incoming", from_number="020 555 0101", to_number="201"
        )
        self.assertEqual(incoming.client_number, "+31205550101")
        self.assertEqual(incoming.partner_id, self.client)
        outgoing = self.ingest_one(direction="outgoing", from_number="201", to_number="0205550101")
        self.assertEqual(outgoing.client_number, "+31205550101")
        self.assertEqual(outgoing.partner_id, self.client)
        internal = self.ingest_one(direction="internal", from_number="201", to_number="202")
        self.assertFalse(internal.partner_id)
        self.assertFalse(internal.client_number)
        self.assertEqual((internal.from_number, internal.to_number), ("201", "202"))

    def test_unknown_status_stays_unknown(self):
        call = self.ingest_one(status="unknown", talk_seconds=40)
        self.assertEqual(call.status, "unknown")
        self.assertEqual(call.talk_seconds, 40)

    def test_statuses_and_directions_round_trip(self):
        for status in ("answered", "missed", "busy", "failed", "unknown"):
            talk = 30 if status in ("answered", "unknown") else 0
            call = self.ingest_one(status=status, talk_seconds=talk, direction="outgoing")
            self.assertEqual((call.status, call.direction), (status, "outgoing"))

    def test_extension_resolves_employee_and_forwarding(self):
        call = self.ingest_one(extension="202", first_extension="201")
        self.assertEqual(call.user_id, self.agent)
        self.assertTrue(call.forwarded)
        self.assertEqual(call.first_extension, "201")
        direct = self.ingest_one(extension="201", first_extension="201")
        self.assertEqual(direct.user_id, self.manager)
        self.assertFalse(direct.forwarded)
        nobody = self.ingest_one(extension="299")
        self.assertFalse(nobody.user_id)
        self.assertEqual(nobody.extension, "299")

    def test_extension_of_another_company_is_not_resolved(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        stranger = self.env["res.users"].create(
            {
                "name": "Stranger",
                "login": "stranger",
                "company_id": other.id,
                "company_ids": [other.id],
            }
        )
        stranger.phone_extension = "777"
        call = self.ingest_one(extension="777")
        self.assertFalse(call.user_id)

    def test_date_and_time_in_company_time_zone(self):
        # 23:30 UTC in winter is 00:30 the next day in Amsterdam.
        call = self.ingest_one(start="2026-11-20T23:30:15Z")
        self.assertEqual(call.call_start, self.utc(2026, 11, 20, 23, 30, 15).replace(tzinfo=None))
        self.assertEqual(call.call_date, date(2026, 11, 21))
        self.assertAlmostEqual(call.call_time, 0.5 + 15 / 3600, places=6)

    def test_offset_start_is_stored_in_utc(self):
        call = self.ingest_one(start="2026-07-01T10:00:00+02:00", ring_seconds=5, talk_seconds=55)
        self.assertEqual(call.call_start.hour, 8)
        self.assertEqual((call.call_end - call.call_start).total_seconds(), 60)
        self.assertEqual(call.call_date, date(2026, 7, 1))
        self.assertAlmostEqual(call.call_time, 10.0)

    def test_durations_sum_in_groups(self):
        self.ingest(
            self.call(external_id="s1", ring_seconds=3, talk_seconds=100),
            self.call(external_id="s2", ring_seconds=7, talk_seconds=200),
        )
        [(ring, talk, hours)] = self.Call._read_group(
            [("external_id", "in", ["s1", "s2"])],
            aggregates=["ring_seconds:sum", "talk_seconds:sum", "duration_hours:sum"],
        )
        self.assertEqual((ring, talk), (10, 300))
        self.assertAlmostEqual(hours, 300 / 3600)

    def test_numbers_are_shown_normalised(self):
        call = self.ingest_one(from_number="0031 (20) 555-0101", to_number="201")
        # As people of the company's country (NL) write their own numbers.
        self.assertEqual(call.from_number, "020 555 0101")
        self.assertEqual(call.to_number, "201")
        self.assertEqual(call.client_number, "+31205550101")
        foreign = self.ingest_one(external_id="uk-1", from_number="+442079460123")
        self.assertEqual(foreign.from_number, "+44 20 7946 0123")
        # Found whichever way the number is typed.
        Call = self.env["phone.call"]
        for typed in ("+31205550101", "020 555 0101", "0205550101", "+31 20 555 0101"):
            self.assertIn(call, Call.search([("number_search", "ilike", typed)]), typed)
        self.assertNotIn(foreign, Call.search([("number_search", "ilike", "0205550101")]))

    def test_recording_and_hangup_cause_kept(self):
        call = self.ingest_one(
            recording="2026/11/20/rec-1.wav", hangup_cause="16", transferred=True
        )
        self.assertEqual(call.recording, "2026/11/20/rec-1.wav")
        self.assertEqual(call.hangup_cause, "16")
        self.assertTrue(call.transferred)

    def test_phone_user_may_not_ingest(self):
        with self.assertRaises(AccessError):
            self.Call.with_user(self.agent)._ingest_calls([self.call()])

    def test_manager_may_ingest(self):
        result = self.Call.with_user(self.manager)._ingest_calls([self.call()])[0]
        self.assertEqual(result["result"], "created")

    def test_too_long_text_is_rejected(self):
        results = self.ingest(self.call(external_id="x" * 300))
        self.assertEqual(results[0]["result"], "rejected")
        self.assertIn("longer than 255", results[0]["reason"])

    def test_control_characters_are_rejected(self):
        result = self.ingest(self.call(hangup_cause="16\x00"))[0]
        self.assertEqual(result["result"], "rejected")
        self.assertIn("control character", result["reason"])

    def test_database_refusal_rejects_only_that_item(self):
        # A rule only the database knows (as a site's own trigger or constraint would be).
        self.env.cr.execute(
            "ALTER TABLE phone_call ADD CONSTRAINT test_no_boom CHECK (hangup_cause <> 'boom')"
        )
        with mute_logger("odoo.sql_db", "odoo.addons.phone_call_accounting.models.phone_call"):
            results = self.ingest(
                self.call(external_id="ok-1"),
                self.call(external_id="boom", hangup_cause="boom"),
                self.call(external_id="ok-2"),
            )
        self.assertEqual([r["result"] for r in results], ["created", "rejected", "created"])
        self.assertIn("test_no_boom", results[1]["reason"])
        self.assertEqual(
            self.Call.search_count([("external_id", "in", ["ok-1", "ok-2", "boom"])]), 2
        )

    def test_database_refusal_leaves_no_caller_behind(self):
        """The caller is created for the batch before the database refuses its call."""
        self.env.cr.execute(
            "ALTER TABLE phone_call ADD CONSTRAINT test_no_boom CHECK (hangup_cause <> 'boom')"
        )
        Partner = self.env["res.partner"].with_context(active_test=False)
        with mute_logger("odoo.sql_db", "odoo.addons.phone_call_accounting.models"):
            results = self.ingest(
                self.call(external_id="ok-1", from_number="+31104567801"),
                self.call(external_id="boom", from_number="+31104567802", hangup_cause="boom"),
                # Refused too, but its caller has a call that landed.
                self.call(external_id="boom-2", from_number="+31104567801", hangup_cause="boom"),
            )
        self.assertEqual([r["result"] for r in results], ["created", "rejected", "rejected"])
        self.assertFalse(Partner.search([("phone_sanitized", "=", "+31104567802")]))
        kept = Partner.search([("phone_sanitized", "=", "+31104567801")])
        self.assertEqual(kept.phone_call_ids, self.Call.browse(results[0]["call_id"]))

    def test_a_call_moved_to_another_number_takes_its_untouched_caller_along(self):
        item = self.call(external_id="moved", from_number="+31104567811")
        first = self.ingest_one(**item).partner_id
        self.assertEqual(first.phone_caller_number, "+31104567811")
        call = self.ingest_one(**{**item, "from_number": "+31104567812"})
        self.assertEqual(call.partner_id.phone_caller_number, "+31104567812")
        self.assertFalse(first.exists(), "created for that call alone, it goes with it")
        # A caller someone worked on stays, call or no call.
        item = self.call(external_id="moved-2", from_number="+31104567821")
        touched = self.ingest_one(**item).partner_id
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE res_partner SET write_date = create_date - interval '1 hour' WHERE id = %s",
            [touched.id],
        )
        self.env.invalidate_all()
        self.ingest_one(**{**item, "from_number": "+31104567822"})
        self.assertTrue(touched.exists())

    def test_unknown_key_is_rejected_by_name_and_stores_nothing(self):
        # A misspelt talk time would store an answered call of 0 s.
        item = self.call(external_id="misspelt", from_number="+31104567831", talk_secs=95)
        del item["talk_seconds"]
        [result] = self.ingest(item)
        self.assertEqual(result["result"], "rejected")
        self.assertIn("unknown key 'talk_secs' (known keys: ", result["reason"])
        self.assertFalse(self.Call.search([("external_id", "=", "misspelt")]))
        self.assertFalse(self.env["res.partner"].search([("phone_sanitized", "=", "+31104567831")]))

    def test_values_the_database_refuses_or_no_call_has_are_rejected_before_the_insert(self):
        with self.assertNoLogs("odoo.addons.phone_call_accounting.models", "WARNING"):
            results = self.ingest(
                self.call(external_id="nul-source", source="pbx\x00a"),
                self.call(external_id="far-end", end="9999-12-31T23:59:59Z"),
            )
        self.assertEqual([r["result"] for r in results], ["rejected", "rejected"])
        self.assertIn("source contains a control character", results[0]["reason"])
        self.assertIn("end 9999-12-31T23:59:59+00:00 is not a plausible", results[1]["reason"])

    def test_callers_default_keys_fill_nothing(self):
        # As when ingestion runs from a partner's Calls list, which opens with them.
        called_from = self.Call.with_context(
            default_partner_id=self.client.id,
            default_client_number="+31205550101",
            default_parent_id=self.client.id,
            default_analysis_state="pending",
        )
        results = called_from._ingest_calls(
            [self.call(from_number="anonymous"), self.call(from_number="+32470123456")]
        )
        withheld, new_caller = self.Call.browse([r["call_id"] for r in results])
        self.env.invalidate_all()
        self.assertFalse(withheld.partner_id)
        self.assertFalse(withheld.client_number)
        self.assertEqual(withheld.analysis_state, "none", "the model's own default applies")
        self.assertEqual(new_caller.partner_id.phone_sanitized, "+32470123456")
        self.assertFalse(new_caller.partner_id.parent_id)

    def test_call_form_shows_the_registered_figures_read_only(self):
        # Editable in the model so that ingestion's values are kept; never in the form.
        form = Form(self.ingest_one().with_user(self.manager))
        for fname, value in [
            ("call_date", date(2026, 1, 1)),
            ("call_time", 1.0),
            ("duration_hours", 1.0),
            ("is_too_long", True),
        ]:
            with self.assertRaises(AssertionError, msg=fname):
                setattr(form, fname, value)


@tagged("post_install", "-at_install")
class TestRedelivery(PhoneCase):
    """A call delivered again is recognised: unchanged, it is written nowhere."""

    def age(self, call):
        """Back-date the call's last write, as if it had landed yesterday."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE phone_call SET write_date = '2026-01-01 00:00:00' WHERE id = %s", [call.id]
        )
        self.env.invalidate_all()

    def test_unchanged_redelivery_writes_nothing(self):
        item = self.call(recording="in-201.wav")
        call = self.ingest_one(**item)
        self.age(call)
        [result] = self.ingest(item)
        self.assertEqual((result["result"], result["call_id"]), ("updated", call.id))
        self.env.flush_all()
        self.assertEqual(str(call.write_date), "2026-01-01 00:00:00", "no UPDATE at all")

    def test_unchanged_redelivery_is_one_lookup(self):
        """Recognised by its fingerprint: no number parsing, matching or follow-up."""
        items = [
            self.call(from_number=f"+3120555{n:04d}", status="missed", talk_seconds=0)
            for n in range(20)
        ]
        self.ingest(*items)
        self.env.flush_all()
        self.env.invalidate_all()
        with self.assertQueryCount(1):
            results = self.ingest(*items)
        self.assertEqual({r["result"] for r in results}, {"updated"})
        # One changed among them goes the whole way, and is stored.
        items[3] = dict(items[3], ring_seconds=40)
        results = self.ingest(*items)
        call = self.Call.browse(results[3]["call_id"])
        self.assertEqual(call.ring_seconds, 40)
        self.env.invalidate_all()
        with self.assertQueryCount(1):
            self.ingest(*items)

    def test_changed_redelivery_writes_what_changed(self):
        item = self.call(talk_seconds=60)
        call = self.ingest_one(**item)
        self.age(call)
        self.ingest({**item, "talk_seconds": 90})
        self.env.flush_all()
        self.assertNotEqual(str(call.write_date), "2026-01-01 00:00:00")
        self.assertEqual((call.talk_seconds, call.client_number), (90, "+31205550101"))


@tagged("post_install", "-at_install")
class TestCallerNumber(PhoneCase):
    def test_a_caller_keeps_its_number_until_its_phone_or_activity_changes(self):
        call = self.ingest_one(from_number="+31201112233")
        caller = call.partner_id
        self.assertEqual(caller.phone_caller_number, "+31201112233")
        self.assertFalse(self.client.phone_caller_number, "saved by a person, not created")
        caller.phone = "+31 20 111 2244"
        self.assertFalse(caller.phone_caller_number, "no longer that caller's contact")
        again = self.ingest_one(from_number="+31201112233")
        self.assertNotEqual(again.partner_id, caller, "the number may have a new contact")
        self.assertEqual(again.partner_id.phone_caller_number, "+31201112233")
        again.partner_id.active = False
        self.assertFalse(again.partner_id.phone_caller_number)
