import base64
import io

from PIL import Image

from odoo.tests import tagged

from ..pbx import numbers
from .common import PhoneCase


@tagged("post_install", "-at_install")
class TestPartnerMatching(PhoneCase):
    def partners_with(self, e164):
        return self.env["res.partner"].search([("phone_sanitized", "=", e164)])

    def test_exact_e164_match_on_nationally_saved_number(self):
        call = self.ingest_one(from_number="+31 20 555 0101")
        self.assertEqual(call.partner_id, self.client)
        self.assertEqual(call.client_type_id, self.customer_type)

    def test_national_number_fallback(self):
        # Saved with the wrong country: Odoo sanitised a Dutch number as German.
        misfiled = self.env["res.partner"].create(
            {"name": "Misfiled", "phone": "030 555 0202", "country_id": self.env.ref("base.de").id}
        )
        self.assertEqual(misfiled.phone_sanitized, "+49305550202")
        self.assertEqual(misfiled.phone_national_number, "305550202")
        call = self.ingest_one(from_number="+31305550202")
        self.assertEqual(call.partner_id, misfiled)

    def test_unsanitisable_phone_still_matches_nationally(self):
        odd = self.env["res.partner"].create({"name": "Odd", "phone": "(0)10 456 78 90 ext"})
        self.assertEqual(odd.phone_national_number, "104567890")
        self.assertEqual(self.ingest_one(from_number="+31104567890").partner_id, odd)

    def test_default_country_setting_places_national_numbers(self):
        self.company.phone_default_country_id = self.env.ref("base.be")
        call = self.ingest_one(from_number="0470 12 34 56")
        self.assertEqual(call.client_number, "+32470123456")

    def test_unknown_caller_becomes_partner(self):
        call = self.ingest_one(from_number="+32 470 12 34 56")
        partner = call.partner_id
        self.assertTrue(partner)
        self.assertEqual(partner.name, "+32 470 12 34 56")
        self.assertEqual(partner.phone_sanitized, "+32470123456")
        self.assertEqual(partner.country_id, self.env.ref("base.be"))
        self.assertEqual(partner.phone_client_type_id, self.prospect_type)
        self.assertEqual(call.client_type_id, self.prospect_type)
        # What the creation stored without computing it again, read back from the table.
        self.env.invalidate_all()
        self.assertEqual(partner.phone_sanitized, "+32470123456")
        self.assertEqual(partner.phone_national_number, "470123456")
        self.assertEqual(partner.commercial_partner_id, partner)
        self.assertFalse(partner.image_128)
        self.assertTrue(partner.avatar_128, "the placeholder avatar is still drawn")
        # Later edits are computed as for any partner.
        partner.phone = "+49 30 901820"
        self.assertEqual(partner.phone_sanitized, "+4930901820")
        self.assertEqual(partner.phone_national_number, "30901820")

    def test_default_client_type_setting(self):
        vip = self.env.ref("phone_call_accounting.phone_client_type_vip")
        self.company.phone_default_client_type_id = vip
        call = self.ingest_one(from_number="+32470123456")
        self.assertEqual(call.partner_id.phone_client_type_id, vip)

    def test_two_calls_from_one_unknown_number_make_one_partner(self):
        first = self.ingest_one(from_number="+32470123456")
        second = self.ingest_one(from_number="0032 470 123 456")
        self.assertEqual(first.partner_id, second.partner_id)
        results = self.ingest(
            self.call(from_number="+4930901820"), self.call(from_number="+49 30 901820")
        )
        calls = self.Call.browse([r["call_id"] for r in results])
        self.assertEqual(len(calls.partner_id), 1)
        self.assertEqual(len(self.partners_with("+4930901820")), 1)

    def test_no_partner_for_withheld_garbage_internal_or_own_numbers(self):
        before = self.env["res.partner"].search_count([])
        for number in (
            "anonymous",
            "<unknown>",
            "",
            "12ab",
            "+31 00 000 0000",
            "205",
            "+31 20 794 0100",
        ):
            call = self.ingest_one(from_number=number)
            self.assertFalse(call.partner_id, number)
        self.assertEqual(self.env["res.partner"].search_count([]), before)

    def test_no_partner_when_auto_create_is_off(self):
        self.company.phone_auto_create_partner = False
        call = self.ingest_one(from_number="+32470123456")
        self.assertFalse(call.partner_id)
        self.assertEqual(call.client_number, "+32470123456")
        self.assertFalse(self.partners_with("+32470123456"))

    def test_client_type_is_kept_as_it_was(self):
        call = self.ingest_one()
        self.client.phone_client_type_id = self.env.ref(
            "phone_call_accounting.phone_client_type_problem"
        )
        self.assertEqual(call.client_type_id, self.customer_type)
        later = self.ingest_one()
        self.assertEqual(later.client_type_id.name, "Problem")

    def test_archived_partner_is_not_matched(self):
        self.client.active = False
        self.company.phone_auto_create_partner = False
        self.assertFalse(self.ingest_one().partner_id)

    def test_partner_of_other_company_is_not_matched(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        self.client.company_id = other
        self.company.phone_auto_create_partner = False
        self.assertFalse(self.ingest_one().partner_id)

    def test_phone_sanitized_is_indexed(self):
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'res_partner' "
            "AND indexdef LIKE '%%(phone_sanitized)%%'"
        )
        self.assertTrue(self.env.cr.fetchall(), "res_partner.phone_sanitized needs an index")

    def _queries_to_match(self, prefix, size):
        wanted = [numbers.classify(f"+31{prefix}{n:04d}") for n in range(size)]
        self.env["res.partner"].create(
            [{"name": n.e164, "phone": n.e164} for n in wanted[: size // 2]]
        )
        self.env.flush_all()
        self.env.invalidate_all()
        self.env["res.company"]._phone_own_numbers()  # cached per worker
        before = self.env.cr.sql_log_count
        found = self.env["res.partner"]._phone_match_or_create(wanted, self.company)
        self.env.flush_all()
        self.assertEqual(len(found), size)
        return self.env.cr.sql_log_count - before

    def test_batch_matching_does_not_query_per_call(self):
        small = self._queries_to_match("20555", 4)
        large = self._queries_to_match("30555", 80)
        # A per-number query would add dozens; batching may shift one or two.
        self.assertLessEqual(abs(large - small), 2, f"{small} queries for 4, {large} for 80")

    def test_caller_created_with_a_picture_gets_its_resized_copies(self):
        picture = io.BytesIO()
        Image.new("RGB", (300, 300), "orange").save(picture, format="PNG")
        callers = (
            self.env["res.partner"]
            .with_context(default_image_1920=base64.b64encode(picture.getvalue()))
            ._phone_create_callers([numbers.classify("+32470123456")], self.company)
        )
        partner = callers["+32470123456"]
        self.env.flush_all()
        self.env.invalidate_all()
        self.assertTrue(partner.image_128, "a picture given at creation is still resized")
