"""The ledger: every movement of money is a set of entries that sums to zero; balances are sums
of entries; nothing is edited in place (a refund is new entries, never a changed charge).

Accounts: ``brand`` (the brand's clearing account: what it collects it passes on, so it returns
to zero once a payment is split), ``platform`` (commission), ``specialist`` (their share),
``patient`` / ``organization`` (the payer) and ``external`` (money leaving, e.g. a payout).

A paid payment of gross G, platform fee F (the commission, rounded half to even) and share
S = G - F posts::

    charge (or sponsored)  payer -G        brand +G
    platform_fee           brand -F        platform +F
    specialist_share       brand -S        specialist +S

A refund or dispute of R posts the fee's part Fr (cumulative, so refunds in parts give back
exactly F in the end) and the share's part R - Fr back to the payer. Each post carries a
transaction key; posting the same key again is a no-op (a retried webhook moves money once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modules.payments import money
from modules.payments.models import LedgerEntry, Payment


class LedgerImbalance(Exception):
    """A set of entries that does not sum to zero (a programming error, never user input)."""


@dataclass(frozen=True)
class Line:
    kind: str
    account_type: str
    account_id: str
    amount_minor: int


def payer_account(payment: Payment) -> tuple[str, str]:
    if payment.payer == "organization":
        assert payment.organization is not None
        return "organization", payment.organization
    return "patient", str(payment.patient_id)


def _specialist_account(payment: Payment) -> tuple[str, str]:
    # a purchase with no specialist (a package) pays its share to the brand's own account
    if payment.specialist_id is None:
        return "brand", payment.brand_id
    return "specialist", str(payment.specialist_id)


def post(session: Session, *, brand_id: str, currency: str, transaction_key: str,
         lines: Iterable[Line], payment: Payment | None = None) -> list[LedgerEntry]:
    """Append ``lines`` as one balanced transaction; zero lines are dropped. Posting a
    ``transaction_key`` already in the ledger adds nothing and returns the entries it has."""
    kept = [line for line in lines if line.amount_minor != 0]
    if sum(line.amount_minor for line in kept) != 0:
        raise LedgerImbalance(f"{transaction_key}: entries sum to "
                              f"{sum(line.amount_minor for line in kept)}")
    existing = list(session.scalars(select(LedgerEntry).where(
        LedgerEntry.transaction_key == transaction_key).execution_options(all_brands=True)))
    if existing:
        return existing
    rows = [LedgerEntry(brand_id=brand_id, payment_id=payment.id if payment else None,
                        transaction_key=transaction_key, kind=line.kind,
                        account_type=line.account_type, account_id=line.account_id,
                        amount_minor=line.amount_minor, currency=currency) for line in kept]
    session.add_all(rows)
    session.flush()
    return rows


def payment_lines(payment: Payment) -> list[Line]:
    """The lines of ``payment`` becoming paid: charge (or sponsored), fee and share."""
    gross, fee = payment.amount_minor, payment.platform_fee_minor
    payer = payer_account(payment)
    kind = "sponsored" if payment.payer == "organization" else "charge"
    brand = ("brand", payment.brand_id)
    share_to = _specialist_account(payment)
    lines = [Line(kind, *payer, -gross), Line(kind, *brand, gross),
             Line("platform_fee", *brand, -fee), Line("platform_fee", "platform", "platform", fee)]
    if share_to != brand:
        lines += [Line("specialist_share", *brand, -(gross - fee)),
                  Line("specialist_share", *share_to, gross - fee)]
    return [line for line in lines if line.amount_minor != 0]


def post_payment(session: Session, payment: Payment) -> list[LedgerEntry]:
    """Post ``payment`` becoming paid (see :func:`payment_lines`)."""
    return post(session, brand_id=payment.brand_id, currency=payment.currency,
                transaction_key=f"payment:{payment.id}", lines=payment_lines(payment),
                payment=payment)


def reversal_lines(payment: Payment, amount_minor: int, kind: str) -> list[Line]:
    """``amount_minor`` of ``payment`` going back to the payer (``kind`` refund or dispute),
    split between platform and specialist in proportion; ``payment.refunded_minor`` must
    still hold the amount given back *before* this one."""
    assert kind in ("refund", "dispute")
    before, after = payment.refunded_minor, payment.refunded_minor + amount_minor
    gross, fee = payment.amount_minor, payment.platform_fee_minor
    fee_back = money.proportion_of(fee, after, gross) - money.proportion_of(fee, before, gross)
    share_back = amount_minor - fee_back
    lines = [Line(kind, *payer_account(payment), amount_minor),
             Line(kind, "platform", "platform", -fee_back),
             Line(kind, *_specialist_account(payment), -share_back)]
    return [line for line in lines if line.amount_minor != 0]


def post_reversal(session: Session, payment: Payment, amount_minor: int, *, kind: str,
                  reference: str) -> list[LedgerEntry]:
    """Post a refund or dispute of ``payment`` (see :func:`reversal_lines`)."""
    return post(session, brand_id=payment.brand_id, currency=payment.currency,
                transaction_key=f"{kind}:{reference}",
                lines=reversal_lines(payment, amount_minor, kind), payment=payment)


def post_payout(session: Session, *, brand_id: str, specialist_id: int, amount_minor: int,
                currency: str, reference: str) -> list[LedgerEntry]:
    """Money paid out to a specialist's bank: their balance goes down by ``amount_minor``."""
    return post(session, brand_id=brand_id, currency=currency,
                transaction_key=f"payout:{reference}",
                lines=[Line("payout", "specialist", str(specialist_id), -amount_minor),
                       Line("payout", "external", "bank", amount_minor)])


