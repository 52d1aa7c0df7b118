"""Command line of the PBX core: ``python -m pbx replay|queue-log|listen ...``.

Each command is a subparser added by its own ``_add_*`` function: ``replay``
prints the calls of a capture, ``queue-log`` those of an Asterisk queue log,
``listen`` (:mod:`.service`) follows a live Asterisk and delivers its calls
to Odoo.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import TextIO

from ..asterisk.ami import iter_file
from ..asterisk.assembler import CallAssembler
from ..asterisk.cdr import parse_cdr_file
from ..asterisk.queue_log import read_queue_log
from ..ingest import QUEUE_KEYS
from .config import ConfigError, load_config

OUTPUT_KEYS = (
    "call_id",
    "direction",
    "status",
    "from_number",
    "to_number",
    "extension",
    "forwarded",
    "transferred",
    "start",
    "ring_seconds",
    "talk_seconds",
    "recording",
    "hangup_cause",
)


def replay_record(call: dict) -> dict:
    """What replay prints of a call: :data:`OUTPUT_KEYS`, and the queue keys
    of a call that queued."""
    record = {"call_id": call["external_id"]}
    record.update((key, call[key]) for key in OUTPUT_KEYS[1:])
    if "queue" in call:
        record.update((key, call[key]) for key in QUEUE_KEYS)
    return record


def _print_call(call: dict, out: TextIO) -> None:
    # One line per call, flushed, so a pipe sees each call as it finishes.
    out.write(json.dumps(replay_record(call), ensure_ascii=False) + "\n")
    out.flush()


def _replay_ami(path: Path, config: dict, out: TextIO) -> int:
    assembler = CallAssembler(config["trunks"], stale_seconds=config["stale_seconds"])
    for message in iter_file(path):
        for call in assembler.feed(message, time.time()):
            _print_call(call, out)
    for call in assembler.flush():
        _print_call(call, out)
    return 0


def _replay_cdr(path: Path, config: dict, out: TextIO) -> int:
    result = parse_cdr_file(path, config["trunks"], timezone=config["timezone"])
    for call in result.calls:
        _print_call(call, out)
    for error in result.errors:
        sys.stderr.write(f"{path}: {error}\n")
    return 1 if result.errors else 0


def run_replay(args: argparse.Namespace, out: TextIO | None = None) -> int:
    config = load_config(args.config)
    fmt = args.format or ("cdr" if args.file.suffix.lower() == ".csv" else "ami")
    replay = _replay_cdr if fmt == "cdr" else _replay_ami
    return replay(args.file, config, out or sys.stdout)


def _add_replay(commands: argparse._SubParsersAction) -> None:
    replay = commands.add_parser(
        "replay",
        help="print the calls in an AMI capture or a Master.csv, one JSON object per line",
        description="Assemble the calls in a recorded AMI stream (the bytes a manager "
        "connection delivers after login) or in an Asterisk Master.csv, and print one "
        "JSON object per finished call. Calls still open at the end of the file are "
        "printed too.",
    )
    replay.add_argument("file", type=Path, help="AMI capture or Master.csv")
    replay.add_argument(
        "--config", type=Path, required=True, help="CONFIG.json with trunks and country"
    )
    replay.add_argument(
        "--format", choices=("ami", "cdr"), help="file format (default: cdr for *.csv, else ami)"
    )
    replay.set_defaults(handler=run_replay)


def run_queue_log(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the calls (or member events) of a whole queue_log file."""
    out = out or sys.stdout
    # The whole file at once, and a visit without an end is still going on.
    size = args.file.stat().st_size
    result = read_queue_log(
        args.file, settle_seconds=0, max_open_seconds=math.inf, max_bytes=size + 1
    )
    lines = [event._asdict() for event in result.members] if args.members else result.calls
    for line in lines:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    for error in result.errors:
        sys.stderr.write(f"{args.file}: {error}\n")
    waiting = len({line.split("|")[1] for line in result.position.pending})
    if waiting and not args.members:
        sys.stderr.write(f"{args.file}: {waiting} call(s) still in a queue at its end left out\n")
    return 1 if result.errors else 0


def _add_queue_log(commands: argparse._SubParsersAction) -> None:
    queue_log = commands.add_parser(
        "queue-log",
        help="print the calls in an Asterisk queue_log file, one JSON object per line",
        description="Read an Asterisk queue_log file (time|callid|queue|agent|event|data...) "
        "and print one call item per call whose queue visits ended, in the native webhook "
        "schema with queue_only set: POSTed to a PBX's webhook they add the queue fields to "
        "its calls. --members prints the members' pause, unpause, add and remove events instead.",
    )
    queue_log.add_argument("file", type=Path, help="the queue_log file")
    queue_log.add_argument(
        "--members", action="store_true", help="print the member events instead of the calls"
    )
    queue_log.set_defaults(handler=run_queue_log)


def _run_listen(args: argparse.Namespace) -> int:
    # Imported here: the listener needs pyst2, which replay does not.
    from .service import run_listen

    try:
        return run_listen(args)
    except OSError as exc:
        raise ConfigError(f"{exc.filename or args.config}: {exc.strerror or exc}") from exc


def _add_listen(commands: argparse._SubParsersAction) -> None:
    listen = commands.add_parser(
        "listen",
        help="follow a live Asterisk (AMI) and deliver finished calls to Odoo",
        description="Log into the Asterisk Manager Interface, assemble the calls in its "
        "event stream, keep each finished call in a local spool (SQLite) and post the spool "
        "to Odoo's webhook in batches. Reconnects by itself; runs until SIGTERM or SIGINT. "
        "CONFIG.json holds trunks, country, stale_seconds, ami {host, port, username, secret, "
        "ping_interval}, odoo {url, pbx_id, token, batch_size, timeout} and spool (a path).",
    )
    listen.add_argument(
        "--config", type=Path, required=True, help="CONFIG.json with trunks, ami, odoo and spool"
    )
    listen.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level on stderr (default: INFO)",
    )
    listen.set_defaults(handler=_run_listen)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pbx", description="PBX call accounting tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_replay(commands)
    _add_queue_log(commands)
    _add_listen(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except OSError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc.filename or args.file}: {exc.strerror}\n")
