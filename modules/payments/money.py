"""Money: integer minor units plus an ISO 4217 currency, and the two explicit rounding rules.

Rounding rule (one, everywhere): **half to even** (``ROUND_HALF_EVEN``, banker's rounding),
the rule the engine already uses for prices (:func:`engine.i18n.to_minor`), so a price and a
commission never round two ways. An exact half goes to the even neighbour (2.5 -> 2, 3.5 -> 4,
-2.5 -> -2), so over many payments rounding favours neither the platform nor the specialist
(half-up would add a systematic cent to commissions). It applies when a decimal amount from
brand YAML becomes minor units (a price with more decimals than the currency has, e.g.
"10.005" EUR or "100.5" JPY) and when a percentage of an amount is taken (a commission, a
promotion, a partial refund). Splits never round twice: the second part of a split is the
remainder (``share = gross - fee``), so parts always add up to the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from babel.numbers import format_currency, get_currency_precision

ROUNDING = ROUND_HALF_EVEN


def exponent(currency: str) -> int:
    """Decimals of ``currency``'s minor unit: 2 for EUR/USD, 0 for JPY, 3 for KWD."""
    return int(get_currency_precision(currency.upper()))


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """``amount`` (major units, e.g. Decimal("60.00")) in minor units, rounded half to even."""
    value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount")
    scaled = value.scaleb(exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUNDING))


def to_major(minor: int, currency: str) -> Decimal:
    """Minor units back to an exact Decimal in major units (no rounding happens)."""
    return Decimal(minor).scaleb(-exponent(currency))


def percent_of(minor: int, percent: Decimal | int | str) -> int:
    """``percent`` % of ``minor`` units, rounded half to even to a whole minor unit."""
    value = Decimal(minor) * Decimal(str(percent)) / Decimal(100)
    return int(value.quantize(Decimal(1), rounding=ROUNDING))


def proportion_of(minor: int, part: int, whole: int) -> int:
    """``minor * part / whole`` rounded half to even (e.g. the fee part of a partial refund)."""
    if whole <= 0:
        raise ValueError("whole must be positive")
    value = Decimal(minor) * Decimal(part) / Decimal(whole)
    return int(value.quantize(Decimal(1), rounding=ROUNDING))


@dataclass(frozen=True, order=True)
class Money:
    """An amount in minor units of one currency. Adding two currencies is an error."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money holds integer minor units")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        return cls(to_minor(amount, currency), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def percent(self, percent: Decimal | int | str) -> Money:
        return Money(percent_of(self.minor, percent), self.currency)

    @property
    def major(self) -> Decimal:
        return to_major(self.minor, self.currency)

    def format(self, locale: str = "en") -> str:
        return str(format_currency(self.major, self.currency, locale=locale))

    def __str__(self) -> str:
        return f"{self.major} {self.currency}"


def format_minor(minor: int, currency: str, locale: str = "en") -> str:
    """A localized amount for a page or a mail: ``format_minor(6000, "EUR", "es")``."""
    return Money(minor, currency).format(locale)
