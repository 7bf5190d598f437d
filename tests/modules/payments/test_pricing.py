"""Pricing strategies: each rule, the first-session promotion once only, the sponsored quota
used up then the member price, packages and subscriptions; the rule is kept on the payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from engine.config.models import Pricing
from modules.payments import credits, services
from modules.payments.models import Payment, PromotionUse, SponsoredUsage
from modules.payments.services import payment_for_appointment
from tests.modules.payments.conftest import NOW, configured, monday


def _payment(db, brand, appointment) -> Payment:
    found = payment_for_appointment(db, brand, appointment.id)
    assert found is not None
    return found


def test_fixed_price_is_the_type_price_and_manual_payment_waits(db, acme, practice, book,
                                                                create_user):
    p = practice(also_on=())
    patient = create_user()
    appointment = book(acme, patient, p, monday())
    payment = _payment(db, acme, appointment)
    assert (payment.amount_minor, payment.currency, payment.pricing_rule) == (8000, "EUR",
                                                                               "fixed")
    assert payment.status == "pending" and payment.provider == "manual"
    assert payment.hold_expires_at is None  # pay at the clinic: the slot is not at risk


def test_specialist_defined_price_is_recorded_as_such(db, brands, practice, book, create_user):
    brand = configured(brands["acme-clinic"], pricing={
        "strategy": "specialist_defined", "specialist_price_min": "40",
        "specialist_price_max": "120", "appointment_types": []})
    from tests.modules.payments.conftest import FIRST_VISIT, with_booking  # noqa: F401

    p = practice(also_on=())
    p.appointment_type.price_minor = 9550  # what the specialist named (booking checks bounds)
    appointment = book(brand, create_user(), p, monday())
    payment = _payment(db, brand, appointment)
    assert (payment.amount_minor, payment.pricing_rule) == (9550, "specialist_defined")


@pytest.mark.parametrize("promotion, expected", [
    ({"percent_off": 25}, 6000),            # 25 % of 80.00
    ({"percent_off": 100}, 0),
    ({"amount_off": "15.50"}, 6450),
    ({"amount_off": "500"}, 0),             # never below zero
])
def test_first_session_promotion(db, brands, practice, book, create_user, promotion, expected):
    brand = configured(brands["acme-clinic"], pricing={"first_session": promotion})
    p = practice(also_on=())
    patient = create_user()
    first = _payment(db, brand, book(brand, patient, p, monday(0)))
    assert (first.amount_minor, first.list_price_minor, first.pricing_rule) == (
        expected, 8000, "first_session")


def test_first_session_promotion_applies_once_per_patient_per_brand(db, brands, practice, book,
                                                                    create_user):
    brand = configured(brands["acme-clinic"], pricing={"first_session": {"percent_off": 50}})
    p = practice(also_on=())
    patient, other = create_user(), create_user()
    first = _payment(db, brand, book(brand, patient, p, monday(0, 10)))
    second = _payment(db, brand, book(brand, patient, p, monday(0, 11)))
    theirs = _payment(db, brand, book(brand, other, p, monday(0, 12)))
    assert [first.pricing_rule, second.pricing_rule, theirs.pricing_rule] == [
        "first_session", "fixed", "first_session"]
    assert [first.amount_minor, second.amount_minor] == [4000, 8000]
    assert db.query(PromotionUse).filter_by(patient_id=patient.id).count() == 1


def test_promotion_comes_back_after_a_free_cancellation(db, brands, practice, book, create_user,
                                                        platform):
    from modules.booking import changes

    brand = configured(brands["acme-clinic"], pricing={"first_session": {"percent_off": 50}})
    p = practice(also_on=())
    patient = create_user()
    first = book(brand, patient, p, monday(1))
    with platform.app_for("acme-clinic").test_request_context():
        changes.cancel(db, patient, brand, first.id)
    assert _payment(db, brand, first).status == "cancelled"
    again = _payment(db, brand, book(brand, patient, p, monday(2)))
    assert again.pricing_rule == "first_session"


def _sponsored_brand(brands, sessions=2, member_price="40.00"):
    return configured(brands["wellness-corp"], payments={"provider": "manual", "mode": None,
                                                         "commission_percent": "20",
                                                         "stripe_secret_key": None,
                                                         "stripe_webhook_secret": None},
                      pricing={"first_session": None, "sponsored": [
                          {"organization": "globex", "sessions_per_year": sessions,
                           "member_price": member_price}]})


def test_sponsored_sessions_then_member_price(db, brands, practice, book, create_user):
    brand = _sponsored_brand(brands, sessions=2)
    p = practice(also_on=("wellness-corp",))
    from modules.booking import calendar
    from tests.modules.payments.conftest import FIRST_VISIT

    kind = calendar.save_appointment_type(db, p.specialist, brand, FIRST_VISIT.model_copy(
        update={"catalog_key": "session", "duration_minutes": 50}))
    p = type(p)(p.specialist, kind)
    member = create_user(brand="wellness-corp", organization="globex")
    outsider = create_user(brand="wellness-corp")
    rules = [_payment(db, brand, book(brand, member, p, monday(0, h))) for h in (9, 10, 11)]
    assert [r.pricing_rule for r in rules] == ["sponsored", "sponsored", "member_price"]
    assert [r.amount_minor for r in rules] == [9500, 9500, 4000]
    assert [r.payer for r in rules] == ["organization", "organization", "patient"]
    assert rules[0].organization == "globex" and rules[0].status == "paid"
    assert rules[2].status == "pending"
    assert db.query(SponsoredUsage).filter_by(patient_id=member.id).one().used == 2
    theirs = _payment(db, brand, book(brand, outsider, p, monday(0, 12)))
    assert (theirs.pricing_rule, theirs.amount_minor) == ("fixed", 9500)


def test_sponsored_quota_counts_per_calendar_year(db, brands, practice, book, create_user):
    brand = _sponsored_brand(brands, sessions=1, member_price=None)
    from modules.booking import calendar
    from tests.modules.payments.conftest import FIRST_VISIT

    p = practice(also_on=("wellness-corp",))
    kind = calendar.save_appointment_type(db, p.specialist, brand, FIRST_VISIT.model_copy(
        update={"catalog_key": "session", "duration_minutes": 50, "max_days_ahead": 200}))
    p = type(p)(p.specialist, kind)
    member = create_user(brand="wellness-corp", organization="globex")
    this_year = _payment(db, brand, book(brand, member, p, monday(0)))
    used_up = _payment(db, brand, book(brand, member, p, monday(1)))
    next_year = _payment(db, brand, book(brand, member, p, monday(14)))  # 2027-01-11
    assert [this_year.pricing_rule, used_up.pricing_rule, next_year.pricing_rule] == [
        "sponsored", "fixed", "sponsored"]


def test_package_credit_pays_sessions_until_used_up(db, brands, practice, book, create_user):
    brand = configured(brands["acme-clinic"], pricing={"strategy": "package", "packages": [
        {"key": "three", "name": "Three sessions", "sessions": 2, "price": "150.00",
         "valid_days": 90}]})
    staff = create_user(role="org_admin")
    patient = create_user()
    purchase = credits.buy(db, patient, brand, "package", "three")
    assert (purchase.amount_minor, purchase.pricing_rule, purchase.status) == (
        15000, "package_purchase", "pending")
    p = practice(also_on=())
    before = _payment(db, brand, book(brand, patient, p, monday(0, 9)))
    assert before.pricing_rule == "fixed"  # no sessions until the package is paid
    services.mark_paid(db, staff, brand, purchase.id)
    used = [_payment(db, brand, book(brand, patient, p, monday(0, h))) for h in (10, 11, 12)]
    assert [u.pricing_rule for u in used] == ["package", "package", "fixed"]
    assert [u.amount_minor for u in used] == [0, 0, 8000]
    assert used[0].credit_id == used[1].credit_id is not None


def test_package_credit_expires(db, brands, practice, book, create_user):
    brand = configured(brands["acme-clinic"], pricing={"strategy": "package", "packages": [
        {"key": "pack", "name": "Pack", "sessions": 5, "price": "100", "valid_days": 7}]})
    patient = create_user()
    services.mark_paid(db, create_user(role="org_admin"), brand,
                       credits.buy(db, patient, brand, "package", "pack").id)
    p = practice(also_on=())
    inside = _payment(db, brand, book(brand, patient, p, monday(0)))   # 5 Oct: within 7 days
    after = _payment(db, brand, book(brand, patient, p, monday(1)))    # 12 Oct: expired
    assert [inside.pricing_rule, after.pricing_rule] == ["package", "fixed"]


def test_subscription_period_gives_sessions_per_month(db, brands, practice, book, create_user):
    brand = configured(brands["acme-clinic"], pricing={"strategy": "subscription",
                                                       "subscriptions": [
        {"key": "monthly", "name": "Monthly", "sessions_per_period": 1,
         "price_per_month": "70"}]})
    patient = create_user()
    services.mark_paid(db, create_user(role="org_admin"), brand,
                       credits.buy(db, patient, brand, "subscription", "monthly").id)
    p = practice(also_on=())
    first = _payment(db, brand, book(brand, patient, p, monday(0, 10)))
    second = _payment(db, brand, book(brand, patient, p, monday(0, 11)))
    assert [first.pricing_rule, second.pricing_rule] == ["subscription", "fixed"]
    # the next month's period, reported by the provider; granted once however often reported
    for _ in range(2):
        credits.grant_period(db, brand, patient_id=patient.id, key="monthly",
                             starts_at=NOW + timedelta(days=31), source_key="in_test_2")
    november = _payment(db, brand, book(brand, patient, p, monday(5)))
    assert november.pricing_rule == "subscription"


def test_pricing_yaml_is_validated():
    with pytest.raises(ValidationError, match="needs at least one offer"):
        Pricing.model_validate({"strategy": "package", "appointment_types": []})
    with pytest.raises(ValidationError, match="needs at least one plan"):
        Pricing.model_validate({"strategy": "subscription"})
    with pytest.raises(ValidationError):
        Pricing.model_validate({"strategy": "package", "packages": [
            {"key": "p", "name": "P", "sessions": 0, "price": "10", "valid_days": 5}]})
