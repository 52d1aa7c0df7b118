"""Ringing events: a desk phone starts ringing, Odoo pops up the caller.

Nothing here is stored as a call; a ringing event only tells Odoo which
extensions ring and who calls, so the users behind those extensions see the
client while the phone rings. Odoo's route (the same secrets as the calls
webhook) is::

    POST {url}/phone_call_accounting/pbx/{pbx_id}/ringing
    Authorization: Bearer {token}
    {"from_number": "+31205550101", "to_number": "+31207940100",
     "extensions": ["201"], "call_id": "1732701234.56"}

:func:`check_event` reads such an event for the addon's route. The AMI
listener's side (detecting ringing phones and posting the events) is
:mod:`pbx.listener.ringing`.
"""

MAX_EXTENSIONS = 50
MAX_TEXT = 128


class RingingEventError(ValueError):
    """A ringing event that cannot be read; ``str()`` says why."""


def check_event(event):
    """Checked ``(extensions, texts)`` of a posted ringing event.

    ``extensions`` is a list of distinct strings (a single string or number is
    taken as a list of one); ``texts`` holds ``from_number``, ``to_number``
    and ``call_id`` as stripped strings ("" when absent). Raises
    :class:`RingingEventError`.

    >>> check_event({"from_number": "0612345678", "extensions": [201, "202"]})[0]
    ['201', '202']
    """
    if not isinstance(event, dict):
        raise RingingEventError("the body must be a JSON object")
    extensions = event.get("extensions")
    if isinstance(extensions, str | int) and not isinstance(extensions, bool):
        extensions = [extensions]
    if (
        not isinstance(extensions, list)
        or not 0 < len(extensions) <= MAX_EXTENSIONS
        or any(
            isinstance(e, bool) or not isinstance(e, str | int) or not str(e).strip()
            for e in extensions
        )
    ):
        raise RingingEventError(f'"extensions" must be a list of 1 to {MAX_EXTENSIONS} extensions')
    texts = {}
    for key in ("from_number", "to_number", "call_id"):
        value = event.get(key)
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise RingingEventError(f'"{key}" must be a string')
        value = str(value).strip()
        if len(value) > MAX_TEXT or any(ord(c) < 32 for c in value):
            raise RingingEventError(f'"{key}" is too long or holds control characters')
        texts[key] = value
    return list(dict.fromkeys(str(e).strip() for e in extensions)), texts
