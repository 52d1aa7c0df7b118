"""Call costs from a tariff table: longest-prefix match and billing increments.

A tariff line names a destination prefix of the E.164 number (``+31``,
``+316``, ``+44 20``...), a price per minute, a connection fee and a billing
increment written as carriers do: ``60/60`` (per started minute), ``1/1``
(per second), ``30/6`` (the first 30 seconds, then per 6 seconds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_INCREMENT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class TariffError(ValueError):
    pass


@dataclass(frozen=True)
class Tariff:
    prefix: str
    price_per_minute: float
    connection_fee: float = 0.0
    increment: str = "60/60"
    key: object = None

    @property
    def digits(self) -> str:
        return normalise_prefix(self.prefix)


def normalise_prefix(prefix: str | None) -> str:
    """``+31 6`` and ``00316`` both become ``316``."""
    text = re.sub(r"[\s().-]", "", prefix or "")
    text = text.removeprefix("00")
    text = text.lstrip("+")
    if not text.isdigit():
        raise TariffError(f"prefix {prefix!r} must be digits, optionally after + or 00")
    return text


def parse_increment(text: str | None) -> tuple[int, int]:
    """``"30/6"`` -> (30, 6); both parts at least 1 second."""
    match = _INCREMENT.match(text or "")
    if not match:
        raise TariffError(f"billing increment {text!r} must look like 60/60, 1/1 or 30/6")
    first, then = int(match.group(1)), int(match.group(2))
    if first < 1 or then < 1:
        raise TariffError(f"billing increment {text!r} must use whole seconds of at least 1")
    return first, then


def billed_seconds(talk_seconds: int, increment: str) -> int:
    """Seconds a carrier bills for ``talk_seconds`` under ``increment``."""
    if talk_seconds <= 0:
        return 0
    first, then = parse_increment(increment)
    if talk_seconds <= first:
        return first
    return first + math.ceil((talk_seconds - first) / then) * then


def match(number: str | None, tariffs: Iterable[Tariff]) -> Tariff | None:
    """The tariff with the longest prefix of the E.164 ``number``, or None."""
    if not number:
        return None
    digits = number.lstrip("+")
    best = None
    for tariff in tariffs:
        prefix = tariff.digits
        if digits.startswith(prefix) and (best is None or len(prefix) > len(best.digits)):
            best = tariff
    return best


def cost(talk_seconds: int, tariff: Tariff | None, rounding: int = 2) -> float:
    """Price of an answered call: connection fee plus billed minutes (unanswered: 0)."""
    if not tariff or talk_seconds <= 0:
        return 0.0
    seconds = billed_seconds(talk_seconds, tariff.increment)
    amount = Decimal(str(tariff.connection_fee)) + Decimal(str(tariff.price_per_minute)) * (
        Decimal(seconds) / Decimal(60)
    )
    return float(amount.quantize(Decimal(1).scaleb(-rounding), rounding=ROUND_HALF_UP))
