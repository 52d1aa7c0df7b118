#!/usr/bin/env bash
# Start Odoo 19 with this addon and its demo calls on http://127.0.0.1:8069
# (login admin / admin). Usage: tools/start_demo.sh [DATABASE]
# Sets up what it needs first, like the test command (tools/setup_odoo.py
# through tools/odoo_env.sh; each step skipped when done).
# PCA_HTTP_PORT serves on another port (default 8069).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '[start_demo] %s\n' "$*"; }
# shellcheck source=tools/odoo_env.sh
source "$repo/tools/odoo_env.sh"
prepare_odoo || { say "the set-up failed (above): the demo cannot start"; exit 1; }
db=${1:-phone_demo}
port=${PCA_HTTP_PORT:-8069}
links=$(mktemp -d /tmp/pca-demo.XXXXXX)
ln -s "$repo" "$links/phone_call_accounting"
addons=$links
[ -n "$odoo_addons" ] && addons="$odoo_addons,$links"
if [ -z "$odoo_managed" ]; then
    # An Odoo named by PCA_ODOO_PYTHON: the set-up installed nothing into it.
    "$odoo_python" -m pip install -q --disable-pip-version-check -r "$repo/requirements.txt"
fi
odoo() { (cd "$links" && exec env PYTHONPATH="$odoo_src" "$odoo_python" -m odoo --addons-path="$addons" -d "$db" \
    --db-filter="^$db\$" --http-interface=127.0.0.1 "$@"); }
if ! psql -d "$db" -Atc 'select 1 from ir_module_module limit 1' >/dev/null 2>&1; then
    say "building database $db with the demo calls (about half a minute the first time)..."
    odoo -i phone_call_accounting --with-demo --stop-after-init --http-port="$port" --log-level=warn
fi
say "starting Odoo on port $port..."
odoo --http-port="$port" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' INT TERM
for _ in $(seq 1 120); do
    if ! kill -0 "$server" 2>/dev/null; then
        say "Odoo stopped before it served (its log is above)"
        exit 1
    fi
    if "$odoo_python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port/web/health" 2>/dev/null; then
        say "ready: database $db on http://127.0.0.1:$port (login admin, password admin)"
        break
    fi
    sleep 0.5
done
wait "$server"
