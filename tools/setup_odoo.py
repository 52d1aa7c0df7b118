"""Set up everything the demo and the test command need, idempotently.

Steps, each said as it happens and skipped when already done:

1. Debian packages (PostgreSQL, Chromium, espeak-ng, sox, ffmpeg, git and the
   build libraries of Odoo's requirements), through apt-get as root or sudo;
2. a running PostgreSQL cluster with a superuser role for the current user;
3. Odoo 19 community source in ``$PCA_ODOO_HOME/src`` (default /opt/odoo19):
   a shallow clone of the official ``19.0`` branch, or ``PCA_ODOO_SOURCE``
   (a git URL, a local git repository, bare or not, or an unpacked source);
4. the community modules of that source on ``$PCA_ODOO_HOME/addons``
   (``community_modules.py`` says which and why the others are left out);
5. a venv in ``$PCA_ODOO_HOME/venv`` with Odoo's requirements;
6. this addon's requirements in that venv.

A step that cannot be done stops with the step, the reason and what gets
past it. Only the standard library: this runs before any venv exists.

Usage: python3 tools/setup_odoo.py [--system-only]

``--system-only`` does steps 1 and 2 only: for an Odoo named by
PCA_ODOO_PYTHON and PCA_ODOO_SRC. Variables: PCA_ODOO_HOME, PCA_ODOO_SOURCE,
PCA_ODOO_BRANCH (default 19.0; for a local repository the default is its
HEAD), PCA_SKIP_APT=1 (install no Debian package), PCA_PYTHON (the Python
that builds the venv, default /usr/bin/python3).
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import community_modules

DEFAULT_HOME = "/opt/odoo19"
DEFAULT_SOURCE = "https://github.com/odoo/odoo.git"
DEFAULT_BRANCH = "19.0"
# Debian package -> a file that shows it is installed (cheaper than dpkg).
PACKAGES = {
    "postgresql": "/usr/lib/postgresql",
    "chromium": "/usr/bin/chromium",
    # Korean glyphs for Chromium: without them Hangul labels are measured (and
    # shown) in a fallback box font, and the Korean screen tour checks nothing real.
    "fonts-nanum": "/usr/share/fonts/truetype/nanum",
    # The production-shape stage serves Odoo behind the deployment kit's nginx site.
    "nginx": "/usr/sbin/nginx",
    "openssl": "/usr/bin/openssl",
    "espeak-ng": "/usr/bin/espeak-ng",
    "sox": "/usr/bin/sox",
    "libsox-fmt-all": "/usr/share/doc/libsox-fmt-all",
    "ffmpeg": "/usr/bin/ffmpeg",
    "git": "/usr/bin/git",
    "python3-venv": "/usr/share/doc/python3-venv",
    "python3-dev": "/usr/share/doc/python3-dev",
    "build-essential": "/usr/share/doc/build-essential",
    "libldap2-dev": "/usr/share/doc/libldap2-dev",
    "libsasl2-dev": "/usr/share/doc/libsasl2-dev",
    "libpq-dev": "/usr/share/doc/libpq-dev",
}
# Packages Odoo's requirements do not list but the addon's tests need, and the
# versions the websocket (gevent) worker can start with: at start it loads
# gevent's plugins through the pkg_resources of setuptools<81, which cannot
# match zope.interface>=7 / zope.event>=6 (dist-info named zope_interface-...)
# to the names gevent requires, and the worker dies in a restart loop.
ODOO_EXTRAS = [
    "phonenumbers",
    "websocket-client",
    "zope.interface==6.4.post2",
    "zope.event==5.0",
    # Again, last: a package that pulled in a newer setuptools took
    # pkg_resources away, and gevent's worker imports it.
    "setuptools<81",
]


class StepFailed(Exception):
    """A step that cannot be done: its message says which, why and what helps."""

    def __init__(self, step, why, remedy):
        super().__init__(f"step '{step}' cannot be done: {why}\n  -> {remedy}")


def say(message):
    sys.stdout.write(f"[setup] {message}\n")
    sys.stdout.flush()


def run(command, step, remedy, log=None, **kwargs):
    """Run a command; a failure stops the set-up with the log's tail."""
    result = subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        raise StepFailed(step, f"`{' '.join(command[:4])} ...` failed:\n{tail}", remedy)
    return result.stdout


