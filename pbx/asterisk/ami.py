"""Asterisk Manager Interface (AMI) wire format: parsing and encoding.

An AMI message is a block of ``Key: Value`` lines ended by a blank line.
Asterisk writes CRLF, but captures and proxies often turn that into LF, so
both are accepted. Keys may repeat (``ChanVariable``, ``Output``,
``Variable``), which is why a message is a list of pairs and not a dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

_ENCODING = "utf-8"


class Message:
    """One AMI message: the ordered ``(key, value)`` pairs as received.

    Lookups ignore the case of keys: Asterisk versions disagree on spellings
    such as ``CallerIDNum``/``CallerIdNum``.
    """

    __slots__ = ("_first", "pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs = list(pairs)
        self._first = {}
        for key, value in self.pairs:
            self._first.setdefault(key.lower(), value)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value for ``key``, or ``default``."""
        return self._first.get(key.lower(), default)

    def get_all(self, key: str) -> list[str]:
        """Every value for ``key``, in wire order."""
        key = key.lower()
        return [value for k, value in self.pairs if k.lower() == key]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._first

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.pairs == other.pairs

    def __repr__(self) -> str:
        return f"Message({self.pairs!r})"


def _split_line(line):
    """``(key, value)`` of one wire line, or None for lines without a colon."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key:
        return None
    return key, value.strip()


class Parser:
    """Incremental AMI parser: feed it bytes as they come off the socket.

    Chunks may split anywhere, even inside a CRLF or a multi-byte character,
    so only complete lines are decoded. Lines without a colon (the
    ``Asterisk Call Manager/x.y`` banner, garbage) are skipped rather than
    failing the whole stream.
    """

    def __init__(self):
        self._buffer = b""
        self._pairs = []

    def feed(self, data: bytes | str) -> list[Message]:
        """Add ``data`` (bytes or str); return the messages it completed."""
        if isinstance(data, str):
            data = data.encode(_ENCODING)
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for raw in lines:
            self._take_line(raw.rstrip(b"\r").decode(_ENCODING, "replace"), messages)
        return messages

    def flush(self) -> list[Message]:
        """End of stream: return the last message even without a blank line."""
        messages = []
        if self._buffer:
            self._take_line(self._buffer.rstrip(b"\r").decode(_ENCODING, "replace"), messages)
            self._buffer = b""
        if self._pairs:
            messages.append(Message(self._pairs))
            self._pairs = []
        return messages

    def _take_line(self, line, messages):
        if not line.strip():
            if self._pairs:
                messages.append(Message(self._pairs))
                self._pairs = []
            return
        pair = _split_line(line)
        if pair:
            self._pairs.append(pair)


def parse_bytes(data: bytes | str) -> list[Message]:
    """Every message in a complete capture held in memory."""
    parser = Parser()
    return parser.feed(data) + parser.flush()


def iter_file(path: str | Path, chunk_size: int = 65536) -> Iterator[Message]:
    """Yield the messages of a capture file without loading it whole."""
    parser = Parser()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_size):
            yield from parser.feed(chunk)
    yield from parser.flush()


def parse_file(path: str | Path) -> list[Message]:
    """Every message of a capture file, as a list."""
    return list(iter_file(path))


def encode_action(action: dict | Iterable[tuple[str, object]]) -> bytes:
    """Wire bytes for an action given as a dict or a list of pairs.

    A list or tuple value repeats its key (``Variable: a=1``,
    ``Variable: b=2``). ``Action`` is written first because that is how
    Asterisk documents every action. Line breaks inside keys or values are
    refused: they would let a value inject extra headers or a second action.
    """
    items = list(action.items()) if isinstance(action, dict) else list(action)
    items.sort(key=lambda item: item[0].lower() != "action")
    if not items or items[0][0].lower() != "action":
        raise ValueError("an AMI action needs an 'Action' key")
    lines = []
    for key, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        for single in values:
            single = "" if single is None else str(single)
            if any(c in text for text in (key, single) for c in "\r\n"):
                raise ValueError(f"line break in AMI header {key!r}")
            lines.append(f"{key}: {single}\r\n")
    return ("".join(lines) + "\r\n").encode(_ENCODING)
