"""The listener's configuration file: ``python -m pbx replay|listen --config CONFIG.json``.

:func:`load_config` reads and checks what every command needs (trunks,
country, timezone, stale_seconds); :func:`check_listen_config` adds the
``ami``, ``odoo`` and ``spool`` parts ``listen`` needs, with their defaults.
Every problem is a :class:`ConfigError` whose message says what to fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_STALE_SECONDS = 3600
AMI_DEFAULTS = {
    "host": "127.0.0.1",
    "port": 5038,
    "ping_interval": 2.0,
    "ping_timeout": None,  # default: ping_interval, at least 1 s, at most 5 s
    "connect_timeout": 3.0,
    "reconnect_max": 2.0,
}
ODOO_DEFAULTS = {
    "batch_size": 200,
    "timeout": 10.0,
    "backoff_min": 1.0,
    "backoff_max": 60.0,
    "ringing": False,  # post ringing events (pop-ups) to .../pbx/<id>/ringing
    "live": False,  # post live events (the wallboard) to .../pbx/<id>/live
    "live_interval": 0.25,  # at most one live POST per this many seconds
    "live_status_interval": 60.0,  # ask for QueueStatus (a snapshot) this often
    "live_summary_interval": 15.0,  # compare QueueSummary with the live state this often
}
DEFAULT_SPOOL = "/var/lib/phone_call_accounting/spool.sqlite"


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says why."""


def load_config(path: str | Path) -> dict:
    """Read and check CONFIG.json: ``trunks`` (regexes) and ``country`` at least.

    Optional: ``timezone`` (zoneinfo name of the PBX, for CDR local times)
    and ``stale_seconds`` (how long a silent call stays open).
    """
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    trunks = config.get("trunks")
    if not isinstance(trunks, list) or not all(isinstance(trunk, str) for trunk in trunks):
        raise ConfigError('"trunks" must be a list of regular expressions')
    for trunk in trunks:
        try:
            re.compile(trunk)
        except re.error as exc:
            raise ConfigError(
                f"trunk pattern {trunk!r} is not a valid regular expression: {exc}"
            ) from exc
    if not isinstance(config.get("country"), str):
        raise ConfigError('"country" must be a country code such as "NL"')
    timezone = config.setdefault("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigError(f"timezone {timezone!r} is not a known zone name") from exc
    stale = config.setdefault("stale_seconds", DEFAULT_STALE_SECONDS)
    if isinstance(stale, bool) or not isinstance(stale, int | float) or stale <= 0:
        raise ConfigError('"stale_seconds" must be a positive number')
    return config


def _number(
    section: str, key: str, value: object, minimum: float = 0.0, integer: bool = False
) -> float:
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= minimum:
        what = "a whole number" if integer else "a number"
        raise ConfigError(f'"{section}.{key}" must be {what} above {minimum:g}')
    return value


def _text(section: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f'"{section}.{key}" must be a non-empty string')
    return value


def check_listen_config(config: dict) -> dict:
    """Check and complete the ``ami``, ``odoo`` and ``spool`` parts of a config.

    ``config`` already went through :func:`load_config` (trunks,
    country, stale_seconds). Returns it with defaults filled in.
    """
    ami = config.get("ami")
    odoo = config.get("odoo")
    if not isinstance(ami, dict):
        raise ConfigError('"ami" must be an object with host, port, username and secret')
    if not isinstance(odoo, dict):
        raise ConfigError('"odoo" must be an object with url, pbx_id and token')
    ami = config["ami"] = {**AMI_DEFAULTS, **ami}
    odoo = config["odoo"] = {**ODOO_DEFAULTS, **odoo}
    for key in ("host", "username", "secret"):
        _text("ami", key, ami.get(key))
    if not isinstance(ami["port"], int) or isinstance(ami["port"], bool):
        raise ConfigError('"ami.port" must be a port number')
    if not 0 < ami["port"] < 65536:
        raise ConfigError('"ami.port" must be a port number')
    for key in ("ping_interval", "connect_timeout", "reconnect_max"):
        _number("ami", key, ami[key])
    if ami["ping_timeout"] is None:
        ami["ping_timeout"] = min(5.0, max(1.0, ami["ping_interval"]))
    _number("ami", "ping_timeout", ami["ping_timeout"])

    url = _text("odoo", "url", odoo.get("url"))
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ConfigError('"odoo.url" must be an http:// or https:// address')
    pbx_id = odoo.get("pbx_id")
    if isinstance(pbx_id, bool) or not isinstance(pbx_id, int | str) or not str(pbx_id):
        raise ConfigError('"odoo.pbx_id" must be the id of the PBX record in Odoo')
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(pbx_id)):
        raise ConfigError('"odoo.pbx_id" may hold only letters, digits, "_", "." and "-"')
    _text("odoo", "token", odoo.get("token"))
    for key in ("ringing", "live"):
        if not isinstance(odoo[key], bool):
            raise ConfigError(f'"odoo.{key}" must be true or false')
    for key in ("live_interval", "live_status_interval", "live_summary_interval"):
        _number("odoo", key, odoo[key])
    _number("odoo", "batch_size", odoo["batch_size"], integer=True)
    for key in ("timeout", "backoff_min", "backoff_max"):
        _number("odoo", key, odoo[key])

    spool = config.setdefault("spool", DEFAULT_SPOOL)
    if not isinstance(spool, str) or not spool:
        raise ConfigError('"spool" must be the path of the spool file')
    return config


def load_listen_config(path: str | Path) -> dict:
    """Read CONFIG.json for ``listen``; raises :class:`ConfigError`."""
    return check_listen_config(load_config(path))