def _output(command):
    """A command's standard output, whatever its exit status."""
    return subprocess.run(command, check=False, capture_output=True, text=True).stdout


def missing_packages(exists=os.path.exists):
    return [name for name, marker in PACKAGES.items() if not exists(marker)]


def privilege_prefix(uid, which):
    """The command prefix that runs apt-get as root, or None when there is none."""
    if uid == 0:
        return []
    if which("sudo"):
        return ["sudo", "-n"]
    return None


def step_packages(env, uid=None, which=shutil.which, exists=os.path.exists, runner=None):
    step = "Debian packages"
    runner = runner or run
    missing = missing_packages(exists)
    if not missing:
        say(f"{step}: all there")
        return
    if env.get("PCA_SKIP_APT"):
        say(f"{step}: PCA_SKIP_APT set, not installing {' '.join(missing)}")
        return
    remedy = (
        f"install them yourself (sudo apt-get install {' '.join(missing)}), "
        "or set PCA_SKIP_APT=1 when they come another way"
    )
    if not which("apt-get"):
        raise StepFailed(step, f"apt-get not found, and {' '.join(missing)} are missing", remedy)
    prefix = privilege_prefix(os.getuid() if uid is None else uid, which)
    if prefix is None:
        raise StepFailed(
            step,
            f"not root and no sudo to run apt-get, and {' '.join(missing)} are missing",
            remedy,
        )
    say(f"{step}: installing {' '.join(missing)}")
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    runner([*prefix, "apt-get", "update", "-qq"], step, remedy, env=apt_env)
    runner([*prefix, "apt-get", "install", "-y", "-qq", *missing], step, remedy, env=apt_env)


def _psql_ok():
    command = ["psql", "-d", "postgres", "-Atc", "select 1"]
    return subprocess.run(command, check=False, capture_output=True).returncode == 0


def step_postgres(env):
    step = "PostgreSQL"
    if _psql_ok():
        say(f"{step}: reachable")
        return
    remedy = (
        "start a PostgreSQL 15+ cluster (pg_ctlcluster 15 main start) and give this user a "
        "superuser role (sudo -u postgres createuser -s $USER)"
    )
    if not shutil.which("pg_lsclusters"):
        raise StepFailed(step, "not reachable and pg_lsclusters not found", remedy)
    prefix = privilege_prefix(os.getuid(), shutil.which)
    if prefix is None:
        raise StepFailed(step, "not reachable, and starting it needs root or sudo", remedy)
    clusters = _output(["pg_lsclusters", "-h"])
    if not clusters.strip():
        versions = sorted(
            os.listdir("/usr/lib/postgresql"), key=lambda v: int(v) if v.isdigit() else 0
        )
        say(f"{step}: creating cluster {versions[-1]}/main")
        run([*prefix, "pg_createcluster", versions[-1], "main"], step, remedy)
        clusters = _output(["pg_lsclusters", "-h"])
    for line in clusters.splitlines():
        version, name, _port, status = line.split()[:4]
        if status != "online":
            say(f"{step}: starting cluster {version}/{name}")
            run([*prefix, "pg_ctlcluster", version, name, "start"], step, remedy)
    for _attempt in range(40):
        if subprocess.run(["pg_isready", "-q"], check=False).returncode == 0:
            break
        time.sleep(0.25)
    if not _psql_ok():
        user = env.get("USER") or _output(["id", "-un"]).strip()
        say(f"{step}: creating role {user}")
        run(
            [*prefix, "-u", "postgres", "createuser", "-s", user]
            if prefix
            else ["su", "postgres", "-c", f"createuser -s {user}"],
            step,
            remedy,
        )
    if not _psql_ok():
        raise StepFailed(step, "still not reachable after starting it", remedy)


