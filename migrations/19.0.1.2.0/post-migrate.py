"""Drop the single-column index on a call's client.

``_partner_calls_idx`` (client, start, id) replaces it, and Odoo does not drop
an index a field stops declaring.
"""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier("phone_call__partner_id_index")))
