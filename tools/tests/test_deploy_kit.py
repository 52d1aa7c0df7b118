"""The deployment kit (``deploy/``) agrees with itself, the addon and its documentation.

Pure tests (standard library and pytest): ``deploy/odoo.conf`` and the
systemd units are read with configparser, the nginx site with a small
tokenizer, and the checks are the ones a wrong edit would break in
production: nginx sending ``/websocket`` to another port than Odoo's
gevent port, a ``data_dir`` outside the unit's StateDirectory, an option
name Odoo ignores (``db_filter`` for ``dbfilter``), a listener option
``python -m pbx listen`` refuses, a README giving other paths. Where nginx
and systemd are installed, ``nginx -t`` and ``systemd-analyze verify`` read
the files too; each skips when its tool is absent.
"""

import ast
import configparser
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ODOO_CONF = DEPLOY / "odoo.conf"
LISTEN_JSON = DEPLOY / "listen.json"
NGINX_SITE = DEPLOY / "nginx" / "odoo.conf"
UNIT_DIR = DEPLOY / "systemd"
ODOO_UNIT = UNIT_DIR / "odoo.service"
LISTENER_UNIT = UNIT_DIR / "phone-call-listener.service"
LISTENER_TEMPLATE = UNIT_DIR / "phone-call-listener@.service"
CONFIGURE = REPO / "readme" / "CONFIGURE.md"
README = REPO / "README.md"


# The names odoo.conf may hold: every option of Odoo 19's
# odoo/tools/config.py that is loaded from the file (the option's dest, not
# its command-line flag), plus "without_demo", which the loader maps itself.
# Odoo logs an unknown name and ignores it. Checked against the source by
# test_known_option_names_are_odoo_19s when an Odoo 19 source is at hand.
ODOO_FILE_OPTIONS = frozenset(
    {
        "addons_path",
        "admin_passwd",
        "bin_path",
        "csv_internal_sep",
        "data_dir",
        "db_app_name",
        "db_host",
        "db_maxconn",
        "db_maxconn_gevent",
        "db_name",
        "db_password",
        "db_port",
        "db_replica_host",
        "db_replica_port",
        "db_sslmode",
        "db_template",
        "db_user",
        "dbfilter",
        "default_productivity_apps",
        "dev_mode",
        "email_from",
        "from_filter",
        "geoip_city_db",
        "geoip_country_db",
        "gevent_port",
        "http_enable",
        "http_interface",
        "http_port",
        "import_file_maxbytes",
        "import_file_timeout",
        "import_url_regex",
        "limit_memory_hard",
        "limit_memory_hard_gevent",
        "limit_memory_soft",
        "limit_memory_soft_gevent",
        "limit_request",
        "limit_time_cpu",
        "limit_time_real",
        "limit_time_real_cron",
        "limit_time_worker_cron",
        "list_db",
        "load_language",
        "log_db",
        "log_db_level",
        "log_handler",
        "log_level",
        "logfile",
        "max_cron_threads",
        "osv_memory_count_limit",
        "overwrite_existing_translations",
        "pg_path",
        "pidfile",
        "pre_upgrade_scripts",
        "proxy_access_token",
        "proxy_mode",
        "publisher_warranty_url",
        "reportgz",
        "screencasts",
        "screenshots",
        "server_wide_modules",
        "skip_auto_install",
        "smtp_password",
        "smtp_port",
        "smtp_server",
        "smtp_ssl",
        "smtp_ssl_certificate_filename",
        "smtp_ssl_private_key_filename",
        "smtp_user",
        "syslog",
        "transient_age_limit",
        "unaccent",
        "upgrade_path",
        "websocket_keep_alive_timeout",
        "websocket_rate_limit_burst",
        "websocket_rate_limit_delay",
        "with_demo",
        "without_demo",
        "workers",
        "x_sendfile",
    }
)


# --- readers -----------------------------------------------------------------


def listener():
    """pbx/listener's command line and configuration modules (the pure core).

    pytest.ini puts the repository on the path; this does it when the file
    runs on its own.
    """
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from pbx.listener import cli, config

    return cli, config


def read_odoo_conf(path=ODOO_CONF):
    parser = configparser.RawConfigParser()  # as Odoo reads it
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def odoo_options(path=ODOO_CONF):
    return dict(read_odoo_conf(path).items("options"))


