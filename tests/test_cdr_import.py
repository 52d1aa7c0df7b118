import base64
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from ..wizard import phone_cdr_import
from .common import make_pbx


def row(*values):
    return ",".join(v if isinstance(v, str) and v.isdigit() else f'"{v}"' for v in values) + "\n"


# cdr_csv with loguniqueid, loguserfield and newcdrcolumns (21 columns).
ANSWERED = row(
    "",
    "+31612345678",
    "0207940100",
    "from-trunk",
    "",
    "PJSIP/provider-00000001",
    "PJSIP/201-00000002",
    "Dial",
    "",
    "2026-11-20 10:00:00",
    "2026-11-20 10:00:08",
    "2026-11-20 10:02:13",
    "133",
    "125",
    "ANSWERED",
    "DOCUMENTATION",
    "1795770000.1",
    "",
    "",
    "1795770000.1",
    "1",
)
VOICEMAIL = row(
    "",
    "+31687654321",
    "0207940100",
    "from-trunk",
    "",
    "PJSIP/provider-00000003",
    "",
    "VoiceMail",
    "",
    "2026-11-20 11:00:00",
    "2026-11-20 11:00:01",
    "2026-11-20 11:00:40",
    "40",
    "39",
    "ANSWERED",
    "DOCUMENTATION",
    "1795773600.5",
    "",
    "",
    "1795773600.5",
    "2",
)
GARBAGE = "this,is,not,a,cdr\n"


@tagged("post_install", "-at_install")
class TestCdrImport(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.country_id = cls.env.ref("base.nl")
        cls.pbx = make_pbx(cls.env, kind="cdr_file", trunk_patterns="^PJSIP/provider-")

    def run_import(self, text):
        wizard = self.env["phone.cdr.import"].create(
            {
                "pbx_id": self.pbx.id,
                "file": base64.b64encode(text.encode()),
                "filename": "Master.csv",
            }
        )
        wizard.action_import()
        return wizard

    def test_import_twice_makes_no_duplicates(self):
        wizard = self.run_import(ANSWERED + VOICEMAIL + GARBAGE)
        self.assertEqual((wizard.created_count, wizard.updated_count), (2, 0))
        self.assertEqual(wizard.error_count, 1)
        self.assertIn("line 3", wizard.report)
        calls = self.env["phone.call"].search([("pbx_id", "=", self.pbx.id)], order="call_start")
        self.assertEqual(len(calls), 2)
        answered, voicemail = calls
        self.assertEqual(
            (answered.direction, answered.status, answered.talk_seconds),
            ("incoming", "answered", 125),
        )
        self.assertEqual(answered.call_start.hour, 9, "Master.csv local time in Amsterdam")
        self.assertEqual(answered.extension, "201")
        self.assertEqual(voicemail.status, "missed", "voicemail answering is not a person")
        self.assertEqual(voicemail.talk_seconds, 0, "billsec only counts when a person answered")
        again = self.run_import(ANSWERED + VOICEMAIL)
        self.assertEqual((again.created_count, again.updated_count), (0, 2))
        self.assertEqual(self.env["phone.call"].search_count([("pbx_id", "=", self.pbx.id)]), 2)

    def test_unreadable_file_is_refused_with_reasons(self):
        with self.assertRaisesRegex(UserError, "No call could be read"):
            self.run_import(GARBAGE * 3)
        self.assertFalse(self.env["phone.call"].search([("pbx_id", "=", self.pbx.id)]))

    def test_large_file_imports_in_the_background_with_progress(self):
        calls = "".join(ANSWERED.replace("1795770000.1", f"1795770{n:03d}.1") for n in range(12))
        wizard = self.env["phone.cdr.import"].create(
            {"pbx_id": self.pbx.id, "file": base64.b64encode(calls.encode()), "filename": "big.csv"}
        )
        cron = self.env.ref("phone_call_accounting.ir_cron_phone_cdr_import")
        with (
            patch.object(type(wizard), "_sync_limit", 5),
            patch.object(phone_cdr_import, "BATCH", 5),
            patch.object(type(self.env["ir.cron"]), "_commit_progress", lambda *a, **k: 1.0),
        ):
            triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
            wizard.action_import()
            self.assertEqual(
                (wizard.state, wizard.total_count, wizard.progress), ("running", 12, 0)
            )
            self.assertGreater(
                self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers
            )
            self.env["phone.cdr.import"]._cron_import_cdr_files()
        self.assertEqual(wizard.state, "done")
        self.assertEqual((wizard.done_count, wizard.created_count), (12, 12))
        self.assertEqual(wizard.progress, 100)
        self.assertEqual(self.env["phone.call"].search_count([("pbx_id", "=", self.pbx.id)]), 12)

    def test_interrupted_import_resumes_where_it_stopped(self):
        calls = "".join(ANSWERED.replace("1795770000.1", f"1795771{n:03d}.1") for n in range(6))
        wizard = self.env["phone.cdr.import"].create(
            {"pbx_id": self.pbx.id, "file": base64.b64encode(calls.encode()), "filename": "b.csv"}
        )
        stops = iter([1.0, 0.0])  # the cron's time runs out after the first batch
        with (
            patch.object(type(wizard), "_sync_limit", 2),
            patch.object(phone_cdr_import, "BATCH", 3),
            patch.object(
                type(self.env["ir.cron"]), "_commit_progress", lambda *a, **k: next(stops, 1.0)
            ),
        ):
            wizard.action_import()
            self.env["phone.cdr.import"]._cron_import_cdr_files()
            self.assertEqual((wizard.state, wizard.done_count), ("running", 3))
            self.assertEqual(wizard.progress, 50)
            self.env["phone.cdr.import"]._cron_import_cdr_files()
        self.assertEqual((wizard.state, wizard.done_count, wizard.created_count), ("done", 6, 6))
