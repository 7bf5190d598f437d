"""Money: integer minor units per currency and one rounding rule (half to even) for decimal
prices and percentages; splits add up to the whole."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modules.payments import money
from modules.payments.money import Money


@pytest.mark.parametrize("amount, currency, minor", [
    ("60.00", "EUR", 6000),
    ("0.125", "EUR", 12),      # half to even: 12.5 -> 12
    ("0.135", "EUR", 14),      # 13.5 -> 14
    ("10.005", "USD", 1000),
    ("10.015", "USD", 1002),
    ("100.5", "JPY", 100),     # no minor unit in yen
    ("101.5", "JPY", 102),
    ("1500", "JPY", 1500),
    ("1.2345", "KWD", 1234),   # three decimals in dinars
    ("1.2355", "KWD", 1236),
])
def test_decimal_prices_become_minor_units(amount, currency, minor):
    assert money.to_minor(Decimal(amount), currency) == minor


@pytest.mark.parametrize("minor, percent, expected", [
    (995, 20, 199),           # 199.0
    (1005, 10, 100),          # 100.5 -> 100 (even)
    (1015, 10, 102),          # 101.5 -> 102
    (8000, "12.5", 1000),
    (6333, "12.5", 792),      # 791.625 -> 792
    (-25, 10, -2),            # -2.5 -> -2
    (0, 50, 0),
])
def test_percentages_round_half_to_even(minor, percent, expected):
    assert money.percent_of(minor, percent) == expected


def test_a_fractional_amount_is_refused():
    with pytest.raises(TypeError):
        Money(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(10, "eur")
    with pytest.raises(ValueError):
        money.to_minor("NaN", "EUR")


def test_currencies_do_not_mix():
    with pytest.raises(ValueError, match="EUR and USD"):
        Money(100, "EUR") + Money(100, "USD")
    assert Money(150, "EUR") - Money(50, "EUR") == Money(100, "EUR")


def test_formatting_follows_the_locale_and_the_currency():
    assert money.format_minor(6000, "EUR", "es") == "60,00\xa0€"
    assert money.format_minor(1500, "JPY", "en") == "¥1,500"
    assert str(Money(1234, "KWD")) == "1.234 KWD"


@given(gross=st.integers(min_value=1, max_value=10**9),
       fee_percent=st.decimals(min_value=0, max_value=100, places=2),
       refunds=st.lists(st.integers(min_value=1, max_value=10**6), max_size=6))
def test_refunds_in_parts_give_back_the_fee_exactly_once_complete(gross, fee_percent, refunds):
    fee = money.percent_of(gross, fee_percent)
    given_back, fee_back = 0, 0
    for part in refunds:
        part = min(part, gross - given_back)
        if part <= 0:
            break
        after = given_back + part
        fee_back += money.proportion_of(fee, after, gross) - money.proportion_of(
            fee, given_back, gross)
        given_back = after
    if given_back == gross:
        assert fee_back == fee
    assert 0 <= fee_back <= fee
