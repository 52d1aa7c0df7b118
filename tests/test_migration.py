import dataclasses
import importlib.util
from pathlib import Path

from odoo.tests import TransactionCase, tagged

from ..pbx import measures, rollup

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


def _pre_migration(version="19.0.1.3.0"):
    path = MIGRATIONS / version / "pre-migrate.py"
    spec = importlib.util.spec_from_file_location(f"pca_pre_migrate_{version}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The names before 19.0.1.3.0: the call's columns and the roll-up's sums named after them.
OLD_NAMES = {
    "talk_seconds": "duration",
    "ring_seconds": "ring_duration",
    "answered_talk": "answered_duration",
    "answered_talk_count": "answered_duration_count",
}


def _old_rollup_statements():
    """The roll-up's statements as 1.2.0 made them, over ``duration``/``ring_duration``."""
    old = []
    for measure in measures.MEASURES:
        changes = {}
        if getattr(measure, "column", None) in OLD_NAMES:
            changes["column"] = OLD_NAMES[measure.column]
        if isinstance(measure, measures.Average):
            changes["stored_as"] = tuple(OLD_NAMES.get(n, n) for n in measure.stored_as)
        old.append(dataclasses.replace(measure, **changes))
    totals = {OLD_NAMES.get(name, name): kind for name, kind in measures.CALL_TOTALS.items()}
    return rollup.statements(measures.rollup_columns(old, totals))


@tagged("post_install", "-at_install")
class TestTalkAndRingRename(TransactionCase):
    """19.0.1.3.0: a call's ``duration``/``ring_duration`` are ``talk_seconds``/``ring_seconds``."""

    def columns(self, table):
        self.env.cr.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
        )
        return {name for (name,) in self.env.cr.fetchall()}

    def field_rows(self, model):
        self.env.cr.execute(
            "SELECT f.name, f.id, d.name FROM ir_model_fields f"
            " LEFT JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id"
            " WHERE f.model = %s",
            [model],
        )
        return {name: (field_id, xmlid) for name, field_id, xmlid in self.env.cr.fetchall()}

    def make_it_1_2_0(self):
        """Put the database back in 1.2.0's shape: old columns, names and roll-up."""
        cr = self.env.cr
        self.env.flush_all()
        for new, old in OLD_NAMES.items():
            if new in ("talk_seconds", "ring_seconds"):
                cr.execute(f"ALTER TABLE phone_call RENAME COLUMN {new} TO {old}")
            for model in ("phone.call", "phone.call.daily"):
                prefix = f"field_{model.replace('.', '_')}__"
                cr.execute(
                    "UPDATE ir_model_data SET name = %s WHERE model = 'ir.model.fields'"
                    " AND module = 'phone_call_accounting' AND name = %s",
                    [prefix + old, prefix + new],
                )
                cr.execute(
                    "UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s",
                    [old, model, new],
                )
        old_rollup = _old_rollup_statements()
        cr.execute(old_rollup.drop)
        for statement in old_rollup.setup:
            cr.execute(statement)
        cr.execute(old_rollup.count_existing)

    def test_upgrade_keeps_talk_and_ring_time_under_their_new_names(self):
        Call = self.env["phone.call"]
        Call.create(
            {
                "external_id": "rename-1",
                "call_start": "2026-03-02 09:00:00",
                "direction": "incoming",
                "status": "answered",
                "talk_seconds": 95,
                "ring_seconds": 12,
            }
        )
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("SELECT id, talk_seconds, ring_seconds FROM phone_call ORDER BY id")
        before = cr.fetchall()
        fields_before = {m: self.field_rows(m) for m in ("phone.call", "phone.call.daily")}
        self.make_it_1_2_0()
        self.assertIn("duration", self.columns("phone_call"))
        self.assertIn("duration", self.columns("phone_call_daily_total"))

        _pre_migration().migrate(cr, "19.0.1.2.0")

        columns = self.columns("phone_call")
        self.assertLessEqual({"talk_seconds", "ring_seconds"}, columns)
        self.assertFalse({"duration", "ring_duration"} & columns, "no column left behind")
        cr.execute("SELECT id, talk_seconds, ring_seconds FROM phone_call ORDER BY id")
        self.assertEqual(cr.fetchall(), before, "every call keeps its talk and ring time")
        for model, rows in fields_before.items():
            # Same ir.model.fields rows (labels, translations) under the same external ids.
            self.assertEqual(self.field_rows(model), rows, model)
        # The old roll-up's triggers read the old columns: gone, so a call can be written...
        cr.execute(
            "UPDATE phone_call SET talk_seconds = talk_seconds + 1 WHERE id = %s", [before[0][0]]
        )
        cr.execute(
            "UPDATE phone_call SET talk_seconds = talk_seconds - 1 WHERE id = %s", [before[0][0]]
        )
        # ... and the roll-up's init() rebuilds it for the new columns, from the calls.
        self.env["phone.call.daily"].init()
        self.assertIn("talk_seconds", self.columns("phone_call_daily_total"))
        self.assertNotIn("duration", self.columns("phone_call_daily_total"))
        self.env.registry.clear_cache()
        self.env.invalidate_all()
        aggregates = ["__count", "talk_seconds:sum", "ring_seconds:sum"]
        through_rollup = Call._read_group([], [], aggregates)
        through_calls = Call.with_context(phone_rollup=False)._read_group([], [], aggregates)
        self.assertEqual(through_rollup, through_calls)
        self.assertEqual(through_rollup[0][1], sum(talk for _id, talk, _ring in before))

    def test_migration_twice_or_on_a_new_database_changes_nothing(self):
        _pre_migration().migrate(self.env.cr, None)
        fields_before = self.field_rows("phone.call")
        _pre_migration().migrate(self.env.cr, "19.0.1.2.0")
        self.assertEqual(self.field_rows("phone.call"), fields_before)
        self.assertLessEqual({"talk_seconds", "ring_seconds"}, self.columns("phone_call"))
        self.assertFalse({"duration", "ring_duration"} & self.columns("phone_call"))
