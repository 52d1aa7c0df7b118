"""What the benchmark scripts share: constants, Odoo options and small helpers.

The scripts run as ``python bench/<script>.py``, so this folder is on
``sys.path`` and they import it as ``common``.
"""

# A helper of scripts, not addon code: it prints their progress.
# pylint: disable=print-used

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# What a run leaves behind lives outside the checkout, which is the addon
# itself: Odoo's translation export walks every file under it.
OUT = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "phone_call_accounting"
    / "bench"
)
# The scripts import the repository's own packages (pbx) after this module.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
MODULE = "phone_call_accounting"
TZ = "Europe/Amsterdam"
EXTENSIONS = [str(201 + n) for n in range(20)]
# Generated mobile numbers are (i * MULT) mod a power of ten: a bijection, so
# every partner has its own number and any i picks one.
MULT = 7919
ODOO_PYTHON = Path("/opt/odoo19/venv/bin/python")
ODOO_ADDONS = Path("/opt/odoo19/addons")
# Odoo run once in a subprocess (install, upgrade, shell): no server, no cron.
ODOO_BATCH_OPTIONS = [
    "--no-http",
    "--workers=0",
    "--max-cron-threads=0",
    "--log-level=warn",
]


def stop_group(process):
    """SIGTERM to a server started in a process group of its own (Odoo's master,
    workers and websocket worker), SIGKILL if it is not gone within a minute."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def say(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def pct(values, p):
    """The ``p``-th percentile (0-100), linear between the closest ranks; NaN if empty."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    if p == 0:
        return min(values)
    if p == 100:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def add_odoo_arguments(parser):
    """The options that find Odoo (the same order as tools/run_tests.sh) and the addon."""
    parser.add_argument(
        "--odoo-src",
        default=os.environ.get("PCA_ODOO_SRC") or "/opt/odoo19/src",
        help="folder holding the odoo package (default: $PCA_ODOO_SRC or /opt/odoo19/src)",
    )
    parser.add_argument(
        "--odoo-python",
        default=os.environ.get("PCA_ODOO_PYTHON"),
        help="Odoo's python; this script re-runs itself with it if needed "
        f"(default: $PCA_ODOO_PYTHON, else {ODOO_PYTHON} or the running python)",
    )
    parser.add_argument(
        "--addons",
        default=os.environ.get("PCA_ODOO_ADDONS"),
        help=f"community addons path (default: $PCA_ODOO_ADDONS or {ODOO_ADDONS})",
    )
    parser.add_argument(
        "--addon-dir",
        default=str(REPO),
        help="the addon's folder, any name (default: this checkout)",
    )
    parser.add_argument(
        "--data-dir",
        default=str(OUT / "data"),
        help="Odoo data dir (filestore) kept beside the database",
    )


def complete_odoo_arguments(args):
    """Fill in the defaults of ``add_odoo_arguments`` that depend on this machine."""
    if not args.addons and ODOO_ADDONS.is_dir():
        args.addons = str(ODOO_ADDONS)
    if not args.odoo_python:
        args.odoo_python = str(ODOO_PYTHON) if ODOO_PYTHON.exists() else sys.executable
    return args


def rerun_with_odoo_python(args, reason):
    """Re-run this script with Odoo's python, or stop with ``reason``."""
    # A venv's python is a symlink to the base one: compare the paths unresolved.
    if os.path.abspath(args.odoo_python) != os.path.abspath(sys.executable):
        os.execv(args.odoo_python, [args.odoo_python, *sys.argv])
    sys.exit(reason)


def link_addon(args, work):
    """The addons path with the addon under its module name (the checkout may be called
    anything), through a symlink in the temporary folder ``work``."""
    (work / "addons").mkdir()
    (work / "addons" / MODULE).symlink_to(Path(args.addon_dir).resolve())
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    return ",".join(filter(None, [args.addons, str(work / "addons")]))


@contextlib.contextmanager
def odoo_registry(args, run_odoo, prefix):
    """Odoo configured in this process for ``args.db``, the addon installed
    (``run_odoo(args, addons_path, "-i")``, the database dropped first unless
    ``--reuse``) or upgraded (``-u``, unless ``--no-update``); yields its registry."""
    # Odoo imports only here: the scripts start under any python and re-run under Odoo's.
    from odoo.modules.registry import Registry
    from odoo.service import db as db_service
    from odoo.tools import config

    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        addons_path = link_addon(args, work)
        config.parse_config(
            [
                f"--addons-path={addons_path}",
                "-d",
                args.db,
                f"--data-dir={args.data_dir}",
                "--log-level=warn",
                "--workers=0",
                "--max-cron-threads=0",
                "--no-http",
            ],
            setup_logging=True,
        )
        exists = db_service.exp_db_exist(args.db)
        if exists and not args.reuse:
            say(f"dropping database {args.db}")
            db_service.exp_drop(args.db)
            exists = False
        if not exists:
            run_odoo(args, addons_path, "-i")
        elif not args.no_update:
            run_odoo(args, addons_path, "-u")
        yield Registry(args.db)
    finally:
        # The addon symlink goes, not what it points to.
        (work / "addons" / MODULE).unlink(missing_ok=True)
        shutil.rmtree(work)


def run_odoo_once(command, env, what):
    """Run Odoo to completion (``what`` names it in the progress lines); stop the
    benchmark if it fails or logs an error."""
    say(what)
    t0 = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    errors = [
        line for line in result.stderr.splitlines() if " ERROR " in line or " CRITICAL " in line
    ]
    if result.returncode or errors:
        sys.stderr.write(result.stderr[-5000:])
        sys.exit(f"{what} failed with exit code {result.returncode}")
    say(f"{what}: done in {time.perf_counter() - t0:.0f} s")


def print_table(context, headers, rows, right=False):
    """``context``, then ``rows`` in a text table, cells left-aligned (right-aligned
    with ``right``) below left-aligned ``headers``."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    print()
    print(context)
    print(line)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print(line)
    for row in rows:
        cells = (
            str(c).rjust(w) if right else str(c).ljust(w) for c, w in zip(row, widths, strict=True)
        )
        print("| " + " | ".join(cells) + " |")
    print(line, flush=True)


def addon_label(addon_dir):
    """The addon folder and, for a git checkout, its commit (+ if modified)."""
    path = Path(addon_dir).resolve()

    def git(*args):
        command = ["git", "-C", str(path), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return str(path)
    return f"{path} @ {head}{' + local changes' if dirty else ''}"