def balance(session: Session, brand_id: str, account_type: str, account_id: str,
            currency: str) -> int:
    """The account's balance on ``brand_id``: the sum of its entries."""
    return session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
        LedgerEntry.brand_id == brand_id, LedgerEntry.account_type == account_type,
        LedgerEntry.account_id == account_id, LedgerEntry.currency == currency)
        .execution_options(all_brands=True)) or 0


def unbalanced_payments(session: Session, brand_id: str) -> list[tuple[int, int]]:
    """(payment id, sum of its entries) for every payment of the brand whose entries do not
    sum to zero, and every payment whose payer's net debit differs from what the payment says
    was kept (amount minus refunded). Empty when the ledger is sound."""
    sums = session.execute(
        select(LedgerEntry.payment_id, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.brand_id == brand_id, LedgerEntry.payment_id.is_not(None))
        .group_by(LedgerEntry.payment_id).having(func.sum(LedgerEntry.amount_minor) != 0)
        .execution_options(all_brands=True))
    bad = [(pid, int(total)) for pid, total in sums]
    payer_net = dict(session.execute(
        select(LedgerEntry.payment_id, func.sum(LedgerEntry.amount_minor))
        .where(LedgerEntry.brand_id == brand_id, LedgerEntry.payment_id.is_not(None),
               LedgerEntry.account_type.in_(("patient", "organization")))
        .group_by(LedgerEntry.payment_id).execution_options(all_brands=True)).all())
    posted = session.execute(
        select(Payment.id, Payment.amount_minor, Payment.refunded_minor)
        .where(Payment.brand_id == brand_id,
               Payment.status.in_(("paid", "refunded", "partially_refunded", "disputed")))
        .execution_options(all_brands=True))
    for pid, amount, refunded in posted:
        if -(payer_net.get(pid) or 0) != amount - refunded:
            bad.append((pid, -(payer_net.get(pid) or 0) - (amount - refunded)))
    return bad


def transaction_posted(session: Session, transaction_key: str) -> bool:
    """Whether a transaction with this key is already in the ledger."""
    return session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.transaction_key == transaction_key).limit(1)
        .execution_options(all_brands=True)) is not None
