#!/usr/bin/env bash
# Start Odoo 19 with this addon and its demo calls on http://127.0.0.1:8069
# (login admin / admin). Usage: tools/start_demo.sh [DATABASE]
# Finds Odoo like the test command does (tools/odoo_env.sh); installs nothing.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '[start_demo] %s\n' "$*"; }
source "$repo/tools/odoo_env.sh"
find_odoo || { say "no Odoo 19 found: set PCA_ODOO_PYTHON and PCA_ODOO_SRC"; exit 1; }
db=${1:-phone_demo}
links=$(mktemp -d /tmp/pca-demo.XXXXXX)
ln -s "$repo" "$links/phone_call_accounting"
addons=$links
[ -n "$odoo_addons" ] && addons="$odoo_addons,$links"
"$odoo_python" -m pip install -q --disable-pip-version-check -r "$repo/requirements.txt"
init=()
if ! psql -d "$db" -Atc 'select 1 from ir_module_module limit 1' >/dev/null 2>&1; then
    init=(-i phone_call_accounting --with-demo)
    say "creating database $db with the demo calls"
fi
cd "$links"
exec env PYTHONPATH="$odoo_src" "$odoo_python" -m odoo --addons-path="$addons" -d "$db" \
    --db-filter="^$db\$" "${init[@]}" --http-interface=127.0.0.1 --http-port=8069
