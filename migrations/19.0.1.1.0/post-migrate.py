"""Drop the full indexes on low-selectivity call columns.

The fields no longer ask for them (partial indexes on the few pending calls
replace them), and Odoo does not drop an index a field stops declaring.
"""

from odoo.tools import SQL

OBSOLETE_INDEXES = [
    "phone_call__direction_index",
    "phone_call__status_index",
    "phone_call__is_too_long_index",
    "phone_call__recording_state_index",
    "phone_call__recording_downloaded_index",
    "phone_call__analysis_state_index",
    "phone_call__callback_state_index",
    "phone_call__client_number_index",
    "phone_call__client_type_id_index",
]


def migrate(cr, version):
    if not version:
        return
    for name in OBSOLETE_INDEXES:
        cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(name)))
