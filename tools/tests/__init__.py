"""Pure tests of the repository's tools and deployment kit (pytest, no Odoo)."""
