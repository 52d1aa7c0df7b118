import io
import os
import re
import shutil
import subprocess

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import PoFileReader, code_translations, trans_export

MODULE = "phone_call_accounting"
LANG = "ko_KR"


def _po_path(name):
    return file_path(f"{MODULE}/i18n/{name}")


@tagged("post_install", "-at_install")
class TestKorean(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang(LANG)
        cls.env["ir.module.module"]._load_module_terms([MODULE], [LANG], overwrite=True)
        cls.env_ko = cls.env(context=dict(cls.env.context, lang=LANG))

    def test_menus(self):
        root = self.env_ko.ref(f"{MODULE}.phone_menu_root")
        self.assertEqual(root.name, "전화")
        self.assertEqual(root.with_context(lang="en_US").name, "Phone")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.phone_call_menu").name, "통화")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.phone_call_callback_menu").name, "콜백 대기")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.phone_config_menu").name, "환경설정")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.phone_settings_menu").name, "설정")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.phone_call_action").name, "통화")

    def test_call_list_columns(self):
        expected = {
            "call_date": "통화 날짜",
            "call_time": "통화 시각",
            "direction": "방향",
            "status": "상태",
            "from_number": "발신 번호",
            "to_number": "수신 번호",
            "extension": "내선",
            "user_id": "직원",
            "partner_id": "고객",
            "client_type_id": "고객 유형",
            "talk_seconds": "대화 시간",
            "is_too_long": "장시간 통화",
            "cost": "비용",
            "keyword_ids": "언급된 키워드",
        }
        Call = self.env_ko["phone.call"]
        fields_ko = Call.fields_get(list(expected), ["string", "help", "selection"])
        self.assertEqual({name: fields_ko[name]["string"] for name in expected}, expected)
        self.assertEqual(fields_ko["call_time"]["help"], "회사 시간대 기준 통화 시각입니다.")

        status = dict(fields_ko["status"]["selection"])
        self.assertEqual(status["missed"], "부재중")
        self.assertEqual(status["answered"], "응답")
        self.assertEqual(status["busy"], "통화 중")
        direction = dict(fields_ko["direction"]["selection"])
        self.assertEqual(direction, {"incoming": "수신", "outgoing": "발신", "internal": "내부"})

        # The list view itself: its arch labels and the fields it sends along.
        views = Call.get_views([(False, "list")])
        arch = views["views"]["list"]["arch"]
        for label in ("통화 시각", "총 대화 시간", "총 비용"):
            self.assertIn(label, arch)
        self.assertNotIn('string="Call Time"', arch)
        view_fields = views["models"]["phone.call"]["fields"]
        for name, string in expected.items():
            self.assertEqual(view_fields[name]["string"], string, name)

        # Every column of the list is Korean, none left in English.
        fields_en = (
            self.env["phone.call"]
            .with_context(lang="en_US")
            .fields_get(list(view_fields), ["string"])
        )
        untranslated = [
            name
            for name, desc in view_fields.items()
            if desc.get("string")
            and desc["string"] == fields_en[name]["string"]
            and name not in ("id", "display_name")
            and not desc["string"].isupper()
        ]
        self.assertFalse(untranslated, "columns without a Korean label")

    def test_call_labels_are_distinct(self):
        """Two fields with one Korean label cannot be told apart in lists and filters."""
        labels = {}
        Call = self.env_ko["phone.call"]
        for name, desc in Call.fields_get([], ["string"]).items():
            if Call._fields[name]._module == MODULE:
                labels.setdefault(desc["string"], []).append(name)
        same = {label: names for label, names in labels.items() if len(names) > 1}
        self.assertFalse(same, "fields sharing a Korean label")

    def test_report_labels_are_distinct(self):
        """Reporting's Custom Group lists the report's fields by label."""
        labels = {}
        Report = self.env_ko["phone.call.report"]
        for name, desc in Report.fields_get([], ["string"]).items():
            if Report._fields[name]._module == MODULE:
                labels.setdefault(desc["string"], []).append(name)
        same = {label: names for label, names in labels.items() if len(names) > 1}
        self.assertFalse(same, "report fields sharing a Korean label")

    def test_talk_time_and_call_time_read_apart(self):
        fields_ko = self.env_ko["phone.call"].fields_get(["talk_seconds", "call_time"], ["string"])
        talk, start = fields_ko["talk_seconds"]["string"], fields_ko["call_time"]["string"]
        self.assertNotEqual(talk[:2], start[:2], f"{talk} / {start}")

    def test_pictures_are_named_in_korean(self):
        names = self.env_ko["phone.call.picture"].search([]).mapped("name")
        self.assertIn("상태: 응답", names)
        self.assertIn("방향: 수신", names)
        self.assertFalse([n for n in names if re.search(r"[A-Za-z]", n)], names)
        values = dict(self.env_ko["phone.call.picture"].fields_get(["value"])["value"]["selection"])
        self.assertEqual((values["answered"], values["incoming"]), ("응답", "수신"))

    def test_pbx_time_zone_reads_as_in_settings(self):
        pbx_zones = dict(self.env_ko["phone.pbx"].fields_get(["timezone"])["timezone"]["selection"])
        partner_zones = dict(self.env_ko["res.partner"].fields_get(["tz"])["tz"]["selection"])
        self.assertEqual(pbx_zones["Europe/Amsterdam"], partner_zones["Europe/Amsterdam"])

    def test_dial_failure_is_said_in_korean_without_system_words(self):
        from ..models.phone_pbx_dial import _dial_failure

        for kind in ("unreachable", "login", "timeout", "refused", "invalid"):
            message = _dial_failure(self.env_ko, kind, "본사 PBX")
            self.assertFalse(re.search(r"[A-Za-z]{3,}", message.replace("PBX", "")), message)

    def test_data_records(self):
        activity = self.env_ko.ref(f"{MODULE}.mail_activity_type_callback")
        self.assertEqual(activity.name, "콜백")
        review = self.env_ko.ref(f"{MODULE}.mail_activity_type_long_call_review")
        self.assertEqual(review.name, "장시간 통화 검토")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.phone_client_type_prospect").name, "잠재 고객")
        self.assertEqual(self.env_ko.ref(f"{MODULE}.group_phone_manager").name, "관리자")

    def test_code_translations(self):
        python = code_translations.get_python_translations(MODULE, LANG)
        self.assertEqual(python["Your phone is ringing"], "전화벨이 울리고 있습니다")
        message = "Pick up extension %(extension)s to call %(number)s."
        self.assertEqual(
            self.env_ko._(message, extension="201", number="0201234567"),
            "0201234567 번호로 전화하려면 내선 201의 수화기를 드세요.",
        )
        web = {
            m["id"]: m["string"]
            for m in code_translations.get_web_translations(MODULE, LANG)["messages"]
        }
        self.assertEqual(web["Dial"], "전화 걸기")
        self.assertEqual(web["Missed calls not called back"], "콜백하지 않은 부재중 통화")
        # The ringing pop-up's strings sit in markup`` templates, which the exporter skips.
        self.assertEqual(web["Unknown caller"], "알 수 없는 발신자")
        self.assertEqual(web["Ringing on %s"], "내선 %s 벨 울림")

    def test_po_file_is_complete(self):
        pot = {e.msgid: e for e in polib.pofile(_po_path(f"{MODULE}.pot")) if not e.obsolete}
        po_file = polib.pofile(_po_path("ko.po"))
        po = {e.msgid: e for e in po_file if not e.obsolete}
        self.assertGreater(len(pot), 400)
        self.assertEqual(po_file.metadata.get("Language"), "ko")
        self.assertEqual(po_file.metadata.get("Plural-Forms"), "nplurals=1; plural=0;")
        self.assertFalse(set(pot) - set(po), "template entries missing from ko.po")
        self.assertFalse(set(po) - set(pot), "ko.po entries the template does not know")
        self.assertFalse(
            [msgid for msgid, entry in po.items() if not entry.msgstr.strip()],
            "untranslated entries in ko.po",
        )
        self.assertFalse([msgid for msgid, entry in po.items() if "fuzzy" in entry.flags])
        # Odoo's reader (which merges the template in) keeps every entry, translated.
        read = [row for row in PoFileReader(_po_path("ko.po")) if row["src"]]
        self.assertEqual({row["src"] for row in read}, set(pot))
        self.assertTrue(all(row["value"] for row in read))

    def test_export_reads_only_the_addons_own_files(self):
        """A venv, a benchmark's output or a cache left in the checkout (which
        is the addon) would ship third-party strings in Export Translations."""
        buffer = io.BytesIO()
        trans_export(False, [MODULE], buffer, "po", self.env)
        prefix = f"code:addons/{MODULE}/"
        paths = {
            where.removeprefix(prefix)
            for entry in polib.pofile(buffer.getvalue().decode())
            for where, _line in entry.occurrences
            if where.startswith(prefix)
        }
        self.assertTrue(paths, "the export found no string in the addon's code")
        root = file_path(MODULE)
        strays = {p for p in paths if any(part.startswith(".") for part in p.split("/"))}
        self.assertFalse(strays, f"strings exported from hidden folders: {sorted(strays)[:5]}")
        if shutil.which("git") and os.path.exists(os.path.join(root, ".git")):
            tracked = subprocess.run(
                ["git", "-c", "safe.directory=*", "-C", root, "ls-files", "-z"],
                capture_output=True,
                check=True,
                text=True,
            ).stdout.split("\0")
            untracked = paths - set(tracked)
            self.assertFalse(
                untracked,
                f"strings exported from files not the addon's own: {sorted(untracked)[:5]}",
            )

    def test_every_current_string_is_in_the_template(self):
        """Odoo's own exporter, run now, finds nothing the shipped files lack."""
        buffer = io.BytesIO()
        trans_export(False, [MODULE], buffer, "po", self.env)
        current = {e.msgid for e in polib.pofile(buffer.getvalue().decode()) if e.msgid}
        shipped = {e.msgid for e in polib.pofile(_po_path(f"{MODULE}.pot"))}
        self.assertFalse(
            current - shipped, "re-export i18n/phone_call_accounting.pot and translate"
        )
