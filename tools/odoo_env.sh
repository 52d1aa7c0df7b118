# Sourced by the project's scripts: finds an Odoo 19 without installing one.
#
# Where Odoo is looked for, first match wins (see README, "Tests"):
#   1. PCA_ODOO_PYTHON + PCA_ODOO_SRC (+ optional PCA_ODOO_ADDONS), if set;
#   2. the fixed location /opt/odoo19: venv/bin/python, src/ (holding the
#      odoo package), addons/ (community modules only);
#   3. an `odoo` package importable by python3 (addons path from its config).
# Our own variables are prefixed PCA_, never ODOO_: Odoo 19 reads ODOO_*.
# Sets odoo_python, odoo_src and odoo_addons; returns 1 when none is found.

find_odoo() {
    odoo_python="" odoo_src="" odoo_addons="${PCA_ODOO_ADDONS:-}"
    if [ -n "${PCA_ODOO_PYTHON:-}" ] && [ -n "${PCA_ODOO_SRC:-}" ]; then
        odoo_python=$PCA_ODOO_PYTHON odoo_src=$PCA_ODOO_SRC
    elif [ -x /opt/odoo19/venv/bin/python ] && [ -f /opt/odoo19/src/odoo/cli/__init__.py ]; then
        odoo_python=/opt/odoo19/venv/bin/python odoo_src=/opt/odoo19/src
        [ -n "$odoo_addons" ] || odoo_addons=/opt/odoo19/addons
    elif python3 -c 'import odoo.release' >/dev/null 2>&1; then
        odoo_python=$(command -v python3)
        odoo_src=$(python3 -c 'import odoo, os; print(os.path.dirname(list(odoo.__path__)[0]))')
    fi
    [ -n "$odoo_python" ] || return 1
    PYTHONPATH="$odoo_src" "$odoo_python" -c 'import odoo.release as r, sys; sys.exit(r.version_info[0] != 19)' \
        2>/dev/null || { say "Odoo at $odoo_src is not Odoo 19"; return 1; }
}

