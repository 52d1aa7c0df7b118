#!/usr/bin/env bash
# The linters of .pre-commit-config.yaml, run from packages this script installs
# (these machines cannot fetch pre-commit's hook repositories): ruff, ruff
# format, pylint-odoo, prettier (JS, XML, SCSS) and ESLint. Installs into
# PCA_LINT_HOME (default ~/.cache/phone_call_accounting/lint), never into the
# checkout, which is the addon. Prints one line per linter, "lint: NAME passed"
# or "lint: NAME failed" with its findings, and exits non-zero on a finding.
# Usage: tools/lint.sh [--fix]
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${PCA_LINT_HOME:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/phone_call_accounting/lint}
fix=${1:-}
say() { printf '[lint] %s\n' "$*"; }
mkdir -p "$home"

venv=$home/venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$repo/tools/lint/requirements.txt" "$venv/.requirements"; then
    say "installing the Python linters into $venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check \
        -r "$repo/tools/lint/requirements.txt" && cp "$repo/tools/lint/requirements.txt" "$venv/.requirements" \
        || { say "cannot install the Python linters"; echo "lint: install failed"; exit 1; }
fi
node=$home/node
if [ ! -x "$node/node_modules/.bin/prettier" ] || ! cmp -s "$repo/tools/lint/package.json" "$node/package.json"; then
    say "installing prettier and ESLint into $node"
    mkdir -p "$node" && cp "$repo/tools/lint/package.json" "$node/package.json" \
        && (cd "$node" && npm install --no-audit --no-fund --loglevel=error >/dev/null) \
        || { say "cannot install prettier and ESLint (npm)"; echo "lint: install failed"; exit 1; }
fi

failed=0
run() {
    local name=$1
    shift
    local out
    if out=$(cd "$repo" && "$@" 2>&1); then
        echo "lint: $name passed"
    else
        echo "lint: $name failed"
        printf '%s\n' "$out" | tail -n 40
        failed=$((failed + 1))
    fi
}

web=("static/src/**/*.{js,xml,scss}" "static/tests/**/*.js" "**/*.xml")
prettier=("$node/node_modules/.bin/prettier" --config tools/lint/prettierrc.yml
    --plugin "$node/node_modules/@prettier/plugin-xml/src/plugin.js" --log-level warn)
if [ "$fix" = "--fix" ]; then
    (cd "$repo" && "$venv/bin/ruff" check --fix . ; "$venv/bin/ruff" format . ; "${prettier[@]}" --write "${web[@]}")
fi
run ruff "$venv/bin/ruff" check .
run ruff-format "$venv/bin/ruff" format --check .
# pylint-odoo reads the addon as the package Odoo loads, by its folder name.
link=$(mktemp -d)
ln -s "$repo" "$link/phone_call_accounting"
run pylint-odoo "$venv/bin/pylint" --rcfile="$repo/.pylintrc" "$link/phone_call_accounting"
rm -rf "$link"
run prettier "${prettier[@]}" --check "${web[@]}"
run eslint "$node/node_modules/.bin/eslint" --config tools/lint/eslint.config.mjs "static/**/*.js"
exit "$failed"
