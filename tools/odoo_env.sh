# Sourced by the project's scripts (run_tests.sh, start_demo.sh): sets up and
# finds an Odoo 19.
#
# prepare_odoo runs tools/setup_odoo.py with the system python3 (PCA_PYTHON
# overrides it): every step when Odoo comes from PCA_ODOO_HOME, only the
# Debian packages and PostgreSQL steps (--system-only) when PCA_ODOO_PYTHON
# and PCA_ODOO_SRC name an Odoo. Each step is skipped when already done.
#
# find_odoo looks, first match wins (see README, "Where Odoo is found"):
#   1. PCA_ODOO_PYTHON + PCA_ODOO_SRC (+ optional PCA_ODOO_ADDONS), if set;
#   2. $PCA_ODOO_HOME (default /opt/odoo19): venv/bin/python, src/ (holding
#      the odoo package), addons/ (community modules only).
# Our own variables are prefixed PCA_, never ODOO_: Odoo 19 reads ODOO_*.
# Sets odoo_python, odoo_src, odoo_addons and odoo_managed (1 when the Odoo is
# the one in PCA_ODOO_HOME); returns 1 when none is found.

pca_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

odoo_explicit() {
    [ -n "${PCA_ODOO_PYTHON:-}" ] && [ -n "${PCA_ODOO_SRC:-}" ]
}

system_python() {
    if [ -n "${PCA_PYTHON:-}" ]; then
        echo "$PCA_PYTHON"
    elif [ -x /usr/bin/python3 ]; then
        echo /usr/bin/python3
    else
        command -v python3
    fi
}

prepare_odoo() {
    local python args=()
    python=$(system_python)
    if [ -z "$python" ]; then
        say "step 'Python' cannot be done: no python3 found"
        say "  -> install python3 (apt-get install python3 python3-venv) or set PCA_PYTHON"
        return 1
    fi
    odoo_explicit && args=(--system-only)
    "$python" "$pca_tools/setup_odoo.py" "${args[@]}" || return 1
    find_odoo
}

find_odoo() {
    local home=${PCA_ODOO_HOME:-/opt/odoo19}
    odoo_python="" odoo_src="" odoo_addons="${PCA_ODOO_ADDONS:-}" odoo_managed=""
    if odoo_explicit; then
        odoo_python=$PCA_ODOO_PYTHON odoo_src=$PCA_ODOO_SRC
    elif [ -x "$home/venv/bin/python" ] && [ -f "$home/src/odoo/cli/__init__.py" ]; then
        odoo_python=$home/venv/bin/python odoo_src=$home/src odoo_managed=1
        [ -n "$odoo_addons" ] || odoo_addons=$home/addons
    fi
    if [ -z "$odoo_python" ]; then
        say "no Odoo 19 in PCA_ODOO_HOME=$home, and PCA_ODOO_PYTHON/PCA_ODOO_SRC are not set"
        return 1
    fi
    PYTHONPATH="$odoo_src" "$odoo_python" -c 'import odoo.release as r, sys; sys.exit(r.version_info[0] != 19)' \
        2>/dev/null || { say "Odoo at $odoo_src (Python $odoo_python) is not an importable Odoo 19"; return 1; }
}
