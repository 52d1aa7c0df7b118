"""Click to dial: ring the user's desk phone, then dial the client (AMI Originate).

One short-lived AMI session through pyst2 (the project's fixed
:class:`pbx.asterisk.ami_manager.Manager`): connect, ``Login``, ``Originate``, wait
for the response carrying the Originate's ``ActionID``, ``Logoff``. Every
step shares one deadline (``timeout`` seconds), so a PBX that is down, slow
or silent costs the user at most that long, and every failure is an
:class:`OriginateError` whose text can be shown to the user as it is.

With ``Async: true`` Asterisk answers at once ("Originate successfully
queued") and then rings ``channel`` (the user's phone) for up to
``ring_timeout`` seconds; when the user picks up, it dials ``exten`` in
``context``. The call that follows is an ordinary outgoing call to the AMI
listener, which logs it like any other (the listener never pops up its
ringing: the first dial of an originated call has no calling channel).
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable

import phonenumbers

from .. import numbers
from .ami_manager import (
    Manager,
    ManagerAuthException,
    ManagerException,
    ManagerSocketException,
    ManagerTimeout,
)

DEFAULT_TIMEOUT = 5.0
DEFAULT_RING_SECONDS = 30
_sequence = itertools.count(1)


class OriginateError(Exception):
    """Click to dial failed; ``str()`` says why, for the log.

    ``kind`` names the failure for a user's message in the user's language:
    ``unreachable``, ``login``, ``timeout``, ``refused`` or ``invalid``.
    """

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


def dialling_form(
    raw: str,
    country: str | None = None,
    international_prefix: str | None = "00",
    outside_prefix: str | None = "",
) -> str:
    """What the PBX must dial to reach ``raw``: digits only, as a desk phone would.

    An extension is dialled as it is. An outside number of the PBX's own
    ``country`` is dialled in national form with its trunk prefix
    (``+31 20 555 0101`` in NL: ``0205550101``), any other with
    ``international_prefix`` and the E.164 digits (``0044...``); both after
    ``outside_prefix`` (e.g. ``9`` for an outside line). Raises
    :class:`OriginateError` for what cannot be dialled (withheld, garbage).

    >>> dialling_form("+31 20 555 0101", "NL")
    '0205550101'
    >>> dialling_form("+44 20 7946 0958", "NL")
    '00442079460958'
    >>> dialling_form("202", "NL")
    '202'
    """
    number = numbers.classify(raw, country)
    if number.kind == numbers.INTERNAL:
        return number.raw
    if number.kind != numbers.EXTERNAL:
        raise OriginateError(f"{raw!r} is not a number that can be dialled")
    parsed = phonenumbers.parse(number.e164)
    if country and number.region == country.upper():
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        digits = "".join(c for c in national if c.isdigit())
    else:
        digits = (international_prefix or "") + number.e164[1:]
    return f"{outside_prefix or ''}{digits}"


def _action_id() -> str:
    return f"odoo-dial-{socket.gethostname()}-{os.getpid()}-{next(_sequence)}"


def originate(
    host: str,
    port: int,
    username: str,
    secret: str,
    channel: str,
    exten: str,
    context: str,
    caller_id: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    ring_timeout: float = DEFAULT_RING_SECONDS,
    priority: int = 1,
    variables: dict | None = None,
    action_id: str | None = None,
    manager_factory: Callable[[], Manager] = Manager,
) -> str:
    """Ask Asterisk to ring ``channel`` and then dial ``exten`` in ``context``.

    Returns the ActionID of the queued Originate. Raises
    :class:`OriginateError` when the PBX cannot be reached, refuses the login
    or the Originate, or does not answer within ``timeout`` seconds in all.
    """
    for name, value in (("channel", channel), ("exten", exten), ("context", context)):
        if not value or any(c in str(value) for c in "\r\n"):
            raise OriginateError(f"click to dial needs a {name} on one line, got {value!r}")
    deadline = time.monotonic() + timeout

    def left():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ManagerTimeout(f"no answer within {timeout:g} s")
        return remaining

    action_id = action_id or _action_id()
    action = {
        "Action": "Originate",
        "ActionID": action_id,
        "Channel": channel,
        "Context": context,
        "Exten": exten,
        "Priority": priority,
        "Async": "true",
        "Timeout": int(ring_timeout * 1000),
    }
    if caller_id:
        action["CallerID"] = caller_id
    if variables:
        action["Variable"] = [f"{key}={value}" for key, value in variables.items()]
    where = f"{host}:{port}"
    manager = manager_factory()
    try:
        try:
            manager.connect(host, port, timeout=left())
            manager.login(username, secret or "", timeout=left())
            response = manager.send_action(action, timeout=left())
        except ManagerAuthException as exc:
            raise OriginateError(
                f"the PBX at {where} refused the AMI login of {username!r}: {exc}", "login"
            ) from exc
        except ManagerTimeout as exc:
            raise OriginateError(
                f"the PBX at {where} did not answer within {timeout:g} seconds", "timeout"
            ) from exc
        except ManagerSocketException as exc:
            raise OriginateError(
                f"cannot reach the PBX at {where}: {exc.args[-1]}", "unreachable"
            ) from exc
        except ManagerException as exc:
            raise OriginateError(
                f"the connection to the PBX at {where} failed: {exc}", "unreachable"
            ) from exc
        except ValueError as exc:  # a line break in a value, refused by encode_action
            raise OriginateError(str(exc)) from exc
        if (response.get_header("Response", "") or "").lower() != "success":
            reason = response.get_header("Message", "") or "no reason given"
            raise OriginateError(f"the PBX at {where} refused to dial {exten}: {reason}", "refused")
        return action_id
    finally:
        remaining = deadline - time.monotonic()
        manager.close(logoff=manager.connected(), timeout=max(0.2, min(1.0, remaining)))
