"""Reporting's grouped figures on a database, through the report and through the roll-up.

Prints, for each grouping Reporting offers (day, direction, employee, hour of
day, ...), every measure of ``phone.call.report`` computed two ways:

* ``report``: the report's SQL view, one row per call (``phone_rollup=False``);
* ``rollup``: the daily roll-up (``phone.call.daily``), the path that answers
  the report's grouped reads by default; ``-`` where it cannot answer (the
  hour of day is not one of its dimensions: those reads use the view).

and the same for the Phone menu's grouped reads of ``phone.call``. The output
is plain sorted text: run it before and after a change and ``diff`` the two
files. It ends with ``paths agree`` or the groupings where the two paths
differ (exit code 1); a sum over calls that all lack the value is blank
through the view and 0 through the roll-up (the cost of calls without a
tariff): both are shown, and counted as agreeing. It only reads.

Usage (Odoo's python; the addon need not be on the addons path, it is linked):

    /opt/odoo19/venv/bin/python tools/compare_reporting.py DATABASE > figures.txt

Options: ``--addon-dir`` (default this checkout), ``--odoo-src`` (default
$PCA_ODOO_SRC or /opt/odoo19/src), ``--addons`` (default $PCA_ODOO_ADDONS or
/opt/odoo19/addons).
"""

# A command-line script: it prints its figures.
# pylint: disable=print-used

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULE = "phone_call_accounting"
# What Reporting groups by (the graph and pivot views, the search view's group-bys).
REPORT_GROUPINGS = (
    [],
    ["call_date:day"],
    ["call_date:month", "direction"],
    ["direction"],
    ["status"],
    ["user_id"],
    ["call_hour"],
    ["user_id", "direction"],
    ["pbx_id"],
    ["client_type_id"],
)
CALL_GROUPINGS = ([], ["call_date:day"], ["direction", "status"], ["user_id"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("--addon-dir", default=str(REPO))
    parser.add_argument("--odoo-src", default=os.environ.get("PCA_ODOO_SRC") or "/opt/odoo19/src")
    parser.add_argument(
        "--addons", default=os.environ.get("PCA_ODOO_ADDONS") or "/opt/odoo19/addons"
    )
    args = parser.parse_args()
    sys.path.insert(0, args.odoo_src)
    with tempfile.TemporaryDirectory(prefix="pca-compare-") as work:
        (Path(work) / MODULE).symlink_to(Path(args.addon_dir).resolve())
        sys.exit(compare(args.db, f"{args.addons},{work}"))


def compare(db, addons_path):
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        [f"--addons-path={addons_path}", "-d", db, "--log-level=warn", "--no-http"],
        setup_logging=True,
    )
    registry = Registry(db)
    differ = []
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        report = env["phone.call.report"]
        print(f"database {db}: {env['phone.call'].search_count([])} calls")
        for model, groupings in ((report, REPORT_GROUPINGS), (env["phone.call"], CALL_GROUPINGS)):
            aggregates = ["__count", *sorted(model._rollup_aggregates.keys() - {"__count"})]
            for groupby in groupings:
                differ += show(model, groupby, aggregates)
        cr.rollback()
    if differ:
        print(f"paths differ: {differ}")
        return 1
    print("paths agree")
    return 0


def show(model, groupby, aggregates):
    """Print one grouping through both paths; the grouping if they differ."""
    daily = model.env["phone.call.daily"]
    through_report = model.with_context(phone_rollup=False)._read_group([], groupby, aggregates)
    through_rollup = daily._read_group_for(model, [], groupby, aggregates, (), 0, None, None)
    width = len(groupby)
    report_rows = dict(row(values, width) for values in through_report)
    rollup_rows = dict(row(values, width) for values in through_rollup or ())
    same = same_figures(through_report, through_rollup, width)
    print(f"\n{model._name} by {', '.join(groupby) or '(total)'}")
    print("  " + " | ".join(["group", *aggregates]))
    for key in sorted(report_rows.keys() | rollup_rows.keys(), key=repr):
        print(f"  {key}")
        print(f"    report  {report_rows.get(key, '-')}")
        print(f"    rollup  {rollup_rows.get(key, '-') if through_rollup is not None else '-'}")
    if through_rollup is not None and not same:
        return [f"{model._name} by {groupby}"]
    return []


def same_figures(through_report, through_rollup, width):
    """Whether both paths give the same groups and figures (blank counted as 0)."""
    if through_rollup is None:
        return True

    def figures(rows):
        return {
            tuple(value_of(v) for v in values[:width]): [
                round(float(v or 0), 6) for v in values[width:]
            ]
            for values in rows
        }

    return figures(through_report) == figures(through_rollup)


def row(values, width):
    key = tuple(value_of(v) for v in values[:width])
    return key, " ".join(figure(v) for v in values[width:])


def value_of(value):
    if hasattr(value, "_name"):
        return f"{value._name}({value.id}) {value.display_name}" if value else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value if value is not False else None


def figure(value):
    if value is False or value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


if __name__ == "__main__":
    main()
