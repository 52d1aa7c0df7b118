import json

import polib

from odoo.tests import HttpCase, tagged
from odoo.tools.misc import file_path

from .test_menus import _make_menu_data, _make_menu_users

MODULE = "phone_call_accounting"


def english_labels():
    """The addon's short English labels that Korean translates to other words."""
    po = polib.pofile(file_path(f"{MODULE}/i18n/ko.po"))
    return sorted(
        {
            entry.msgid
            for entry in po
            if entry.msgstr
            and entry.msgstr != entry.msgid
            and len(entry.msgid) <= 40
            and "%" not in entry.msgid
            and "\n" not in entry.msgid
            and any(c.isalpha() for c in entry.msgid)
        }
    )


@tagged("post_install", "-at_install")
class TestScreensAt1366(HttpCase):
    """Every Phone screen, each tab and calendar scale, at the test browser's
    1366 x 768: no label cut or wrapped, no screen wider than the window, and
    in Korean no English label of the addon."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = _make_menu_users(cls.env)
        _make_menu_data(cls.env)
        cls.env["ir.config_parameter"].sudo().set_param(
            f"{MODULE}.tour_english_labels", json.dumps(english_labels())
        )

    def test_every_screen_in_english(self):
        self.start_tour(
            "/odoo", "phone_screens_tour", login=self.users["manager"].login, timeout=600
        )

    def test_every_screen_in_korean(self):
        self.env["res.lang"]._activate_lang("ko_KR")
        # As a Korean install has them: every installed module's Korean (Odoo's own
        # labels such as res.users' Name come from base's).
        installed = self.env["ir.module.module"].search([("state", "=", "installed")])
        installed._load_module_terms(installed.mapped("name"), ["ko_KR"], overwrite=True)
        self.users["manager"].lang = "ko_KR"
        self.start_tour(
            "/odoo", "phone_screens_tour", login=self.users["manager"].login, timeout=600
        )