def odoo_version(src):
    """Odoo's major version in a source folder, or None."""
    release = os.path.join(src, "odoo", "release.py")
    if not os.path.isfile(release):
        return None
    scope = {}
    with open(release, encoding="utf-8") as handle:
        exec(compile(handle.read(), release, "exec"), scope)  # noqa: S102 - Odoo's own file
    return scope["version_info"][0]


def source_kind(source):
    """'url', 'git' (a local repository, bare or not), 'folder' or 'unknown'."""
    if "://" in source or source.startswith("git@"):
        return "url"
    if not os.path.isdir(source):
        return "unknown"
    if os.path.exists(os.path.join(source, ".git")) or (
        os.path.isfile(os.path.join(source, "HEAD"))
        and os.path.isdir(os.path.join(source, "objects"))
    ):
        return "git"
    if os.path.isfile(os.path.join(source, "odoo", "release.py")):
        return "folder"
    return "unknown"


def _archive_local_git(source, ref, dest, step, remedy):
    """``ref`` of a local repository, leaving out blobs a partial snapshot lacks."""
    git = ["git", "-C", source]
    tree = run([*git, "ls-tree", "-r", ref], step, remedy)
    blobs = [line.split(None, 3) for line in tree.splitlines() if line.split()[1] == "blob"]
    check = subprocess.run(
        [*git, "cat-file", "--batch-check"],
        input="".join(f"{blob[2]}\n" for blob in blobs),
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    missing = {line.split()[0] for line in check.splitlines() if line.endswith(" missing")}
    excludes = [f":(exclude){path}" for _m, _t, sha, path in blobs if sha in missing]
    if missing:
        say(f"Odoo source: {len(missing)} file(s) absent from the snapshot are left out")
    os.makedirs(dest)
    # git 2.39 still names an excluded absent blob on stderr: shown only on failure.
    archive = subprocess.Popen(
        [*git, "archive", "--format=tar", ref, "--", ".", *excludes],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    tar = subprocess.run(
        ["tar", "-x", "-C", dest], check=False, stdin=archive.stdout, capture_output=True
    )
    archive.stdout.close()
    errors = archive.stderr.read().decode(errors="replace")
    if archive.wait() != 0 or tar.returncode != 0:
        raise StepFailed(step, f"git archive of {source} failed: {errors[-500:]}", remedy)


def step_source(env, home):
    step = "Odoo source"
    src = os.path.join(home, "src")
    if odoo_version(src) == 19:
        say(f"{step}: Odoo 19 already in {src}")
        return src
    source = env.get("PCA_ODOO_SOURCE") or DEFAULT_SOURCE
    remedy = (
        "set PCA_ODOO_SOURCE to an Odoo 19 git URL, a local Odoo 19 git repository (bare or "
        "not; PCA_ODOO_BRANCH names its branch) or an unpacked Odoo 19 source folder"
    )
    kind = source_kind(source)
    partial = src + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    if kind == "url":
        branch = env.get("PCA_ODOO_BRANCH") or DEFAULT_BRANCH
        say(f"{step}: cloning {source} branch {branch} (shallow) into {src}")
        run(
            ["git", "clone", "--quiet", "--depth", "1", "--branch", branch, source, partial],
            step,
            remedy,
        )
        shutil.rmtree(os.path.join(partial, ".git"), ignore_errors=True)
    elif kind == "git":
        ref = env.get("PCA_ODOO_BRANCH") or "HEAD"
        say(f"{step}: extracting {ref} of the git repository {source} into {src}")
        _archive_local_git(source, ref, partial, step, remedy)
    elif kind == "folder":
        say(f"{step}: copying {source} into {src}")
        shutil.copytree(source, partial, symlinks=True)
    else:
        raise StepFailed(
            step,
            f"{source} is neither a git URL, a git repository nor an Odoo source folder",
            remedy,
        )
    try:
        version = odoo_version(partial)
    except Exception as error:  # noqa: BLE001 - any broken release.py means "not Odoo 19"
        version = f"unreadable ({error.__class__.__name__})"
    if version != 19:
        shutil.rmtree(partial, ignore_errors=True)
        found = "no odoo/release.py" if version is None else f"Odoo {version}"
        raise StepFailed(step, f"{source} holds {found}, not Odoo 19", remedy)
    os.rename(partial, src)
    return src


def step_modules(home, src):
    """Move modules out of Odoo's own package folder, link the community ones."""
    step = "community modules"
    addons, modules = os.path.join(home, "addons"), os.path.join(home, "modules")
    if os.path.isdir(addons) and os.listdir(addons):
        say(f"{step}: {len(os.listdir(addons))} already linked in {addons}")
        return addons
    # Everything in odoo/addons is always on Odoo's path: keep only base there.
    os.makedirs(modules, exist_ok=True)
    for folder in (os.path.join(src, "odoo", "addons"), os.path.join(src, "addons")):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if name != "base" and os.path.isfile(os.path.join(path, community_modules.MANIFEST)):
                os.rename(path, os.path.join(modules, name))
    own = os.path.join(src, "odoo", "addons")
    kept, skipped = community_modules.classify([modules, own])
    kept = {name: path for name, path in kept.items() if not path.startswith(own + os.sep)}
    if not kept:
        raise StepFailed(
            step,
            f"no installable community module in {src}",
            "point PCA_ODOO_SOURCE at a complete Odoo 19 source",
        )
    linking = addons + ".partial"
    shutil.rmtree(linking, ignore_errors=True)
    os.makedirs(linking)
    for name, path in kept.items():
        os.symlink(path, os.path.join(linking, name))
    shutil.rmtree(addons, ignore_errors=True)
    os.rename(linking, addons)
    with open(os.path.join(home, "modules-left-out.txt"), "w", encoding="utf-8") as handle:
        handle.writelines(f"{name}: {reason}\n" for name, reason in sorted(skipped.items()))
    say(
        f"{step}: {len(kept)} linked in {addons}, {len(skipped)} left out "
        f"(list in {home}/modules-left-out.txt)"
    )
    return addons


def _digest(*paths, extra=""):
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def _stamp_matches(stamp, value):
    try:
        with open(stamp, encoding="utf-8") as handle:
            return handle.read().strip() == value
    except OSError:
        return False


def _write_stamp(stamp, value):
    with open(stamp, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")


def venv_base_python(env):
    if env.get("PCA_PYTHON"):
        return env["PCA_PYTHON"]
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def odoo_requirements_key(src):
    return _digest(os.path.join(src, "requirements.txt"), extra=" ".join(ODOO_EXTRAS))


def step_venv(env, home, src, runner=None):
    step = "Odoo's Python"
    runner = runner or run
    venv, python = os.path.join(home, "venv"), os.path.join(home, "venv", "bin", "python")
    stamp = os.path.join(home, ".requirements-odoo")
    key = odoo_requirements_key(src)
    if os.path.exists(python) and _stamp_matches(stamp, key):
        say(f"{step}: {venv} has Odoo's requirements")
        return python
    log = os.path.join(home, "setup.log")
    remedy = (
        "check the network to the package index (pip) and the build libraries of the "
        f"Debian packages step; the full log is {log}"
    )
    if not os.path.exists(python):
        base = venv_base_python(env)
        version = ""
        if shutil.which(base) or os.path.exists(base):
            version = _output([base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            version = version.strip()
        if not version or tuple(int(part) for part in version.split(".")) < (3, 10):
            raise StepFailed(
                step,
                f"{base} is not a Python 3.10 or newer ({version or 'not found'})",
                "set PCA_PYTHON to a Python 3.10-3.13 with the venv module",
            )
        say(f"{step}: creating {venv} with {base} ({version})")
        runner(
            [base, "-m", "venv", venv],
            step,
            remedy + " (Debian: apt-get install python3-venv)",
            log=log,
        )
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    say(f"{step}: installing Odoo's requirements (several minutes the first time)")
    # Debian 12 pitfalls: cbor2 5.4 imports pkg_resources in its setup and
    # reports version 0.0.0 under build isolation.
    runner([*pip, "setuptools<81", "setuptools_scm<8", "wheel"], step, remedy, log=log)
    runner(
        [*pip, "--no-build-isolation", "-r", os.path.join(src, "requirements.txt")],
        step,
        remedy,
        log=log,
    )
    runner([*pip, *ODOO_EXTRAS], step, remedy, log=log)
    # What the websocket worker does first (gevent.monkey.patch_all loads
    # gevent's plugins through pkg_resources): fails here, not in production.
    runner(
        [python, "-c", "import pkg_resources; pkg_resources.require('gevent')"],
        step,
        f"the websocket worker of --workers mode could not start with these versions; see {log}",
        log=log,
    )
    _write_stamp(stamp, key)
    return python


def addon_requirement_files(repo=REPO):
    return [os.path.join(repo, "requirements.txt"), os.path.join(repo, "requirements-test.txt")]


def step_addon_requirements(home, python, runner=None):
    step = "addon requirements"
    runner = runner or run
    files = addon_requirement_files()
    stamp = os.path.join(home, ".requirements-addon")
    key = _digest(*files, extra=python)
    if _stamp_matches(stamp, key):
        say(f"{step}: installed")
        return
    say(f"{step}: installing requirements.txt and requirements-test.txt")
    log = os.path.join(home, "setup.log")
    remedy = f"check the network to the package index; the full log is {log}"
    # requirements-test.txt includes requirements.txt.
    runner(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", files[1]],
        step,
        remedy,
        log=log,
    )
    _write_stamp(stamp, key)


def ensure_home(home):
    step = "Odoo folder"
    try:
        os.makedirs(home, exist_ok=True)
        probe = os.path.join(home, ".write-test")
        with open(probe, "w", encoding="utf-8"):
            pass
        os.unlink(probe)
    except OSError as error:
        raise StepFailed(
            step,
            f"cannot write PCA_ODOO_HOME={home} ({error.strerror})",
            "set PCA_ODOO_HOME to a folder you can write, or run as root",
        ) from error


def setup(env, system_only=False):
    home = env.get("PCA_ODOO_HOME") or DEFAULT_HOME
    started = time.monotonic()
    timings = []

    def timed(name, function, *args):
        begin = time.monotonic()
        result = function(*args)
        took = time.monotonic() - begin
        timings.append(f"{name} {took:.1f} s")
        if took >= 1:
            say(f"{name}: done in {took:.1f} s")
        return result

    timed("packages", step_packages, env)
    timed("postgres", step_postgres, env)
    if not system_only:
        ensure_home(home)
        with open(os.path.join(home, ".setup.lock"), "w", encoding="utf-8") as lock:
            # Two runs at once (a demo and a test run) must not build one venv twice.
            fcntl.flock(lock, fcntl.LOCK_EX)
            src = timed("source", step_source, env, home)
            timed("modules", step_modules, home, src)
            python = timed("venv", step_venv, env, home, src)
            timed("addon", step_addon_requirements, home, python)
    say(f"ready in {time.monotonic() - started:.1f} s ({', '.join(timings)})")


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0
    unknown = [arg for arg in argv if arg != "--system-only"]
    if unknown:
        sys.stderr.write(f"unknown argument(s) {' '.join(unknown)}\n{__doc__}")
        return 2
    try:
        setup(os.environ, system_only="--system-only" in argv)
    except StepFailed as error:
        sys.stderr.write(f"[setup] {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
