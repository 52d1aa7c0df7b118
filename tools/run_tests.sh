#!/usr/bin/env bash
# The project's test command: the pure pbx suite, then the Odoo suite on a
# fresh database when an Odoo 19 is found. Ends with "N passed, N failed".
# Where Odoo is looked for: tools/odoo_env.sh.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/pca-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
pure_passed=0 pure_failed=0 odoo_passed=0 odoo_failed=0

say() { printf '[run_tests] %s\n' "$*"; }
# shellcheck source=tools/odoo_env.sh
source "$repo/tools/odoo_env.sh"

ensure_postgres() {
    if psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then return 0; fi
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters -h | while read -r ver name _port status _rest; do
            [ "$status" = online ] || pg_ctlcluster "$ver" "$name" start
        done
        for _ in $(seq 20); do
            pg_isready -q && break
            sleep 0.5
        done
        if ! psql -d postgres -Atc 'select 1' >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
            su postgres -c "createuser -s $(id -un)" >/dev/null 2>&1
        fi
    fi
    psql -d postgres -Atc 'select 1' >/dev/null 2>&1
}

ensure_debian_packages() {
    local missing=()
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # Audio tests speak real sentences and convert formats.
    command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
    command -v sox >/dev/null 2>&1 || missing+=(sox libsox-fmt-all)
    command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} from Debian"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
            >"$work/apt.log" 2>&1 || say "could not install ${missing[*]}: tests needing them skip"
    fi
}

run_pure() {
    local python=$1
    say "pure suite (pytest) with $python"
    (cd "$repo" && "$python" -m pytest -p no:cacheprovider --junitxml="$work/pure.xml" pbx/tests) | tail -n 15
    if [ -f "$work/pure.xml" ]; then
        read -r pure_passed pure_failed < <("$python" - "$work/pure.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
count = lambda key: sum(int(s.get(key, 0)) for s in suites)
failed = count("failures") + count("errors")
print(count("tests") - failed - count("skipped"), failed)
EOF
)
    else
        pure_failed=1
    fi
}

run_odoo() {
    local db="pca_test_$$_$(date +%s)" port log="$work/odoo.log"
    port=$("$odoo_python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$work/addons"
    # Odoo loads the addon by its folder name; the checkout may be called anything.
    ln -s "$repo" "$work/addons/phone_call_accounting"
    local addons="$work/addons"
    [ -n "$odoo_addons" ] && addons="$odoo_addons,$addons"
    say "Odoo suite: $odoo_src, database $db, addons $addons"
    (cd "$work" && PYTHONPATH="$odoo_src" "$odoo_python" -m odoo \
        --addons-path="$addons" -d "$db" --db-filter="^$db\$" \
        -i phone_call_accounting --test-tags /phone_call_accounting \
        --stop-after-init --http-interface=127.0.0.1 --http-port="$port" \
        --workers=0 --max-cron-threads=0 --log-level=test \
        --data-dir="$work/data" >"$log" 2>&1)
    local status=$?
    grep -E '(ERROR|CRITICAL|FAIL:|odoo\.tests\.result|odoo\.tests\.stats)' "$log" | tail -n 60
    local summary
    summary=$(grep -oE '[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$log" | tail -n 1)
    if [ -n "$summary" ]; then
        read -r failed errors total < <(echo "$summary" | sed -E 's/([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests/\1 \2 \3/')
        odoo_failed=$((failed + errors))
        odoo_passed=$((total - odoo_failed))
    fi
    if [ "$status" -ne 0 ] && [ "$odoo_failed" -eq 0 ]; then
        say "Odoo exited with $status; log tail:"
        tail -n 40 "$log"
        odoo_failed=1
    fi
    [ -n "${PCA_KEEP_DB:-}" ] || dropdb --if-exists "$db" >/dev/null 2>&1
    [ -z "${PCA_KEEP_LOG:-}" ] || cp "$log" "$PCA_KEEP_LOG"
}

ensure_debian_packages
if find_odoo; then
    "$odoo_python" -m pip install -q --disable-pip-version-check -r "$repo/requirements-test.txt" \
        >"$work/pip.log" 2>&1 || { say "pip install into Odoo's Python failed:"; tail -n 5 "$work/pip.log"; }
    run_pure "$odoo_python"
    if ensure_postgres; then
        run_odoo
    else
        say "PostgreSQL is not reachable: the Odoo suite cannot run"
        odoo_failed=1
    fi
else
    say "No Odoo 19 found (PCA_ODOO_PYTHON/PCA_ODOO_SRC, /opt/odoo19, importable odoo):"
    say "the Odoo suite was SKIPPED; only the pure suite runs."
    venv="$repo/.venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/requirements-test.txt" \
        >"$work/pip.log" 2>&1 || tail -n 5 "$work/pip.log"
    run_pure "$venv/bin/python"
fi

say "pure: $pure_passed passed, $pure_failed failed; odoo: $odoo_passed passed, $odoo_failed failed"
echo "$((pure_passed + odoo_passed)) passed, $((pure_failed + odoo_failed)) failed"
[ $((pure_failed + odoo_failed)) -eq 0 ]
