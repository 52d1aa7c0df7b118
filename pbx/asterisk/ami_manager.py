"""pyst2's ``asterisk.manager.Manager``, with its Python 3 defects neutralised.

pyst2 0.5.1 is the AMI client the issue asks for, but as shipped it cannot
carry a live listener. This subclass keeps its public API (``connect``,
``login``, ``register_event``, ``send_action``, ``ping``, ``logoff``,
``close`` and the action helpers, callbacks called as ``callback(event,
manager)``) and replaces the parts that break:

1. **One byte per system call.** pyst2 reads ``socket.makefile(buffering=0)``
   line by line, and an unbuffered file reads a line one ``recv`` of one byte
   at a time: a few hundred events a second. Here the reader takes up to
   ``read_size`` bytes per ``recv`` and cuts them with :class:`ChunkParser`
   (the :class:`pbx.asterisk.ami.Parser` rules, a whole read at a time).
2. **ChanVariable kills the reader.** ``ManagerMsg.parse`` calls the Python 2
   ``dict.has_key`` on every ``ChanVariable`` header (manager.conf
   ``channelvars``); the ``AttributeError`` stops message processing for
   good while ``connected()`` still says True. Here messages keep every
   repeated header (:class:`pbx.asterisk.ami.Message`); the pyst2-style ``headers``
   dict is built only on demand, with ``ChanVariable`` as a ``{name: value}``
   dict as pyst2 meant it.
3. **A failing callback kills dispatching.** An exception in a callback ends
   pyst2's dispatch thread and every later event is silently queued forever.
   Here it is logged and dispatching goes on (``callback_errors`` counts).
4. **No reconnect, no keepalive, single use.** pyst2 creates its threads in
   ``__init__``, so a second ``connect()`` raises ``RuntimeError``; it never
   pings, and ``connected()`` only turns False on a clean EOF. Here
   ``connected()`` turns False on any reader failure, :meth:`wait_closed`
   lets a supervisor notice at once, and every action takes a timeout, so a
   Ping that is not answered is an exception rather than a hang. A
   ``Manager`` is still single use: the supervisor in :mod:`pbx.listener.service`
   makes a new one per connection.
5. **Responses paired by arrival order.** pyst2 hands whichever response
   arrives next to whichever thread waits first, and writes actions from
   several threads without a lock. Here each action waits for the response
   carrying its own ``ActionID``, and writes are serialised. The listener
   still sends every action from its one supervisor thread.

``close()`` and ``__del__`` never block on a dead server (pyst2's send a
Logoff and wait for its answer without a timeout, even from the garbage
collector).
"""

import contextlib
import logging
import queue
import re
import socket
import threading
import warnings
from itertools import repeat

from asterisk import manager as _pyst

from .ami import Message, Parser, encode_action

_logger = logging.getLogger(__name__)

ManagerException = _pyst.ManagerException
ManagerSocketException = _pyst.ManagerSocketException
ManagerAuthException = _pyst.ManagerAuthException

# Bytes per recv: about sixty events. Bigger reads are slower, not faster:
# a read's bytes, text and messages then no longer fit in the CPU caches
# (measured: 32 KiB ~50k events per CPU second with the assembler, 256 KiB ~34k).
DEFAULT_READ_SIZE = 32 * 1024
DEFAULT_ACTION_TIMEOUT = 5.0
# Batches of events (one per socket read) waiting for the dispatch thread.
# When callbacks fall behind, the reader stops reading and TCP pushes back.
EVENT_QUEUE_BATCHES = 256


class ManagerTimeout(ManagerException):
    """An action got no response within its timeout."""


# One or more blank (or whitespace-only) lines: the end of a message.
_MESSAGE_END = re.compile(r"\n(?:[^\S\n]*\n)+")


