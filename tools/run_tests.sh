#!/usr/bin/env bash
# The project's test command: sets up what it needs (tools/setup_odoo.py, each
# step skipped when done), runs the pure pbx suite, then the Odoo suite on a
# fresh database. Ends with the line "N passed, N failed"; an Odoo suite that
# cannot run (set-up failed, no PostgreSQL, Odoo ended without a summary)
# counts as failed. PCA_PURE_ONLY=1 runs the pure suite alone, in a venv kept
# outside the checkout (the checkout is the addon: Odoo's translation export
# would walk a venv inside it).
# Where Odoo comes from: tools/odoo_env.sh.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d /tmp/pca-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT
pure_passed=0 pure_failed=0 odoo_passed=0 odoo_failed=0 prod_passed=0 prod_failed=0
lint_passed=0 lint_failed=0

say() { printf '[run_tests] %s\n' "$*"; }
# shellcheck source=tools/odoo_env.sh
source "$repo/tools/odoo_env.sh"

# "passed failed" of a pytest JUnit report; "0 1" when there is none.
junit_counts() {
    local python=$1 xml=$2
    if [ ! -f "$xml" ]; then
        echo "0 1"
        return
    fi
    "$python" - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
count = lambda key: sum(int(s.get(key, 0)) for s in suites)
failed = count("failures") + count("errors")
print(count("tests") - failed - count("skipped"), failed)
EOF
}

run_pure() {
    local python=$1 core_passed core_failed kit_passed kit_failed
    say "pure suite (pytest) with $python"
    (cd "$repo" && "$python" -m pytest -p no:cacheprovider --junitxml="$work/pure.xml" pbx/tests) | tail -n 15
    read -r core_passed core_failed < <(junit_counts "$python" "$work/pure.xml")
    # The tools' own tests (deployment kit, set-up) have their own pytest.ini.
    (cd "$repo" && "$python" -m pytest -p no:cacheprovider -c tools/pytest.ini \
        --junitxml="$work/tools.xml" tools/tests) | tail -n 5
    read -r kit_passed kit_failed < <(junit_counts "$python" "$work/tools.xml")
    pure_passed=$((core_passed + kit_passed)) pure_failed=$((core_failed + kit_failed))
}

# The linters of .pre-commit-config.yaml (tools/lint.sh): one result each.
run_lint() {
    say "linters (tools/lint.sh): ruff, ruff format, pylint-odoo, prettier, ESLint"
    local out
    out=$(bash "$repo/tools/lint.sh" 2>&1)
    printf '%s\n' "$out" | grep -v '^lint: .* passed$' | tail -n 60
    lint_passed=$(printf '%s\n' "$out" | grep -c '^lint: .* passed$')
    lint_failed=$(printf '%s\n' "$out" | grep -c '^lint: .* failed$')
    [ "$lint_passed" -gt 0 ] || [ "$lint_failed" -gt 0 ] || lint_failed=1
}

# The test database served as production serves it (--workers 2 with the
# websocket worker, default memory limits): tools/production_shape/.
run_production_shape() {
    local db=$1 addons=$2
    say "production-shape stage: $db with --workers 2 --gevent-port"
    (cd "$repo" && PCA_PROD_DB="$db" PCA_PROD_PYTHON="$odoo_python" PCA_PROD_SRC="$odoo_src" \
        PCA_PROD_ADDONS="$addons" PCA_PROD_LOG="$work/production.log" PCA_PROD_DATA="$work/data" \
        "$odoo_python" -m pytest -p no:cacheprovider -c tools/pytest.ini \
        --junitxml="$work/production.xml" tools/production_shape) | tail -n 25
    read -r prod_passed prod_failed < <(junit_counts "$odoo_python" "$work/production.xml")
    if [ "$prod_failed" -ne 0 ] && [ -f "$work/production.log" ]; then
        say "production-shape server log (tail):"
        tail -n 30 "$work/production.log"
    fi
    [ -z "${PCA_KEEP_LOG:-}" ] || cp "$work/production.log" "$PCA_KEEP_LOG.production" 2>/dev/null
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
    local failed=0 errors=0 total=0
    if [ -n "$summary" ]; then
        read -r failed errors total < <(echo "$summary" | sed -E 's/([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests/\1 \2 \3/')
        odoo_failed=$((failed + errors))
        odoo_passed=$((total - odoo_failed))
    fi
    if [ "$odoo_failed" -eq 0 ] && { [ "$status" -ne 0 ] || [ "$total" -eq 0 ]; }; then
        # A crash, or a run that never reached the tests, is a failed suite.
        if [ -z "$summary" ]; then
            say "Odoo exited with $status without a test summary; log tail:"
        else
            say "Odoo exited with $status after $total test(s); log tail:"
        fi
        tail -n 40 "$log"
        odoo_failed=1
    fi
    if [ "$total" -gt 0 ]; then
        run_production_shape "$db" "$addons"
    else
        say "production-shape stage not run: the Odoo suite did not install the addon"
        prod_failed=1
    fi
    [ -n "${PCA_KEEP_DB:-}" ] || dropdb --if-exists "$db" >/dev/null 2>&1
    [ -z "${PCA_KEEP_LOG:-}" ] || cp "$log" "$PCA_KEEP_LOG"
}

pure_in_venv() {
    local venv=${PCA_PURE_VENV:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/phone_call_accounting/pure-venv}
    if [ ! -x "$venv/bin/python" ]; then
        say "creating $venv"
        mkdir -p "$(dirname "$venv")"
        "$(system_python)" -m venv "$venv" >"$work/venv.log" 2>&1 || tail -n 5 "$work/venv.log"
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/requirements-test.txt" \
        >"$work/pip.log" 2>&1 || { say "pip install into $venv failed:"; tail -n 5 "$work/pip.log"; }
    run_pure "$venv/bin/python"
}

if [ -n "${PCA_PURE_ONLY:-}" ] && [ "$PCA_PURE_ONLY" != 0 ]; then
    say "PCA_PURE_ONLY=$PCA_PURE_ONLY: the pure suite alone, in its own venv; the Odoo suite is not run"
    pure_in_venv
elif prepare_odoo; then
    if [ -z "$odoo_managed" ]; then
        # An Odoo named by PCA_ODOO_PYTHON: the set-up installed nothing into it.
        "$odoo_python" -m pip install -q --disable-pip-version-check -r "$repo/requirements-test.txt" \
            >"$work/pip.log" 2>&1 || { say "pip install into $odoo_python failed:"; tail -n 5 "$work/pip.log"; }
    fi
    run_pure "$odoo_python"
    run_lint
    if psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then
        run_odoo
    else
        say "PostgreSQL is not reachable: the Odoo suite cannot run and counts as failed"
        odoo_failed=1
    fi
else
    say "the set-up failed (above): the Odoo suite cannot run and counts as failed"
    say "(PCA_PURE_ONLY=1 runs the pure suite alone)"
    odoo_failed=1
    if find_odoo >/dev/null 2>&1; then run_pure "$odoo_python"; else pure_in_venv; fi
fi

say "pure: $pure_passed passed, $pure_failed failed; lint: $lint_passed passed, $lint_failed failed;" \
    "odoo: $odoo_passed passed, $odoo_failed failed; production shape: $prod_passed passed, $prod_failed failed"
passed=$((pure_passed + lint_passed + odoo_passed + prod_passed))
failed=$((pure_failed + lint_failed + odoo_failed + prod_failed))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