def read_unit(path):
    """A unit file as configparser reads it: case kept, no interpolation.

    ``strict`` refuses a key given twice in a section, which systemd would
    read as a list: the kit's units write each key once.
    """
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), strict=True)
    parser.optionxform = str
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def exec_argv(unit):
    return shlex.split(unit["Service"]["ExecStart"])


def option_value(argv, *names):
    """The value of ``--name VALUE`` or ``--name=VALUE`` (any of names) in argv."""
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def environment(unit):
    return dict(item.split("=", 1) for item in shlex.split(unit["Service"].get("Environment", "")))


def state_dir(unit):
    return Path("/var/lib", unit["Service"]["StateDirectory"])


def parse_nginx(text):
    """nginx's syntax as nested ``(name, args, children)``; children None for a simple one."""
    text = re.sub(r"#[^\n]*", "", text)
    tokens = re.findall(r'"[^"]*"|\'[^\']*\'|[{};]|[^\s{};]+', text)
    position = 0

    def block(depth):
        nonlocal position
        items, words = [], []
        while position < len(tokens):
            token = tokens[position]
            position += 1
            if token in (";", "{"):
                assert words, f"nginx: '{token}' without a directive"
                children = block(depth + 1) if token == "{" else None
                items.append((words[0], words[1:], children))
                words = []
            elif token == "}":
                assert depth > 0 and not words, "nginx: unbalanced '}'"
                return items
            else:
                words.append(token.strip("\"'"))
        assert depth == 0 and not words, "nginx: unclosed block or missing ';'"
        return items

    return block(0)


def directives(items, name):
    return [item for item in items if item[0] == name]


def nginx_site():
    return parse_nginx(NGINX_SITE.read_text(encoding="utf-8"))


def nginx_upstream_ports(site):
    """Upstream name -> the ports of its servers."""
    ports = {}
    for _name, args, children in directives(site, "upstream"):
        ports[args[0]] = {
            (server_args[0].rsplit(":", 1)[0], int(server_args[0].rsplit(":", 1)[1]))
            for _, server_args, _ in directives(children, "server")
        }
    return ports


def nginx_locations(site):
    """(server block, location path, location children) of every location."""
    found = []
    for _name, _args, server in directives(site, "server"):
        for _, args, children in directives(server, "location"):
            found.append((server, args[-1], children))
    return found


def nginx_size(value):
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, f"unreadable nginx size {value!r}"
    return int(match.group(1)) * units.get(match.group(2), 1)


def nginx_seconds(value):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    assert match, f"unreadable nginx time {value!r}"
    return int(match.group(1)) * units[match.group(2) or "s"]


def install_destinations():
    """deploy/<file> -> where readme/CONFIGURE.md says to install it (its table)."""
    rows = re.findall(
        r"^\|\s*`(deploy/[^`]+)`\s*\|\s*`(/[^`]+)`", CONFIGURE.read_text("utf-8"), re.MULTILINE
    )
    return dict(rows)


def deployment_section():
    text = CONFIGURE.read_text(encoding="utf-8")
    assert "## Deployment kit" in text, "readme/CONFIGURE.md has no 'Deployment kit' section"
    section = text.split("## Deployment kit", 1)[1]
    return section.split("\n## ", 1)[0]


def odoo_source_config():
    """Odoo 19's odoo/tools/config.py where the project finds Odoo (README), or None."""
    candidates = []
    if os.environ.get("PCA_ODOO_SRC"):
        candidates.append(Path(os.environ["PCA_ODOO_SRC"]))
    candidates.append(Path(os.environ.get("PCA_ODOO_HOME", "/opt/odoo19"), "src"))
    for src in candidates:
        path = src / "odoo" / "tools" / "config.py"
        if path.is_file():
            return src, path
    return None


# --- odoo.conf ---------------------------------------------------------------