class ChunkParser(Parser):
    """:class:`pbx.asterisk.ami.Parser` with the same results, about 40% faster on big reads.

    ``Parser`` decodes and splits each line with several Python calls; this
    decodes a whole read at once, finds message ends with one regex and
    splits each message's lines in a single comprehension. Lines are cut at
    ``\n`` only, keys and values stripped, lines without a colon (or with an
    empty key) skipped, whitespace-only lines end a message: exactly what
    ``Parser`` does (the tests compare both on every recording, cut at
    random places).
    """

    def __init__(self):
        super().__init__()
        self._text = ""  # decoded lines of the message not finished yet

    def feed(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        buffer = self._buffer + data
        cut = buffer.rfind(b"\n") + 1
        if not cut:
            self._buffer = buffer
            return []
        # "\n" never occurs inside a UTF-8 sequence, so decoding whole lines
        # in one go gives what decoding them one by one gives.
        self._buffer = buffer[cut:]
        blocks = _MESSAGE_END.split(self._text + buffer[:cut].decode("utf-8", "replace"))
        self._text = blocks.pop()
        messages = []
        for block in blocks:
            pairs = [
                (key, value.strip())
                for key, colon, value in map(str.partition, block.split("\n"), repeat(":"))
                if colon
                for key in (key.strip(),)
                if key
            ]
            if pairs:
                messages.append(Message(pairs))
        return messages

    def flush(self):
        tail = self._text + self._buffer.decode("utf-8", "replace")
        self._text, self._buffer = "", b""
        return self.feed(tail + "\n\n") if tail.strip() else []


def _pyst_headers(pairs):
    """pyst2's ``headers`` dict: last value wins, ChanVariable as a dict."""
    headers = {}
    for key, value in pairs:
        if "ChanVariable" in key:
            name, _, content = value.partition("=")
            headers.setdefault(key, {})[name.strip()] = content.strip()
        else:
            headers[key] = value
    return headers


class AmiMessage(_pyst.ManagerMsg):
    """A pyst2 ``ManagerMsg`` view of a :class:`pbx.asterisk.ami.Message`.

    ``ami`` is the parsed message with every header in wire order;
    ``headers`` (pyst2's dict) is built the first time it is used.
    """

    def __init__(self, message):  # pylint: disable=super-init-not-called
        # ManagerMsg.__init__ would parse raw lines again, crashing on ChanVariable.
        self.ami = message
        self.data = ""
        self._headers = None

    @property
    def headers(self):
        if self._headers is None:
            self._headers = _pyst_headers(self.ami.pairs)
        return self._headers

    @property
    def response(self):
        return [f"{key}: {value}\r\n" for key, value in self.ami.pairs]


class AmiEvent(_pyst.Event):
    """A pyst2 ``Event``; ``event.ami`` is the :class:`pbx.asterisk.ami.Message`."""

    def __init__(self, message):  # pylint: disable=super-init-not-called
        self.ami = message
        self.name = message.event
        self.data = ""
        self._message = None

    @property
    def message(self):
        if self._message is None:
            self._message = AmiMessage(self.ami)
        return self._message

    @property
    def headers(self):
        return self.message.headers


class _Pending:
    __slots__ = ("done", "response")

    def __init__(self):
        self.done = threading.Event()
        self.response = None


class Manager(_pyst.Manager):
    """pyst2's Manager with buffered reads, ActionID pairing and safe callbacks.

    ``read_size`` is the most bytes one ``recv`` takes; ``action_timeout`` the
    default seconds an action waits for its response. Statistics: ``reads``,
    ``bytes_read``, ``events_read``, ``events_dispatched``, ``callback_errors``.
    """

    def __init__(self, read_size=DEFAULT_READ_SIZE, action_timeout=DEFAULT_ACTION_TIMEOUT):
        with warnings.catch_warnings():
            # pyst2 makes threads with the deprecated setDaemon(); replaced below.
            warnings.simplefilter("ignore", DeprecationWarning)
            super().__init__()
        self.read_size = read_size
        self.action_timeout = action_timeout
        self.version = None
        self._socket = None
        self._parser = ChunkParser()
        self._event_queue = queue.Queue(EVENT_QUEUE_BATCHES)
        self._pending = {}
        self._pending_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self._used = False
        self._leaving = False  # a Logoff was sent: the server hanging up is expected
        self.reads = self.bytes_read = self.events_read = self.callback_errors = 0
        self.events_dispatched = 0
        self.message_thread = threading.Thread(
            target=self.message_loop, name="ami-reader", daemon=True
        )
        self.event_dispatch_thread = threading.Thread(
            target=self.event_dispatch, name="ami-dispatch", daemon=True
        )

    def __del__(self):
        # Never log off (and wait) from the garbage collector.
        sock = getattr(self, "_socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # -- connection --------------------------------------------------------

    def connect(self, host, port=5038, timeout=DEFAULT_ACTION_TIMEOUT):
        """Connect, read the banner and start the reader and dispatch threads.

        Returns the greeting as a response whose ``Response`` is
        ``Generated Header`` (as pyst2 does). A Manager connects once.
        """
        if self._used:
            raise ManagerException("a Manager connects only once; make a new one to reconnect")
        self._used = True
        try:
            sock = socket.create_connection((str(host), int(port)), timeout=timeout)
        except OSError as exc:
            raise ManagerSocketException(exc.errno, str(exc)) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            banner, rest = self._read_banner(sock)
        except OSError as exc:
            sock.close()
            raise ManagerSocketException(exc.errno, f"no AMI banner: {exc}") from exc
        self.title, _, self.version = banner.partition("/")
        self.title, self.version = self.title.strip(), self.version.strip()
        # The timeout now bounds writes; the reader simply reads again.
        sock.settimeout(timeout)
        self._socket = sock
        self._connected.set()
        self._running.set()
        if rest:  # read with the banner: parsed before the reader starts
            self._take(rest)
        self.message_thread.start()
        self.event_dispatch_thread.start()
        return AmiMessage(Message([("Response", "Generated Header"), ("Banner", banner)]))

    @staticmethod
    def _read_banner(sock):
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionResetError(0, "connection closed before the banner")
            data += chunk
            if len(data) > 65536:
                raise ConnectionError(0, "no banner line")
        line, _, rest = data.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace"), rest

    def connected(self):
        """True while the connection is up; False at once when the reader stops."""
        return self._connected.is_set()

    def wait_closed(self, timeout=None):
        """Wait until the connection is gone; True if it is."""
        return self._closed.wait(timeout)

    def close(self, logoff=True, timeout=2.0):
        """Log off (bounded by ``timeout``), close the socket, drain callbacks.

        Events already read are still dispatched before this returns, unless
        it is called from a callback.
        """
        current = threading.current_thread()
        if logoff and self.connected() and current is not self.message_thread:
            try:
                self.logoff(timeout=timeout)
            except ManagerException as exc:
                _logger.debug("AMI logoff failed: %s", exc)
        self._shut_socket()
        if self.message_thread.is_alive() and current is not self.message_thread:
            self.message_thread.join(timeout)
        if self.event_dispatch_thread.is_alive() and current is not self.event_dispatch_thread:
            self._put_batch(None)
            self.event_dispatch_thread.join()
        self._running.clear()

    def _shut_socket(self):
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._mark_closed()

    def _mark_closed(self):
        self._connected.clear()
        self._closed.set()
        with self._pending_lock:
            waiting, self._pending = list(self._pending.values()), {}
        for pending in waiting:
            pending.done.set()

    # -- reading -----------------------------------------------------------

    def message_loop(self):
        """Reader thread: buffered reads, messages routed to waiters and callbacks."""
        sock = self._socket
        try:
            while self._running.is_set():
                try:
                    data = sock.recv(self.read_size)
                except TimeoutError:
                    continue
                except OSError as exc:
                    if not (self._closed.is_set() or self._leaving):
                        _logger.warning("AMI connection failed: %s", exc)
                    break
                if not data:
                    if not (self._closed.is_set() or self._leaving):
                        _logger.warning("AMI server closed the connection")
                    break
                self._take(data)
        except Exception:
            # pyst2's reader died silently and left connected() True.
            _logger.exception("AMI reader failed; closing the connection")
        finally:
            self._shut_socket()
            self._put_batch(None)

    _receive_data = message_loop

    def _take(self, data):
        self.reads += 1
        self.bytes_read += len(data)
        batch = []
        for message in self._parser.feed(data):
            if message.get("Event") is not None:
                batch.append(AmiEvent(message))
            elif message.get("Response") is not None:
                self._answer(message)
            else:
                _logger.debug("AMI message neither event nor response: %r", message)
        if batch:
            self.events_read += len(batch)
            self._put_batch(batch)

    def _put_batch(self, batch):
        # Block while the dispatch thread is behind, but never forever once it is gone.
        while True:
            try:
                self._event_queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                if not self.event_dispatch_thread.is_alive():
                    return

    def _answer(self, message):
        action_id = message.get("ActionID")
        with self._pending_lock:
            pending = self._pending.pop(action_id, None)
        if pending is None:
            _logger.debug("AMI response for no waiting action (ActionID %r)", action_id)
            return
        pending.response = AmiMessage(message)
        pending.done.set()

    # -- callbacks ---------------------------------------------------------

    def event_dispatch(self):
        """Dispatch thread: call callbacks; an exception is logged, never fatal."""
        while True:
            batch = self._event_queue.get()
            if batch is None:
                break
            callbacks = self._event_callbacks
            for event in batch:
                named = callbacks.get(event.name)
                star = callbacks.get("*")
                chain = (named + star if star else named) if named else star
                if not chain:
                    continue
                for callback in chain:
                    try:
                        if callback(event, self):
                            break
                    except Exception:  # noqa: BLE001 (pyst2's dispatch thread died here)
                        self._callback_failed(callback, event)
            self.events_dispatched += len(batch)

    def _callback_failed(self, callback, event):
        self.callback_errors += 1
        count = self.callback_errors
        # Every failure is counted; tracebacks are logged for the first ten,
        # then for every hundredth, so a broken callback cannot flood the log.
        if count <= 10 or count % 100 == 0:
            _logger.exception(
                "AMI callback %r failed on a %s event (%d failures so far); dispatching goes on",
                callback,
                event.name,
                count,
            )

    # -- actions -----------------------------------------------------------

    def send_action(self, cdict=None, timeout=None, **kwargs):
        """Send an action and return the response that carries its ActionID.

        Raises :class:`ManagerTimeout` when no response comes within
        ``timeout`` (default ``action_timeout``) and ``ManagerSocketException``
        when the connection fails. Unlike pyst2, ``cdict`` is not modified.
        """
        action = dict(cdict or {})
        action.update(kwargs)
        if not self.connected():
            raise ManagerException("Not connected")
        action_id = str(action.setdefault("ActionID", f"{self.hostname}-{self.next_seq():08x}"))
        data = encode_action(action)
        pending = _Pending()
        with self._pending_lock:
            if action_id in self._pending:
                raise ManagerException(f"ActionID {action_id!r} is already waiting")
            self._pending[action_id] = pending
        try:
            with self._write_lock:
                self._socket.sendall(data)
        except OSError as exc:
            self._forget(action_id)
            raise ManagerSocketException(exc.errno, str(exc)) from exc
        wait = self.action_timeout if timeout is None else timeout
        if not pending.done.wait(wait):
            self._forget(action_id)
            raise ManagerTimeout(f"no response to {action.get('Action')} within {wait:g} s")
        if pending.response is None:
            raise ManagerSocketException(0, "Connection Terminated")
        return pending.response

    def _forget(self, action_id):
        with self._pending_lock:
            self._pending.pop(action_id, None)

    def ping(self, timeout=None):
        """Send a Ping; raises ManagerTimeout when it is not answered in time."""
        return self.send_action({"Action": "Ping"}, timeout=timeout)

    def logoff(self, timeout=None):
        self._leaving = True
        return self.send_action({"Action": "Logoff"}, timeout=timeout)

    def login(self, username, secret, timeout=None):
        response = self.send_action(
            {"Action": "Login", "Username": username, "Secret": secret}, timeout=timeout
        )
        if response.get_header("Response") == "Error":
            raise ManagerAuthException(response.get_header("Message"))
        return response
