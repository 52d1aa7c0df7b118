"""A fake Asterisk manager that also answers ``Originate`` (click-to-dial tests).

:class:`pbx.fake_ami.FakeAmiServer` refuses every action it does not know;
this one answers ``Originate`` as Asterisk does with ``Async: true``
(``Response: Success``, ``Message: Originate successfully queued``, the
ActionID echoed) and keeps every Originate it gets in ``originates`` so a
test can check the exact fields. ``originate_reply`` scripts the answer:
``"success"``, ``"error"`` (``Response: Error`` with ``originate_message``)
or ``"silent"`` (no answer at all, for timeouts). For tests only.
"""

import time

from .fake_ami import FakeAmiServer


class FakeOriginateAmiServer(FakeAmiServer):
    def __init__(self, *args, originate_reply="success", originate_message=None, **options):
        super().__init__(*args, **options)
        self.originate_reply = originate_reply
        self.originate_message = originate_message
        self.originates = []

    def handle(self, connection, action):
        if (action.get("Action") or "").lower() != "originate":
            return super().handle(connection, action)
        with self._changed:
            self.actions.append((connection.number, action))
            self.originates.append(action)
            self._changed.notify_all()
        if self.originate_reply == "silent":
            return None
        headers = [("ActionID", action.get("ActionID"))] if action.get("ActionID") else []
        if self.originate_reply == "error":
            reply = [
                ("Response", "Error"),
                *headers,
                ("Message", self.originate_message or "Originate failed"),
            ]
        else:
            reply = [
                ("Response", "Success"),
                *headers,
                ("Message", self.originate_message or "Originate successfully queued"),
            ]
        data = "".join(f"{key}: {value}\r\n" for key, value in reply).encode() + b"\r\n"
        connection.send(data)
        return None

    def wait_originates(self, count=1, timeout=5.0):
        """Wait until ``count`` Originates arrived; True if they did."""
        return self.wait_for(lambda: len(self.originates) >= count, timeout)


def closed_port():
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    server = FakeAmiServer()
    port = server.port
    server.stop()
    time.sleep(0.01)
    return port