def test_known_option_names_are_odoo_19s():
    """The frozen list equals the file options Odoo 19's config.py declares."""
    found = odoo_source_config()
    if not found:
        pytest.skip("no Odoo 19 source (PCA_ODOO_SRC, $PCA_ODOO_HOME/src) to compare with")
    declared, cli_only = set(), set()
    for node in ast.walk(ast.parse(found[1].read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        flags = [
            arg.value
            for arg in node.args
            if isinstance(arg, ast.Constant) and str(arg.value).startswith("--")
        ]
        if isinstance(keywords.get("dest"), ast.Constant):
            dest = keywords["dest"].value
        elif flags and "my_default" in keywords:
            dest = flags[0][2:].replace("-", "_")
        else:
            continue
        loadable = keywords.get("file_loadable")
        if isinstance(loadable, ast.Constant) and loadable.value is False:
            cli_only.add(dest)
        else:
            declared.add(dest)
    assert declared - cli_only | {"without_demo"} == ODOO_FILE_OPTIONS


def test_odoo_conf_holds_only_odoo_option_names():
    conf = read_odoo_conf()
    assert conf.sections() == ["options"], "odoo.conf: only an [options] section"
    unknown = sorted(set(conf.options("options")) - ODOO_FILE_OPTIONS)
    assert not unknown, f"deploy/odoo.conf: names Odoo 19 ignores: {unknown}"


def _odoo_python():
    if os.environ.get("PCA_ODOO_PYTHON") and os.environ.get("PCA_ODOO_SRC"):
        return os.environ["PCA_ODOO_PYTHON"], os.environ["PCA_ODOO_SRC"]
    home = Path(os.environ.get("PCA_ODOO_HOME", "/opt/odoo19"))
    if (home / "venv/bin/python").exists() and (home / "src/odoo/tools/config.py").exists():
        return str(home / "venv/bin/python"), str(home / "src")
    return None, None


# Runs with Odoo's Python: its own loader reads the file, as the server will.
READ_BY_ODOO = """
import json, sys
try:
    from odoo.tools.config import configmanager
    manager = configmanager()
except Exception as exc:
    print(json.dumps({"unavailable": repr(exc)}))
    sys.exit()
manager._log_entries.clear()
try:
    manager._load_file_options(sys.argv[1])
    error = None
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({
    "error": error,
    "warnings": [message % args for _, message, args, _ in manager._log_entries],
    "options": sorted(manager._file_options),
}))
"""


def test_odoo_reads_odoo_conf_without_complaint(tmp_path):
    """Odoo's own loader takes every line: no unknown name, no value it refuses or skips."""
    python, src = _odoo_python()
    if not python:
        pytest.skip("no Odoo 19 (PCA_ODOO_PYTHON + PCA_ODOO_SRC, or $PCA_ODOO_HOME)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ODOO_")}
    env["PYTHONPATH"] = src
    done = subprocess.run(
        [python, "-c", READ_BY_ODOO, str(ODOO_CONF)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "unavailable" in result:
        pytest.skip(f"Odoo's config module does not load here: {result['unavailable']}")
    assert result["error"] is None, f"Odoo cannot read deploy/odoo.conf: {result['error']}"
    # Directories of addons_path missing on this machine are the only warning
    # allowed: the kit's paths are the server's, not the test machine's.
    complaints = [w for w in result["warnings"] if "no such directory" not in w]
    assert not complaints, f"Odoo about deploy/odoo.conf: {complaints}"
    assert set(result["options"]) == set(odoo_options())


def test_odoo_conf_is_production_shaped():
    options = odoo_options()
    conf = read_odoo_conf()["options"]
    assert conf.getint("workers") >= 2, "prefork mode: workers >= 2"
    assert conf.getint("http_port") != conf.getint("gevent_port")
    assert conf.getboolean("proxy_mode") is True
    assert conf.getboolean("list_db") is False
    for db_name in options["db_name"].split(","):
        assert re.search(options["dbfilter"], db_name), "dbfilter must let db_name through"
    assert conf.getint("limit_memory_soft") <= conf.getint("limit_memory_hard")
    assert conf.getint("limit_time_cpu") <= conf.getint("limit_time_real")
    assert Path(options["data_dir"]).is_absolute()


# --- systemd units -----------------------------------------------------------


def test_odoo_unit_runs_the_installed_odoo_conf():
    unit = read_unit(ODOO_UNIT)
    service = unit["Service"]
    argv = exec_argv(unit)
    installed = install_destinations().get("deploy/odoo.conf")
    assert installed, "readme/CONFIGURE.md's table says nowhere where deploy/odoo.conf goes"
    assert option_value(argv, "-c", "--config") == installed
    assert "--workers" not in " ".join(argv), "workers belong in odoo.conf"
    # In prefork mode the master starts the websocket worker as
    # "python <argv[0]> gevent": argv[0] must be a launcher script.
    assert argv[1:3] != ["-m", "odoo"], "python -m odoo cannot start the websocket worker"
    assert argv[1].endswith(("/odoo-bin", "/setup/odoo")), f"not Odoo's launcher: {argv[1]}"
    assert service["User"] == "odoo"
    assert service["Restart"] == "on-failure"
    assert "network-online.target" in unit["Unit"]["After"].split()


def test_data_dir_is_the_odoo_units_state_directory():
    assert Path(odoo_options()["data_dir"]) == state_dir(read_unit(ODOO_UNIT))


def test_no_odoo_variables_in_the_units_environment():
    """Odoo 19 reads every ODOO_<OPTION> variable as configuration, over odoo.conf."""
    for path in (ODOO_UNIT, LISTENER_UNIT, LISTENER_TEMPLATE):
        odoo_vars = [key for key in environment(read_unit(path)) if key.startswith("ODOO_")]
        assert not odoo_vars, f"{path.name}: {odoo_vars}"


def test_speech_model_cache_is_the_odoo_units_cache_directory():
    unit = read_unit(ODOO_UNIT)
    cache = Path("/var/cache", unit["Service"]["CacheDirectory"])
    assert cache in Path(environment(unit)["PBX_MODEL_CACHE"]).parents


def _listener_args(path):
    """The unit's listener command line, parsed by pbx/listener/cli.py's own parser."""
    unit = read_unit(path)
    argv = exec_argv(unit)
    assert argv[1:3] == ["-m", "pbx"], f"{path.name} must run python -m pbx"
    try:
        return unit, listener()[0].build_parser().parse_args(argv[3:])
    except SystemExit:
        pytest.fail(f"{path.name}: python -m pbx refuses {argv[3:]}")


@pytest.mark.parametrize("path", [LISTENER_UNIT, LISTENER_TEMPLATE], ids=lambda p: p.name)
def test_listener_unit_runs_the_listener(path):
    unit, args = _listener_args(path)
    service = unit["Service"]
    assert args.command == "listen"
    assert service["User"] == "odoo"
    assert service["Restart"] == "always"
    assert "network-online.target" in unit["Unit"]["After"].split()
    assert "network-online.target" in unit["Unit"]["Wants"].split()
    # python -m pbx imports the pbx package from the working directory: the
    # addon's folder, which is on Odoo's addons_path under the addon's name.
    workdir = Path(service["WorkingDirectory"])
    assert workdir.name == "phone_call_accounting"
    assert str(workdir.parent) in odoo_options()["addons_path"].split(",")
    # The same Python as Odoo's (the addon's requirements, pyst2, are there).
    assert exec_argv(unit)[0] == exec_argv(read_unit(ODOO_UNIT))[0]
    assert state_dir(unit) == state_dir(read_unit(LISTENER_UNIT))


def test_listener_unit_reads_the_installed_listen_json():
    _unit, args = _listener_args(LISTENER_UNIT)
    installed = install_destinations().get("deploy/listen.json")
    assert installed, "readme/CONFIGURE.md's table says nowhere where deploy/listen.json goes"
    assert str(args.config) == installed
    _unit, args = _listener_args(LISTENER_TEMPLATE)
    assert "%i" in str(args.config), "the template reads one configuration per instance"
    assert Path(str(args.config)).parent == Path(installed).parent


def test_listen_json_is_accepted_by_the_listener():
    listener_config = listener()[1]
    config = listener_config.load_listen_config(LISTEN_JSON)
    listener_state = state_dir(read_unit(LISTENER_UNIT))
    assert Path(config["spool"]).parent == listener_state
    assert Path(listener_config.DEFAULT_SPOOL).parent == listener_state, (
        "the listener's default spool"
    )
    url = urlsplit(config["odoo"]["url"])
    if url.hostname in ("127.0.0.1", "localhost"):
        assert url.port == read_odoo_conf()["options"].getint("http_port")


# --- nginx site --------------------------------------------------------------


def _location(path):
    for server, location, children in nginx_locations(nginx_site()):
        if location == path:
            return server, children
    pytest.fail(f"deploy/nginx/odoo.conf has no 'location {path}'")


def _proxied_port(children):
    (_, args, _), *_ = directives(children, "proxy_pass")
    upstream = urlsplit(args[0]).hostname
    ports = nginx_upstream_ports(nginx_site())
    assert upstream in ports, f"proxy_pass to {upstream}, which is no upstream of the site"
    return ports[upstream]


def test_nginx_upstreams_are_odoos_ports():
    options = read_odoo_conf()["options"]
    interface = options.get("http_interface", "127.0.0.1")
    _, websocket = _location("/websocket")
    assert _proxied_port(websocket) == {(interface, options.getint("gevent_port"))}
    _, root = _location("/")
    assert _proxied_port(root) == {(interface, options.getint("http_port"))}


def test_nginx_websocket_is_upgraded():
    _, websocket = _location("/websocket")
    headers = {args[0].lower(): args[1] for _, args, _ in directives(websocket, "proxy_set_header")}
    assert headers.get("upgrade") == "$http_upgrade"
    connection = headers.get("connection", "")
    mapped = any(args[1] == connection for _, args, _ in directives(nginx_site(), "map"))
    assert connection.lower() == "upgrade" or mapped, "Connection: upgrade for the websocket"
    assert [args for _, args, _ in directives(websocket, "proxy_http_version")] == [["1.1"]]


def test_nginx_sends_proxy_mode_headers_everywhere():
    """Odoo's proxy_mode applies X-Forwarded-* only with X-Forwarded-Host.

    A proxy_set_header inside a location replaces every inherited one, so
    each proxied location is checked with what it really sends.
    """
    for server, location, children in nginx_locations(nginx_site()):
        if not directives(children, "proxy_pass"):
            continue
        sets = directives(children, "proxy_set_header") or directives(server, "proxy_set_header")
        headers = {args[0].lower() for _, args, _ in sets}
        missing = {"x-forwarded-host", "x-forwarded-for", "x-forwarded-proto"} - headers
        assert not missing, f"location {location} does not send {sorted(missing)}"


def test_nginx_takes_recordings_and_outlasts_odoo():
    site = nginx_site()
    https = [
        children
        for _, _, children in directives(site, "server")
        if any("ssl" in args for _, args, _ in directives(children, "listen"))
    ]
    assert https, "an HTTPS server block"
    server = https[0]
    (_, (size,), _), *_ = directives(server, "client_max_body_size")
    recording_mb = re.search(
        r"recording_max_mb = fields\.Integer\(.*default=(\d+)\)",
        (REPO / "models" / "phone_pbx.py").read_text(encoding="utf-8"),
    )
    assert recording_mb, "models/phone_pbx.py: recording_max_mb's default not found"
    assert nginx_size(size) >= int(recording_mb.group(1)) * 1024 * 1024
    (_, (read_timeout,), _), *_ = directives(server, "proxy_read_timeout")
    limit = read_odoo_conf()["options"].getint("limit_time_real")
    assert nginx_seconds(read_timeout) > limit, "nginx must not cut a request Odoo still runs"
    assert [args for _, args, _ in directives(server, "gzip")] == [["on"]]


# --- documentation -----------------------------------------------------------


def test_configure_documents_every_kit_file():
    destinations = install_destinations()
    kit = {str(path.relative_to(REPO)) for path in DEPLOY.rglob("*") if path.is_file()}
    assert set(destinations) == kit, "CONFIGURE's table and deploy/ list other files"


def test_configure_gives_the_kits_ports_paths_and_limits():
    section = deployment_section()
    options = odoo_options()
    listen = json.loads(LISTEN_JSON.read_text(encoding="utf-8"))
    expected = [
        f"http_port = {options['http_port']}",
        f"gevent_port = {options['gevent_port']}",
        f"workers = {options['workers']}",
        f"limit_memory_soft = {options['limit_memory_soft']}",
        f"limit_memory_hard = {options['limit_memory_hard']}",
        f"limit_time_real = {options['limit_time_real']}",
        options["data_dir"],
        str(state_dir(read_unit(LISTENER_UNIT))),
        listen["spool"],
        listen["odoo"]["url"],
        " ".join(exec_argv(read_unit(LISTENER_UNIT))[1:5]),
        f"--config={install_destinations()['deploy/odoo.conf']}",
    ]
    for _, _, children in directives(nginx_site(), "server"):
        for name in ("client_max_body_size", "proxy_read_timeout"):
            expected += [f"{name} {args[0]}" for _, args, _ in directives(children, name)]
    missing = [text for text in expected if text not in section]
    assert not missing, f"CONFIGURE's 'Deployment kit' does not say: {missing}"


def test_readme_agrees_with_the_kit():
    readme = README.read_text(encoding="utf-8")
    # The listener's set-up is in CONFIGURE (the README points there).
    docs = readme + CONFIGURE.read_text(encoding="utf-8")
    _unit, args = _listener_args(LISTENER_UNIT)
    listen = json.loads(LISTEN_JSON.read_text(encoding="utf-8"))
    assert f"python -m pbx listen --config {args.config}" in docs
    assert f'"spool": "{listen["spool"]}"' in docs
    assert f'"url": "{listen["odoo"]["url"]}"' in docs
    assert re.search(r"^\| `deploy/` \|", readme, re.MULTILINE), "README's layout table"


# --- the tools themselves ----------------------------------------------------


def _ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM):
            return True
    except OSError:
        return False


def test_nginx_accepts_the_site(tmp_path):
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    if not nginx or not openssl:
        pytest.skip("nginx -t needs nginx and openssl (apt-get install nginx openssl)")
    # The site's certificate and log paths are the server's: a throw-away
    # certificate and tmp_path stand in for them.
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=odoo.example.com",
            "-keyout",
            tmp_path / "key.pem",
            "-out",
            tmp_path / "cert.pem",
        ],
        capture_output=True,
        check=True,
    )
    site = NGINX_SITE.read_text(encoding="utf-8")
    site = re.sub(r"(ssl_certificate\s+)\S+;", rf"\g<1>{tmp_path}/cert.pem;", site)
    site = re.sub(r"(ssl_certificate_key\s+)\S+;", rf"\g<1>{tmp_path}/key.pem;", site)
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    # nginx -t opens the listening sockets: only root may bind ports under
    # 1024, and a machine without IPv6 cannot open [::] ones. Neither says
    # anything about the site, so the copy listens where this machine can.
    if os.geteuid() != 0:
        site = re.sub(r"(listen\s+(?:\[::\]:)?)(\d+)", lambda m: f"{m[1]}1{m[2]:0>4}", site)
    if not _ipv6_available():
        site = re.sub(r"^\s*listen\s+\[::\][^;]*;\n", "", site, flags=re.MULTILINE)
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/access.log;\n"
        f"    client_body_temp_path {tmp_path}/body;\n"
        f"    proxy_temp_path {tmp_path}/proxy;\n"
        f"    include {tmp_path}/site.conf;\n"
        "}\n",
        encoding="utf-8",
    )
    command = [nginx, "-t", "-p", f"{tmp_path}/", "-c", f"{tmp_path}/nginx.conf"]
    # -e (nginx >= 1.19.5) keeps nginx away from the default error log,
    # which a user who is not root cannot open.
    help_text = subprocess.run([nginx, "-h"], capture_output=True, text=True, check=False)
    if " -e " in help_text.stderr + help_text.stdout:
        command[1:1] = ["-e", f"{tmp_path}/error.log"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    # A warning (a deprecated or duplicate directive) passes -t but is a fault.
    assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr


def _verify(analyze, unit_dir, names):
    return subprocess.run(
        [analyze, "verify", "--man=no", *(str(unit_dir / name) for name in names)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze verify needs systemd (apt-get install systemd)")
    # A unit known to be right first: where verify cannot work at all (some
    # containers), it says so on that one too, and the check is skipped.
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "probe.service").write_text("[Service]\nExecStart=/bin/true\n", encoding="utf-8")
    done = _verify(analyze, probe, ["probe.service"])
    if done.returncode or done.stdout.strip() or done.stderr.strip():
        pytest.skip(f"systemd-analyze verify does not work here: {done.stderr.strip()[:300]}")
    # verify fails a unit whose ExecStart program is missing, and the
    # program is Odoo's Python on the server (/opt/odoo19/venv), which this
    # machine may lack: copies of the units run /bin/true with the same
    # arguments. User=odoo and the paths the service reads are not checked
    # by verify. The template is verified as an instance.
    copies = tmp_path / "units"
    copies.mkdir()
    names = []
    for path in sorted(UNIT_DIR.glob("*.service")):
        text = re.sub(
            r"^(ExecStart=)\S+", r"\g<1>/bin/true", path.read_text("utf-8"), flags=re.MULTILINE
        )
        name = path.name.replace("@.", "@example.")
        (copies / name).write_text(text, encoding="utf-8")
        names.append(name)
    done = _verify(analyze, copies, names)
    # An unknown key or a value systemd cannot parse is only reported
    # ("..., ignoring"), with exit status 0: any line about the units fails.
    output = done.stdout + done.stderr
    about_units = [
        line
        for line in output.splitlines()
        if any(name in line for name in names) or "/units/" in line
    ]
    assert done.returncode == 0 and not about_units, output
