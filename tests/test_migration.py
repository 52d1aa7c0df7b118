import importlib.util
from pathlib import Path

from odoo.tests import TransactionCase, tagged

MIGRATION = Path(__file__).parent.parent / "migrations" / "19.0.1.1.0" / "post-migrate.py"


def _migration():
    spec = importlib.util.spec_from_file_location("pca_migrate_19_0_1_1_0", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestMigration(TransactionCase):
    def call_indexes(self):
        self.env.cr.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'phone_call'")
        return {name for (name,) in self.env.cr.fetchall()}

    def test_fresh_install_indexes_only_what_is_searched(self):
        indexes = self.call_indexes()
        self.assertFalse(indexes & set(_migration().OBSOLETE_INDEXES))
        for partial in ("callback_pending", "too_long", "recording_pending", "analysis_pending"):
            self.assertIn(f"phone_call_{partial}_idx", indexes)

    def test_upgrade_drops_the_full_state_indexes(self):
        self.env.cr.execute("CREATE INDEX phone_call__status_index ON phone_call (status)")
        self.env.cr.execute(
            "CREATE INDEX phone_call__callback_state_index ON phone_call (callback_state)"
        )
        _migration().migrate(self.env.cr, "19.0.1.0.0")
        indexes = self.call_indexes()
        self.assertNotIn("phone_call__status_index", indexes)
        self.assertNotIn("phone_call__callback_state_index", indexes)
