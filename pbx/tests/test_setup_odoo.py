"""The set-up script's logic (tools/setup_odoo.py, tools/community_modules.py).

No network and no root: source trees, git repositories and homes are made up
in tmp_path, and commands that would change the machine go to a fake runner.
"""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"pca_tools_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


community_modules = _load("community_modules")
setup_odoo = _load("setup_odoo")
StepFailed = setup_odoo.StepFailed
needs_git = pytest.mark.skipif(not shutil.which("git"), reason="git is not installed")


def module(addons, name, licence="LGPL-3", depends=(), code=""):
    folder = addons / name
    folder.mkdir(parents=True)
    manifest = {"name": name, "license": licence, "depends": list(depends)}
    (folder / "__manifest__.py").write_text(repr(manifest))
    (folder / "__init__.py").write_text(code)
    return folder


def release(src, major):
    (src / "odoo").mkdir(parents=True, exist_ok=True)
    (src / "odoo" / "release.py").write_text(
        f"version_info = ({major}, 0, 0, 'final', 0, '')\nversion = '{major}.0'\n"
    )


def git(*args, cwd=None):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def git_source(path, major):
    """A non-bare git repository holding an Odoo source of that major version."""
    path.mkdir()
    git("init", "-q", str(path))
    release(path, major)
    (path / "requirements.txt").write_text("babel\n")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "odoo", cwd=path)
    return path


class Runner:
    """Records the commands a step would run."""

    def __init__(self):
        self.commands = []

    def __call__(self, command, step, remedy, **kwargs):
        self.commands.append(command)
        return ""


def refuse(*args, **kwargs):
    raise AssertionError(f"nothing should run: {args[0]}")


# -- the community module filter ------------------------------------------


@pytest.fixture
def mixed_tree(tmp_path):
    addons = tmp_path / "addons"
    module(addons, "base")
    module(addons, "web", depends=["base"])
    module(addons, "good", depends=["web"], code="from odoo.addons.web import controllers\n")
    module(addons, "enterprise_x", licence="OEEL-1", depends=["web"])
    module(addons, "paid_y", licence="OPL-1", depends=["web"])
    module(addons, "a", depends=["web", "b"])  # b is nowhere
    module(addons, "c", depends=["a"])
    module(addons, "d", depends=["web"], code="from odoo.addons.enterprise_x import tools\n")
    module(addons, "e", depends=["paid_y"])
    (addons / "not_a_module").mkdir()
    return addons


def test_filter_keeps_only_installable_community_modules(mixed_tree):
    kept, skipped = community_modules.classify([str(mixed_tree)])
    assert sorted(kept) == ["base", "good", "web"]
    assert skipped == {
        "enterprise_x": "licence OEEL-1",
        "paid_y": "licence OPL-1",
        "a": "needs b (missing)",
        "c": "needs a (left out)",
        "d": "needs enterprise_x (left out)",
        "e": "needs paid_y (left out)",
    }


def test_filter_first_folder_wins_and_reads_unreadable_manifests(tmp_path, mixed_tree):
    other = tmp_path / "other"
    module(other, "web", licence="OEEL-1")
    (other / "broken").mkdir()
    (other / "broken" / "__manifest__.py").write_text("{'name': ")
    kept, skipped = community_modules.classify([str(mixed_tree), str(other)])
    assert kept["web"] == str(mixed_tree / "web")
    assert skipped["broken"] == "unreadable manifest (SyntaxError)"


