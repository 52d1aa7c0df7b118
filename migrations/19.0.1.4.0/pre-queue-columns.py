"""The calls' queue columns, made before the module loads.

A stored computed field whose column the ORM creates on an existing table is
computed for every row of it, in Python: at millions of calls an upgrade
would spend its time working out that no old call ever queued. Made here
first, the columns exist when the ORM looks, and nothing is computed: an old
call has no queue (NULL), which every queue measure reads as not queued.

The foreign key and the index on ``queue_id`` follow from the ORM (the
``phone_queue`` table does not exist yet). The roll-up gets ``queue_id`` as a
dimension and the queue measures' sums: ``phone.call.daily``'s ``init()``
sees other columns and rebuilds it from the calls.
"""

from odoo.tools import SQL

COLUMNS = [
    ("queue_id", "int4"),
    ("queue_wait_seconds", "int4"),
    ("queue_result", "varchar"),
    ("queue_position", "int4"),
    ("queue_answered_in_time", "bool"),
    ("queue_short_abandon", "bool"),
]


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT to_regclass('phone_call') IS NOT NULL")
    if not cr.fetchone()[0]:
        return
    for column, sql_type in COLUMNS:
        cr.execute(
            SQL(
                "ALTER TABLE phone_call ADD COLUMN IF NOT EXISTS %s %s",
                SQL.identifier(column),
                SQL(sql_type),
            )
        )
