"""The speech process's systemd units agree with the process, the kit and CONFIGURE.

``deploy/systemd/phone-call-speech.socket`` listens where the workers look
for the speech process (``pbx/analysis/service.py``, ``runtime_dir``) and
starts ``phone-call-speech.service`` on demand; the service runs the
process's own command line, as the Odoo user, with Odoo's Python, from the
addon's folder, without an address-space limit.
"""

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT_DIR = REPO / "deploy" / "systemd"
ODOO_UNIT = UNIT_DIR / "odoo.service"
LISTENER_UNIT = UNIT_DIR / "phone-call-listener.service"
CONFIGURE = REPO / "readme" / "CONFIGURE.md"
SPEECH_SOCKET = UNIT_DIR / "phone-call-speech.socket"
SPEECH_UNIT = UNIT_DIR / "phone-call-speech.service"


def read_unit(path):
    """A unit file as test_deploy_kit.py reads it."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), strict=True)
    parser.optionxform = str
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def exec_argv(unit):
    return shlex.split(unit["Service"]["ExecStart"])


def environment(unit):
    return dict(item.split("=", 1) for item in shlex.split(unit["Service"].get("Environment", "")))


def speech_service():
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from pbx.analysis import service

    return service


def test_the_socket_is_where_the_workers_look():
    service = speech_service()
    socket_unit = read_unit(SPEECH_SOCKET)["Socket"]
    assert socket_unit["ListenStream"] == str(service.SYSTEM_DIR / service.SOCKET_NAME)
    assert socket_unit["SocketUser"] == read_unit(ODOO_UNIT)["Service"]["User"]
    assert socket_unit["SocketMode"] == "0600"
    assert socket_unit.get("Accept", "no") == "no", "one process for every connection"
    assert socket_unit["RemoveOnStop"] == "yes", "stopped: the workers start their own"


def test_the_service_runs_the_speech_process():
    unit = read_unit(SPEECH_UNIT)
    service_section = unit["Service"]
    argv = exec_argv(unit)
    assert argv[1:3] == ["-m", "pbx.analysis.service"]
    args = speech_service().build_parser().parse_args(argv[3:])
    assert args.command == "serve"
    assert args.dir is None, "the socket comes from systemd"
    assert not args.detach
    # Odoo's Python and the addon's folder, as the listener
    assert argv[0] == exec_argv(read_unit(ODOO_UNIT))[0]
    listener = read_unit(LISTENER_UNIT)["Service"]
    assert service_section["WorkingDirectory"] == listener["WorkingDirectory"]
    assert service_section["User"] == "odoo"
    assert "phone-call-speech.socket" in unit["Unit"]["Wants"].split()
    assert "phone-call-speech.socket" in unit["Unit"]["After"].split()
    # the models need more address space than an Odoo worker may have
    assert "LimitAS" not in service_section
    odoo_cache = environment(read_unit(ODOO_UNIT))["PBX_MODEL_CACHE"]
    assert environment(unit)["PBX_MODEL_CACHE"] == odoo_cache
    assert not [key for key in environment(unit) if key.startswith("ODOO_")]


def test_configure_says_how_to_enable_it():
    text = CONFIGURE.read_text(encoding="utf-8")
    assert "systemctl enable --now phone-call-speech.socket" in text
    assert "/run/phone_call_accounting/speech.sock" in text


def test_systemd_accepts_the_speech_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze verify needs systemd (apt-get install systemd)")
    probe = tmp_path / "probe.service"
    probe.write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(probe)], capture_output=True, text=True, check=False
    )
    if done.returncode or done.stdout.strip() or done.stderr.strip():
        pytest.skip(f"systemd-analyze verify does not work here: {done.stderr.strip()[:300]}")
    names = []
    for path in (SPEECH_SOCKET, SPEECH_UNIT):
        text = re.sub(
            r"^(ExecStart=)\S+", r"\g<1>/bin/true", path.read_text("utf-8"), flags=re.MULTILINE
        )
        (tmp_path / path.name).write_text(text, encoding="utf-8")
        names.append(str(tmp_path / path.name))
    done = subprocess.run(
        [analyze, "verify", "--man=no", *names],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "phone-call-speech" not in output, output