def test_filter_command_line(mixed_tree, capsys):
    assert community_modules.main([str(mixed_tree)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"keep good {mixed_tree / 'good'}" in lines
    assert "skip c needs a (left out)" in lines


def test_modules_step_links_the_kept_ones_then_skips(tmp_path, mixed_tree):
    home, src = tmp_path / "home", tmp_path / "src"
    release(src, 19)
    shutil.move(str(mixed_tree), src / "odoo" / "addons")
    home.mkdir()
    addons = Path(setup_odoo.step_modules(str(home), str(src)))
    assert sorted(p.name for p in addons.iterdir()) == ["good", "web"]  # base stays in odoo/
    assert (addons / "web").resolve() == (home / "modules" / "web").resolve()
    assert (src / "odoo" / "addons" / "base").is_dir()
    assert "c: needs a (left out)" in (home / "modules-left-out.txt").read_text()
    (addons / "good").unlink()  # a second run must not redo anything
    setup_odoo.step_modules(str(home), str(src))
    assert sorted(p.name for p in addons.iterdir()) == ["web"]


# -- "already set up" -------------------------------------------------------


def test_source_step_skips_an_odoo_19_already_there(tmp_path, capsys):
    release(tmp_path / "src", 19)
    env = {"PCA_ODOO_SOURCE": str(tmp_path / "nowhere")}
    assert setup_odoo.step_source(env, str(tmp_path)) == str(tmp_path / "src")
    assert "already" in capsys.readouterr().out


def test_venv_step_skips_with_a_matching_stamp(tmp_path):
    home, src = tmp_path / "home", tmp_path / "src"
    (home / "venv" / "bin").mkdir(parents=True)
    (home / "venv" / "bin" / "python").write_text("")
    src.mkdir()
    (src / "requirements.txt").write_text("babel==2.10.3\n")
    (home / ".requirements-odoo").write_text(setup_odoo.odoo_requirements_key(str(src)) + "\n")
    python = setup_odoo.step_venv({}, str(home), str(src), runner=refuse)
    assert python == str(home / "venv" / "bin" / "python")


def test_venv_step_reinstalls_when_odoo_requirements_change(tmp_path):
    home, src = tmp_path / "home", tmp_path / "src"
    (home / "venv" / "bin").mkdir(parents=True)
    (home / "venv" / "bin" / "python").write_text("")
    src.mkdir()
    (src / "requirements.txt").write_text("babel==2.10.3\n")
    (home / ".requirements-odoo").write_text("an older digest\n")
    runner = Runner()
    setup_odoo.step_venv({}, str(home), str(src), runner=runner)
    assert any("--no-build-isolation" in command for command in runner.commands)
    setup_odoo.step_venv({}, str(home), str(src), runner=refuse)  # stamped now


def test_addon_requirements_step_skips_with_a_matching_stamp(tmp_path):
    runner = Runner()
    setup_odoo.step_addon_requirements(str(tmp_path), "/odoo/python", runner=runner)
    assert runner.commands[0][:3] == ["/odoo/python", "-m", "pip"]
    assert runner.commands[0][-1].endswith("requirements-test.txt")
    setup_odoo.step_addon_requirements(str(tmp_path), "/odoo/python", runner=refuse)


# -- where the source comes from ------------------------------------------


@needs_git
def test_source_kind(tmp_path):
    assert setup_odoo.source_kind("https://github.com/odoo/odoo.git") == "url"
    assert setup_odoo.source_kind("git@github.com:odoo/odoo.git") == "url"
    git("init", "-q", "--bare", str(tmp_path / "bare.git"))
    assert setup_odoo.source_kind(str(tmp_path / "bare.git")) == "git"
    git("init", "-q", str(tmp_path / "work"))
    assert setup_odoo.source_kind(str(tmp_path / "work")) == "git"
    release(tmp_path / "unpacked", 19)
    assert setup_odoo.source_kind(str(tmp_path / "unpacked")) == "folder"
    (tmp_path / "empty").mkdir()
    assert setup_odoo.source_kind(str(tmp_path / "empty")) == "unknown"
    assert setup_odoo.source_kind(str(tmp_path / "nowhere")) == "unknown"


@needs_git
def test_source_step_extracts_a_bare_or_plain_local_repository(tmp_path):
    work = git_source(tmp_path / "work", 19)
    git("clone", "-q", "--bare", str(work), str(tmp_path / "bare.git"))
    for name, source in (("plain", work), ("bare", tmp_path / "bare.git")):
        home = tmp_path / name
        src = setup_odoo.step_source({"PCA_ODOO_SOURCE": str(source)}, str(home))
        assert setup_odoo.odoo_version(src) == 19
        assert (home / "src" / "requirements.txt").is_file()
        assert not (home / "src" / ".git").exists()


def test_source_step_copies_an_unpacked_folder(tmp_path):
    release(tmp_path / "unpacked", 19)
    src = setup_odoo.step_source({"PCA_ODOO_SOURCE": str(tmp_path / "unpacked")}, str(tmp_path))
    assert setup_odoo.odoo_version(src) == 19


# -- refusals ---------------------------------------------------------------


def test_packages_without_apt_get_names_the_step_and_pca_skip_apt():
    with pytest.raises(StepFailed) as failed:
        setup_odoo.step_packages({}, uid=0, which=lambda name: None, exists=lambda path: False)
    message = str(failed.value)
    assert "'Debian packages'" in message
    assert "apt-get not found" in message
    assert "PCA_SKIP_APT=1" in message


def test_packages_not_root_and_no_sudo():
    def which(name):
        return "/usr/bin/apt-get" if name == "apt-get" else None

    with pytest.raises(StepFailed) as failed:
        setup_odoo.step_packages({}, uid=1000, which=which, exists=lambda path: False)
    message = str(failed.value)
    assert "'Debian packages'" in message
    assert "not root and no sudo" in message
    assert "apt-get install" in message
    assert "PCA_SKIP_APT=1" in message


def test_packages_installed_with_sudo_or_as_root_or_skipped():
    def which(name):
        return f"/usr/bin/{name}"

    runner = Runner()
    setup_odoo.step_packages({}, uid=1000, which=which, exists=lambda p: False, runner=runner)
    assert runner.commands[-1][:4] == ["sudo", "-n", "apt-get", "install"]
    assert "chromium" in runner.commands[-1]
    runner = Runner()
    setup_odoo.step_packages(
        {}, uid=0, which=which, exists=lambda p: p != "/usr/bin/sox", runner=runner
    )
    assert runner.commands[-1] == ["apt-get", "install", "-y", "-qq", "sox"]
    setup_odoo.step_packages(
        {"PCA_SKIP_APT": "1"}, uid=1000, which=lambda n: None, exists=lambda p: False, runner=refuse
    )
    setup_odoo.step_packages(
        {}, uid=1000, which=lambda n: None, exists=lambda p: True, runner=refuse
    )


def test_unwritable_home_names_pca_odoo_home(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StepFailed) as failed:
        setup_odoo.ensure_home(str(tmp_path / "a-file" / "odoo19"))
    assert "PCA_ODOO_HOME" in str(failed.value)


@needs_git
def test_a_git_source_that_is_not_odoo_19_is_refused(tmp_path):
    source = git_source(tmp_path / "odoo18", 18)
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(StepFailed) as failed:
        setup_odoo.step_source({"PCA_ODOO_SOURCE": str(source)}, str(home))
    message = str(failed.value)
    assert "'Odoo source'" in message
    assert "Odoo 18, not Odoo 19" in message
    assert "PCA_ODOO_SOURCE" in message
    assert list(home.iterdir()) == []  # nothing half-made is left


def test_an_unknown_source_is_refused(tmp_path):
    with pytest.raises(StepFailed) as failed:
        setup_odoo.step_source({"PCA_ODOO_SOURCE": str(tmp_path / "nowhere")}, str(tmp_path))
    assert "neither a git URL" in str(failed.value)


def test_command_line_refuses_unknown_arguments(capsys):
    assert setup_odoo.main(["--bogus"]) == 2
    assert "--system-only" in capsys.readouterr().err


def test_setup_system_only_touches_no_odoo_home(tmp_path, monkeypatch):
    done = []
    monkeypatch.setattr(setup_odoo, "step_packages", lambda env: done.append("packages"))
    monkeypatch.setattr(setup_odoo, "step_postgres", lambda env: done.append("postgres"))
    setup_odoo.setup({"PCA_ODOO_HOME": str(tmp_path / "home")}, system_only=True)
    assert done == ["packages", "postgres"]
    assert not (tmp_path / "home").exists()
