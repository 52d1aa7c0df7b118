"""Which Odoo modules of a source tree are community modules that can install.

Some Odoo 19 source trees mix proprietary (Enterprise) modules in with the
LGPL ones. A module is left out when its manifest licence is proprietary, or
when what it needs -- its manifest ``depends`` and the ``odoo.addons.<name>``
packages its Python imports -- reaches a module that is missing or left out.
Auto-installed modules whose dependencies cannot install would otherwise sit
"to install" forever and break every database.

Usage: python community_modules.py ADDONS_DIR [ADDONS_DIR ...]
prints one line per module: ``keep <name> <path>`` or
``skip <name> <reason>``. Only the standard library: it runs before any venv.
"""

import ast
import os
import re
import sys

PROPRIETARY_LICENCES = {"OEEL-1", "OPL-1"}
MANIFEST = "__manifest__.py"
_IMPORT = re.compile(
    r"^\s*(?:from\s+odoo\.addons\.(\w+)|import\s+odoo\.addons\.(\w+))", re.MULTILINE
)


def find_modules(addons_dirs):
    """{name: path} of every module folder (one with a manifest); first dir wins."""
    modules = {}
    for addons_dir in addons_dirs:
        if not os.path.isdir(addons_dir):
            continue
        for name in sorted(os.listdir(addons_dir)):
            path = os.path.join(addons_dir, name)
            if name not in modules and os.path.isfile(os.path.join(path, MANIFEST)):
                modules[name] = path
    return modules


def read_manifest(path):
    with open(os.path.join(path, MANIFEST), encoding="utf-8") as handle:
        return ast.literal_eval(handle.read())


def imported_modules(path):
    """Names of the ``odoo.addons`` packages a module's Python code imports."""
    names = set()
    for folder, _dirs, files in os.walk(path):
        for file_name in files:
            if not file_name.endswith(".py"):
                continue
            file_path = os.path.join(folder, file_name)
            with open(file_path, encoding="utf-8", errors="replace") as handle:
                for match in _IMPORT.finditer(handle.read()):
                    names.add(match.group(1) or match.group(2))
    names.discard(os.path.basename(path))
    return names


def classify(addons_dirs):
    """Return ({name: path} kept, {name: reason} skipped)."""
    modules = find_modules(addons_dirs)
    needs, skipped = {}, {}
    for name, path in modules.items():
        try:
            manifest = read_manifest(path)
        except (SyntaxError, ValueError, OSError) as error:
            skipped[name] = f"unreadable manifest ({error.__class__.__name__})"
            continue
        if manifest.get("license") in PROPRIETARY_LICENCES:
            skipped[name] = f"licence {manifest['license']}"
            continue
        needs[name] = set(manifest.get("depends", ())) | imported_modules(path)
    changed = True
    while changed:
        changed = False
        for name in list(needs):
            for need in sorted(needs[name]):
                if need in needs:
                    continue
                reason = "missing" if need not in modules else "left out"
                skipped[name] = f"needs {need} ({reason})"
                del needs[name]
                changed = True
                break
    return {name: modules[name] for name in sorted(needs)}, skipped


def main(argv):
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    kept, skipped = classify(argv)
    lines = [f"keep {name} {path}" for name, path in kept.items()]
    lines += [f"skip {name} {reason}" for name, reason in sorted(skipped.items())]
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
