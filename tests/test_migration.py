import importlib.util
from pathlib import Path

from odoo.tests import TransactionCase, tagged

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def _migration(version="19.0.1.1.0"):
    path = MIGRATIONS / version / "post-migrate.py"
    spec = importlib.util.spec_from_file_location(f"pca_migrate_{version}", path)
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

    def test_client_calls_are_indexed_in_history_order(self):
        indexes = self.call_indexes()
        self.assertIn("phone_call_partner_calls_idx", indexes)
        self.assertNotIn("phone_call__partner_id_index", indexes)
        self.env.cr.execute(
            "CREATE INDEX phone_call__partner_id_index ON phone_call (partner_id)"
            " WHERE partner_id IS NOT NULL"
        )
        _migration("19.0.1.2.0").migrate(self.env.cr, "19.0.1.1.0")
        self.assertNotIn("phone_call__partner_id_index", self.call_indexes())
