"""What an Asterisk channel name says about the party behind it."""

from __future__ import annotations

import re
from collections.abc import Iterable

TRUNK = "trunk"
PHONE = "phone"
PLUMBING = "plumbing"

# Channels that carry no person: Local half-channels glue dialplan pieces
# together, the others are ConfBridge announcers/recorders, ChanSpy snoops,
# ARI recorders and text-message channels.
PLUMBING_TECHNOLOGIES = frozenset(
    {"local", "announcer", "cbann", "cbrec", "snoop", "recorder", "message"}
)
_UNIQUE_SUFFIX = re.compile(r"-[0-9a-fA-F]+$")
# Dialplan placeholders and values that are no number at all.
_NO_NUMBER = frozenset({"", "<unknown>", "unknown", "s", "anonymous"})
_NUMBER_LIKE = re.compile(r"^\+?[0-9*#]+$")


def compile_trunks(patterns: Iterable[str]) -> list[re.Pattern]:
    """Compile trunk regexes once; they are matched against every channel."""
    return [re.compile(pattern) for pattern in patterns]


def channel_kind(name: str, trunks: Iterable[re.Pattern]) -> str:
    """``TRUNK``, ``PHONE`` or ``PLUMBING`` for a channel name.

    Trunks are recognised only by the configured regexes: a provider's peer
    can be named anything. Everything else that is not plumbing is a desk
    phone or softphone.
    """
    technology = name.partition("/")[0].lower()
    if technology in PLUMBING_TECHNOLOGIES:
        return PLUMBING
    if any(trunk.search(name) for trunk in trunks):
        return TRUNK
    return PHONE


def extension_of(name: str | None) -> str | None:
    """The extension of a phone channel: its endpoint (peer) name.

    ``SIP/150010001-00000004`` gives ``150010001``, ``PJSIP/201-0000000a``
    gives ``201``. The endpoint is the one name that stays the same whether
    the phone calls or is called, so it is what a user record can be linked
    to. The caller ID of a channel cannot serve: Asterisk sets a dialled
    channel's caller ID to the number that was dialled (a ring group's
    ``401``, a DID), and a calling phone's own caller ID is often rewritten
    to the company's outside number before it reaches the trunk. On
    FreePBX-style systems endpoints are named after the extension (201); on
    hosted platforms such as the one in the shared recordings they are the
    account number the administrator sees in the portal (150010001).
    """
    if not name:
        return None
    resource = name.partition("/")[2] or name
    resource = resource.split(";")[0]
    return _UNIQUE_SUFFIX.sub("", resource) or None


def clean_number(value: str | None) -> str | None:
    """A caller ID or extension as raw text, or None for placeholders."""
    if value is None:
        return None
    value = value.strip()
    if value.lower() in _NO_NUMBER:
        return None
    return value


def looks_dialable(value: str | None) -> bool:
    """True for digits with an optional leading +, as dialled or presented."""
    return bool(value) and bool(_NUMBER_LIKE.match(value))


def member_extension(member: str | None) -> str:
    """The extension of a queue member as app_queue names it, or "".

    Members are interfaces (``PJSIP/201``, ``SIP/201``, ``Agent/1001``),
    FreePBX's ``Local/201@from-queue/n``, or a member name; a name is an
    extension only when it is one (``201``), not ``Alice`` or ``NONE``.
    """
    member = (member or "").strip()
    technology, slash, resource = member.partition("/")
    if not slash:
        return member if looks_dialable(member) else ""
    if technology.lower() == "local":
        return resource.partition("@")[0]
    return extension_of(member) or ""
