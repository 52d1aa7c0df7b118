#!/usr/bin/env bash
# Re-export i18n/phone_call_accounting.pot from a real Odoo and merge it into
# every i18n/*.po (new entries empty, vanished ones dropped, translations kept);
# prints the entries still to translate. Usage: tools/update_i18n.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '[update_i18n] %s\n' "$*"; }
# shellcheck source=tools/odoo_env.sh
source "$repo/tools/odoo_env.sh"
find_odoo || { say "no Odoo 19 found: run tools/setup_odoo.py first"; exit 1; }
work=$(mktemp -d /tmp/pca-i18n.XXXXXX)
db="pca_i18n_$$"
trap 'dropdb --if-exists "$db" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$work/addons"
ln -s "$repo" "$work/addons/phone_call_accounting"
addons="$work/addons"
[ -n "$odoo_addons" ] && addons="$odoo_addons,$addons"
# `odoo i18n` reads the addons path from a configuration file only.
printf '[options]\naddons_path = %s\ndata_dir = %s\n' "$addons" "$work/data" >"$work/odoo.conf"
odoo() { (cd "$work" && PYTHONPATH="$odoo_src" "$odoo_python" -m odoo "$@"); }
say "installing the addon on $db"
odoo -c "$work/odoo.conf" -d "$db" -i phone_call_accounting --stop-after-init \
    --http-port=0 --workers=0 --max-cron-threads=0 --log-level=warn
odoo i18n export -c "$work/odoo.conf" -d "$db" phone_call_accounting -l pot \
    -o "$repo/i18n/phone_call_accounting.pot"
"$odoo_python" - "$repo/i18n" <<'PY'
import glob, os, sys
import polib
folder = sys.argv[1]
pot = polib.pofile(os.path.join(folder, "phone_call_accounting.pot"))
for path in sorted(glob.glob(os.path.join(folder, "*.po"))):
    po = polib.pofile(path)
    po.merge(pot)
    for entry in [e for e in po if e.obsolete]:
        po.remove(entry)
    po.save(path)
    todo = [e.msgid for e in po if not e.msgstr or "fuzzy" in e.flags]
    print(f"{os.path.basename(path)}: {len(todo)} to translate")
    for msgid in todo:
        print("  " + repr(msgid))
PY
