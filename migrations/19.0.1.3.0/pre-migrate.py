"""Talk and ring time under one name: ``duration`` and ``ring_duration`` of a
call become ``talk_seconds`` and ``ring_seconds``, as the core and the report
call them.

Before the module loads, so that the ORM finds the columns it expects and
creates no empty ones beside the old:

* ``phone_call``'s columns are renamed, their values kept;
* the fields' ``ir.model.fields`` rows (labels and their translations live
  there) and ``ir.model.data`` names follow, for ``phone.call`` and for the
  roll-up's ``phone.call.daily`` whose sums are named after them;
* the roll-up's triggers are dropped: their function reads the old columns
  and would fail on any write to a call before ``phone.call.daily``'s
  ``init()`` makes them again (it also rebuilds the roll-up's tables, whose
  columns changed, from the calls).

The report's SQL view is made again by its ``init()``.
"""

from odoo.tools import SQL

MODULE = "phone_call_accounting"
# (model, table or None for a model without its own table, old name, new name)
RENAMED = [
    ("phone.call", "phone_call", "duration", "talk_seconds"),
    ("phone.call", "phone_call", "ring_duration", "ring_seconds"),
    ("phone.call.daily", None, "duration", "talk_seconds"),
    ("phone.call.daily", None, "ring_duration", "ring_seconds"),
    ("phone.call.daily", None, "answered_duration", "answered_talk"),
    ("phone.call.daily", None, "answered_duration_count", "answered_talk_count"),
]
ROLLUP_TRIGGERS = ["phone_call_daily_insert", "phone_call_daily_update", "phone_call_daily_delete"]


def column_exists(cr, table, column):
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
        [table, column],
    )
    return bool(cr.fetchone())


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT to_regclass('phone_call') IS NOT NULL")
    if cr.fetchone()[0]:
        for trigger in ROLLUP_TRIGGERS:
            cr.execute(SQL("DROP TRIGGER IF EXISTS %s ON phone_call", SQL.identifier(trigger)))
    for model, table, old, new in RENAMED:
        if table and column_exists(cr, table, old) and not column_exists(cr, table, new):
            cr.execute(
                SQL(
                    "ALTER TABLE %s RENAME COLUMN %s TO %s",
                    SQL.identifier(table),
                    SQL.identifier(old),
                    SQL.identifier(new),
                )
            )
        cr.execute("SELECT 1 FROM ir_model_fields WHERE model = %s AND name = %s", [model, new])
        if cr.fetchone():
            continue
        cr.execute(
            "UPDATE ir_model_fields SET name = %s WHERE model = %s AND name = %s",
            [new, model, old],
        )
        prefix = f"field_{model.replace('.', '_')}__"
        cr.execute(
            "UPDATE ir_model_data SET name = %s"
            " WHERE model = 'ir.model.fields' AND module = %s AND name = %s",
            [prefix + new, MODULE, prefix + old],
        )
