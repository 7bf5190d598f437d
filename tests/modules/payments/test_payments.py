"""Payments of appointments: manual mark-paid, the online hold that expires and frees the slot,
refunds under the cancellation policy (full, partial, none) and by staff, disputes; the ledger
balances for every payment and balances are sums of entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.web import UserError
from modules.booking import changes
from modules.booking import services as booking
from modules.booking.availability import BLOCKING_STATUSES
from modules.payments import holds, ledger, services
from modules.payments.models import LedgerEntry, Payment
from modules.payments.providers import ManualProvider, register
from tests.modules.payments.conftest import NOW, configured, monday


class OnlineProvider(ManualProvider):
    """A provider that collects online, for the hold rules (the Stripe one is tested apart)."""

    name = "stripe"
    collects_online = True


@pytest.fixture
def online(brands):
    from modules.payments import providers

    saved = providers._providers.get("stripe")
    register(OnlineProvider())
    yield configured(brands["acme-clinic"], hold_minutes=15,
                     payments={"provider": "stripe", "mode": "platform",
                               "stripe_secret_key": "env:TEST_KEY",
                               "stripe_webhook_secret": "env:TEST_HOOK"})
    if saved is not None:
        register(saved)
    else:
        providers._providers.pop("stripe", None)


def _pay(db, brand, appointment) -> Payment:
    payment = services.payment_for_appointment(db, brand, appointment.id)
    assert payment is not None
    return payment


def _entries(db, payment) -> list[tuple[str, str, int]]:
    return [(e.kind, e.account_type, e.amount_minor) for e in db.scalars(
        select(LedgerEntry).where(LedgerEntry.payment_id == payment.id).order_by(LedgerEntry.id))]


def test_staff_mark_a_manual_payment_paid_and_the_ledger_splits_it(db, brands, practice, book,
                                                                  create_user):
    brand = configured(brands["acme-clinic"], payments={"commission_percent": "12.5"})
    p = practice(also_on=())
    payment = _pay(db, brand, book(brand, create_user(), p, monday()))
    assert _entries(db, payment) == []  # nothing moved yet
    services.mark_paid(db, create_user(role="org_admin"), brand, payment.id)
    assert payment.status == "paid" and payment.paid_at == NOW
    assert sorted(_entries(db, payment)) == sorted([
        ("charge", "patient", -8000), ("charge", "brand", 8000),
        ("platform_fee", "brand", -1000), ("platform_fee", "platform", 1000),
        ("specialist_share", "brand", -7000), ("specialist_share", "specialist", 7000)])
    assert ledger.balance(db, "acme-clinic", "specialist", str(p.specialist.id), "EUR") == 7000
    assert ledger.unbalanced_payments(db, "acme-clinic") == []


def test_only_staff_mark_paid_and_only_once(db, acme, practice, book, create_user):
    patient = create_user()
    payment = _pay(db, acme, book(acme, patient, practice(also_on=()), monday()))
    with pytest.raises(UserError) as refused:
        services.mark_paid(db, patient, acme, payment.id)
    assert refused.value.code == "forbidden"
    staff = create_user(role="org_admin")
    services.mark_paid(db, staff, acme, payment.id)
    with pytest.raises(UserError) as twice:
        services.mark_paid(db, staff, acme, payment.id)
    assert twice.value.code == "not_payable"
    assert db.scalar(select(func.count(LedgerEntry.id)).where(
        LedgerEntry.payment_id == payment.id)) == 4  # commission 0: no fee lines


def test_another_brands_payment_is_not_found(db, acme, brands, practice, book, create_user):
    payment = _pay(db, acme, book(acme, create_user(), practice(also_on=()), monday()))
    wellness = configured(brands["wellness-corp"])
    with pytest.raises(UserError) as missing:
        services.mark_paid(db, create_user(role="org_admin", brand="wellness-corp"), wellness,
                           payment.id)
    assert missing.value.status == 404


def test_online_payment_holds_the_slot_until_it_expires(db, online, practice, book, create_user,
                                                        platform):
    p = practice(also_on=())
    appointment = book(online, create_user(), p, monday())
    payment = _pay(db, online, appointment)
    assert payment.status == "held"
    assert payment.hold_expires_at == NOW + timedelta(minutes=15)
    taken = booking.available_slots(db, online, p.specialist.id, p.appointment_type.id,
                                    monday() - timedelta(hours=1), monday() + timedelta(hours=1))
    assert monday() not in [s.start_at for s in taken]
    with platform.app_for("acme-clinic").test_request_context():
        assert holds.expire_brand_holds(db, online, NOW + timedelta(minutes=14)) == []
        expired = holds.expire_brand_holds(db, online, NOW + timedelta(minutes=15))
    assert [e.id for e in expired] == [payment.id]
    assert payment.status == "expired" and appointment.status == "cancelled"
    free = booking.available_slots(db, online, p.specialist.id, p.appointment_type.id,
                                   monday() - timedelta(hours=1), monday() + timedelta(hours=1))
    assert monday() in [s.start_at for s in free]
    assert _entries(db, payment) == []  # nothing was paid, nothing posted
    # another patient can now book the freed time
    other = book(online, create_user(), p, monday())
    assert other.status in BLOCKING_STATUSES


def test_payment_confirmed_by_the_provider_keeps_the_slot(db, online, practice, book,
                                                          create_user, platform):
    appointment = book(online, create_user(), practice(also_on=()), monday())
    payment = _pay(db, online, appointment)
    assert services.confirm_paid(db, online, payment, payment_intent_id="pi_1") is True
    assert services.confirm_paid(db, online, payment, payment_intent_id="pi_1") is False
    with platform.app_for("acme-clinic").test_request_context():
        assert holds.expire_brand_holds(db, online, NOW + timedelta(hours=2)) == []
    assert payment.status == "paid" and appointment.status == "confirmed"
    assert len(_entries(db, payment)) == 4  # commission 0: no fee lines


def test_money_arriving_after_the_hold_expired_is_refunded_in_full(db, online, practice, book,
                                                                    create_user, platform):
    appointment = book(online, create_user(), practice(also_on=()), monday())
    payment = _pay(db, online, appointment)
    with platform.app_for("acme-clinic").test_request_context():
        holds.expire_brand_holds(db, online, NOW + timedelta(minutes=20))
    services.confirm_paid(db, online, payment, payment_intent_id="pi_late")
    assert payment.status == "refunded" and payment.refunded_minor == 8000
    assert appointment.status == "cancelled"
    assert ledger.unbalanced_payments(db, "acme-clinic") == []


@pytest.mark.parametrize("policy, late, expected", [
    ("none", False, 8000),       # a free cancellation is always refunded in full
    ("none", True, 0),
    ("partial", True, 2000),     # 25 % of 80.00
    ("full", True, 8000),
])
def test_cancellation_refund_follows_the_policy(db, brands, practice, book, create_user, platform,
                                                policy, late, expected):
    brand = configured(brands["acme-clinic"], refund_inside_window=policy,
                       partial_refund_percent=25, payments={"commission_percent": "10"})
    patient = create_user()
    appointment = book(brand, patient, practice(also_on=()), monday())
    payment = _pay(db, brand, appointment)
    services.mark_paid(db, create_user(role="org_admin"), brand, payment.id)
    moment = monday() - timedelta(hours=2 if late else 48)
    with clock.freeze(moment), platform.app_for("acme-clinic").test_request_context():
        changes.cancel(db, patient, brand, appointment.id)
    assert appointment.status == ("late_cancelled" if late else "cancelled")
    assert payment.refunded_minor == expected
    assert payment.status == {0: "paid", 8000: "refunded"}.get(expected, "partially_refunded")
    fee_back = -sum(e[2] for e in _entries(db, payment)
                    if e[0] == "refund" and e[1] == "platform")
    assert fee_back == expected // 10  # the fee goes back in proportion
    assert ledger.unbalanced_payments(db, "acme-clinic") == []


def test_staff_refund_in_parts_gives_back_the_whole_fee_exactly(db, brands, practice, book,
                                                                create_user):
    brand = configured(brands["acme-clinic"], payments={"commission_percent": "15"})
    staff = create_user(role="coordinator")
    payment = _pay(db, brand, book(brand, create_user(), practice(also_on=()), monday()))
    services.mark_paid(db, staff, brand, payment.id)
    for part in (333, 1001, 6666):
        services.refund(db, staff, brand, payment.id, part)
    assert payment.refunded_minor == 8000 and payment.status == "refunded"
    spec = str(payment.specialist_id)
    assert ledger.balance(db, "acme-clinic", "platform", "platform", "EUR") == 0
    assert ledger.balance(db, "acme-clinic", "specialist", spec, "EUR") == 0
    assert ledger.balance(db, "acme-clinic", "patient", str(payment.patient_id), "EUR") == 0
    with pytest.raises(UserError) as nothing_left:
        services.refund(db, staff, brand, payment.id, 1)
    assert nothing_left.value.code == "not_refundable"


@pytest.mark.parametrize("amount", [0, -5, 8001])
def test_refund_of_a_bad_amount_is_refused_and_changes_nothing(db, acme, practice, book,
                                                               create_user, amount):
    staff = create_user(role="org_admin")
    payment = _pay(db, acme, book(acme, create_user(), practice(also_on=()), monday()))
    services.mark_paid(db, staff, acme, payment.id)
    before = _entries(db, payment)
    with pytest.raises(UserError) as refused:
        services.refund(db, staff, acme, payment.id, amount)
    assert refused.value.code == "invalid_amount"
    assert _entries(db, payment) == before and payment.refunded_minor == 0


def test_a_dispute_is_recorded_once(db, acme, practice, book, create_user):
    payment = _pay(db, acme, book(acme, create_user(), practice(also_on=()), monday()))
    services.mark_paid(db, create_user(role="org_admin"), acme, payment.id)
    assert services.record_refund(db, acme, payment, 8000, "dp_1", kind="dispute") is True
    assert services.record_refund(db, acme, payment, 8000, "dp_1", kind="dispute") is False
    assert payment.status == "disputed" and payment.refunded_minor == 8000
    assert ledger.unbalanced_payments(db, "acme-clinic") == []


def test_entries_that_do_not_balance_are_refused(db, acme):
    with pytest.raises(ledger.LedgerImbalance):
        ledger.post(db, brand_id="acme-clinic", currency="EUR", transaction_key="bad:1",
                    lines=[ledger.Line("charge", "brand", "acme-clinic", 100)])


def test_the_balance_check_finds_a_tampered_entry(db, acme, practice, book, create_user):
    payment = _pay(db, acme, book(acme, create_user(), practice(also_on=()), monday()))
    services.mark_paid(db, create_user(role="org_admin"), acme, payment.id)
    entry = db.scalar(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id,
                                                LedgerEntry.account_type == "specialist"))
    entry.amount_minor += 1  # what an edit in place would do
    db.flush()
    assert [pid for pid, _ in ledger.unbalanced_payments(db, "acme-clinic")] == [payment.id]


def test_a_payout_lowers_the_specialists_balance(db, acme, practice, book, create_user):
    payment = _pay(db, acme, book(acme, create_user(), practice(also_on=()), monday()))
    services.mark_paid(db, create_user(role="org_admin"), acme, payment.id)
    spec = payment.specialist_id
    ledger.post_payout(db, brand_id="acme-clinic", specialist_id=spec, amount_minor=5000,
                       currency="EUR", reference="po_1")
    ledger.post_payout(db, brand_id="acme-clinic", specialist_id=spec, amount_minor=5000,
                       currency="EUR", reference="po_1")  # the same payout reported again
    assert ledger.balance(db, "acme-clinic", "specialist", str(spec), "EUR") == 3000


def test_money_actions_are_audited_without_health_data(db, acme, practice, book, create_user):
    from engine.audit_models import AuditEvent

    staff = create_user(role="org_admin")
    payment = _pay(db, acme, book(acme, create_user(), practice(also_on=()), monday()))
    services.mark_paid(db, staff, acme, payment.id)
    services.refund(db, staff, acme, payment.id, 500)
    events = list(db.scalars(select(AuditEvent).where(
        AuditEvent.target_type == "payment", AuditEvent.target_id == str(payment.id))
        .order_by(AuditEvent.seq)))
    assert [(e.action, e.actor_id) for e in events] == [
        ("payments.mark_paid", staff.id), ("payments.refund", staff.id)]
