"""The core of the brand schema. Module sections are added by :mod:`engine.config.schema`."""

from __future__ import annotations

import difflib
import re
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

LOCALES = ("es", "en")
Locale = Literal["es", "en"]

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_COLOR = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
Color = Annotated[str, StringConstraints(pattern=_COLOR)]


def _hostname(value: str) -> str:
    v = value.strip().lower().rstrip(".")
    if not _HOST.match(v):
        raise ValueError(f"{value!r} is not a hostname (no scheme, port or path: 'clinic.example')")
    return v


def _timezone(value: str) -> str:
    if value not in _zones():
        close = difflib.get_close_matches(value, sorted(_zones()), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else " (e.g. 'Europe/Madrid')"
        raise ValueError(f"{value!r} is not an IANA time zone{hint}")
    ZoneInfo(value)
    return value


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


def _secret_ref(value: str) -> str:
    if not value.startswith("env:") or not re.fullmatch(r"env:[A-Z][A-Z0-9_]*", value):
        raise ValueError("secrets never live in brand YAML: name an environment variable, "
                         "e.g. 'env:ACME_STRIPE_KEY'")
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]
TimeZone = Annotated[str, AfterValidator(_timezone)]
SecretRef = Annotated[str, AfterValidator(_secret_ref), WithJsonSchema({
    "type": "string", "pattern": r"^env:[A-Z][A-Z0-9_]*$",
    "description": "the name of an environment variable holding the secret: env:NAME"})]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Colors(Strict):
    primary: Color = "#1f6feb"
    accent: Color = "#f59e0b"
    background: Color = "#ffffff"
    text: Color = "#1f2328"


class Theme(Strict):
    name: Slug = "base"
    colors: Colors = Colors()
    logo: str | None = Field(None, description="path under the theme's static folder, "
                             "or an absolute https URL")
    font: str = Field("system-ui", max_length=80, pattern=r"^[A-Za-z0-9 ,\-']+$")

    @field_validator("logo")
    @classmethod
    def _logo(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v.startswith("https://") or (not v.startswith("/") and ".." not in v.split("/")):
            return v
        raise ValueError("logo is a path inside the theme's static folder (e.g. 'img/logo.svg') "
                         "or an https:// URL")


class Journey(Strict):
    mode: Literal["directory", "matching", "assisted"]


class Money(Strict):
    """An amount in the brand's currency, written as a decimal ('60.00'); stored as minor units."""

    amount: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class AppointmentTypePrice(Strict):
    key: Slug
    name: str = Field(min_length=1, max_length=120)
    modality: Literal["video", "in_person", "both"]
    duration_minutes: int = Field(ge=5, le=480)
    price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)


class SponsoredRule(Strict):
    organization: Slug
    sessions_per_year: int = Field(ge=0, le=365)
    member_price: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)


class FirstSessionPromotion(Strict):
    percent_off: int | None = Field(None, ge=1, le=100)
    amount_off: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2)

    @model_validator(mode="after")
    def _one(self) -> FirstSessionPromotion:
        if (self.percent_off is None) == (self.amount_off is None):
            raise ValueError("give exactly one of percent_off or amount_off")
        return self


class PackageOffer(Strict):
    """N prepaid sessions, used within ``valid_days`` of the purchase."""

    key: Slug
    name: str = Field(min_length=1, max_length=120)
    sessions: int = Field(ge=1, le=100)
    price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    valid_days: int = Field(ge=1, le=730)


class SubscriptionPlan(Strict):
    """A monthly fee that gives ``sessions_per_period`` sessions in each monthly period."""

    key: Slug
    name: str = Field(min_length=1, max_length=120)
    sessions_per_period: int = Field(ge=1, le=31)
    price_per_month: Decimal = Field(ge=0, max_digits=12, decimal_places=2)


class Pricing(Strict):
    strategy: Literal["fixed", "specialist_defined", "package", "subscription", "sponsored"] = (
        "fixed"
    )
    packages: tuple[PackageOffer, ...] = ()
    subscriptions: tuple[SubscriptionPlan, ...] = ()
    appointment_types: tuple[AppointmentTypePrice, ...] = ()
    specialist_price_min: Decimal | None = Field(None, ge=0, decimal_places=2)
    specialist_price_max: Decimal | None = Field(None, ge=0, decimal_places=2)
    first_session: FirstSessionPromotion | None = None
    sponsored: tuple[SponsoredRule, ...] = ()

    @model_validator(mode="after")
    def _rules(self) -> Pricing:
        if self.strategy == "fixed":
            missing = [t.key for t in self.appointment_types if t.price is None]
            if missing:
                raise ValueError(f"strategy 'fixed' needs a price on every appointment type "
                                 f"(missing: {', '.join(missing)})")
        if self.strategy == "specialist_defined" and (
            self.specialist_price_min is None or self.specialist_price_max is None
        ):
            raise ValueError("strategy 'specialist_defined' needs specialist_price_min and "
                             "specialist_price_max")
        if (self.specialist_price_min is not None and self.specialist_price_max is not None
                and self.specialist_price_min > self.specialist_price_max):
            raise ValueError("specialist_price_min is above specialist_price_max")
        if self.strategy == "package" and not self.packages:
            raise ValueError("strategy 'package' needs at least one offer under 'packages'")
        if self.strategy == "subscription" and not self.subscriptions:
            raise ValueError("strategy 'subscription' needs at least one plan under "
                             "'subscriptions'")
        offers = [p.key for p in self.packages] + [p.key for p in self.subscriptions]
        if len(offers) != len(set(offers)):
            raise ValueError("package and subscription keys must be unique")
        if self.strategy == "sponsored" and not self.sponsored:
            raise ValueError("strategy 'sponsored' needs at least one rule under 'sponsored'")
        keys = [t.key for t in self.appointment_types]
        if len(keys) != len(set(keys)):
            raise ValueError("appointment type keys must be unique")
        return self


class Payments(Strict):
    provider: Literal["manual", "stripe"] = "manual"
    mode: Literal["platform", "connect", "hybrid"] | None = None
    commission_percent: Decimal = Field(Decimal("0"), ge=0, le=100, decimal_places=2)
    stripe_secret_key: SecretRef | None = None
    stripe_webhook_secret: SecretRef | None = None

    @model_validator(mode="after")
    def _stripe(self) -> Payments:
        if self.provider == "stripe":
            if self.mode is None:
                raise ValueError("provider 'stripe' needs a mode: platform, connect or hybrid")
            if self.stripe_secret_key is None or self.stripe_webhook_secret is None:
                raise ValueError("provider 'stripe' needs stripe_secret_key and "
                                 "stripe_webhook_secret (as env:NAME)")
        elif self.mode is not None:
            raise ValueError("mode applies only to provider 'stripe'")
        return self


class Retention(Strict):
    """Days each kind of data is kept. ``None`` keeps it until the account is deleted."""

    messages_days: int | None = Field(None, ge=1)
    attachments_days: int | None = Field(None, ge=1)
    intake_answers_days: int | None = Field(None, ge=1)
    video_events_days: int | None = Field(None, ge=1)
    audit_log_days: int = Field(2190, ge=2190, description="at least 6 years (2190 days)")
    closed_accounts_days: int = Field(30, ge=0)
    deletion_grace_days: int = Field(14, ge=0, le=90, description="days between a confirmed "
                                     "account deletion and its execution (cancellable)")


class ConsentDocument(Strict):
    key: Slug
    type: Literal["privacy", "terms", "telehealth", "data_sharing", "marketing"]
    version: int = Field(ge=1)
    locale: Locale
    file: str = Field(pattern=r"^[A-Za-z0-9_./-]+\.(md|txt|html)$")
    required_for: tuple[Literal["signup", "booking", "video", "employer_sharing"], ...] = ()


class Organization(Strict):
    slug: Slug
    name: str = Field(min_length=1, max_length=120)
    kind: Literal["clinic", "clinic_network", "employer"] = "employer"
    email_domains: tuple[Hostname, ...] = ()


class Specialists(Strict):
    network: Slug = Field(description="'own' for a network of this brand alone, or the name "
                          "of a shared network declared in _networks.yaml")


class Communications(Strict):
    sender: str = Field(min_length=3, max_length=200)
    reply_to: str | None = None
    reminder_hours_before: tuple[int, ...] = (24,)
    sms: bool = False

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        if not re.search(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", v):
            raise ValueError("sender needs an email address, e.g. 'Acme <care@acme.example>'")
        return v

    @field_validator("reminder_hours_before")
    @classmethod
    def _hours(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(h < 1 or h > 24 * 14 for h in v):
            raise ValueError("reminders are between 1 and 336 hours before")
        return tuple(sorted(set(v), reverse=True))


class Permissions(Strict):
    """Narrowing of the default role permissions for this brand (never widening)."""

    deny: dict[Literal["patient", "specialist", "org_admin", "affiliate"], tuple[str, ...]] = {}


class Security(Strict):
    """Session lifetimes and the second factor on this brand (the console has its own)."""

    session_idle_minutes: int = Field(30, ge=5, le=24 * 60, description="a signed-in session "
                                      "ends after this long without a request")
    session_absolute_hours: int = Field(12, ge=1, le=24 * 30, description="a signed-in session "
                                        "ends this long after sign-in, active or not")
    # roles that must set up a second factor (TOTP) before using their portal; operators always
    # must (on the console). Roles not listed may still enable it on their account page.
    totp_required_for: tuple[Literal["specialist", "org_admin", "coordinator"], ...] = ()

    @model_validator(mode="after")
    def _lifetimes(self) -> Security:
        if self.session_idle_minutes > self.session_absolute_hours * 60:
            raise ValueError("session_idle_minutes cannot exceed session_absolute_hours")
        return self


class BrandCore(Strict):
    """Fields every brand has. The full model adds ``modules`` (see schema.py)."""

    slug: Slug
    name: str = Field(min_length=1, max_length=120)
    domains: tuple[Hostname, ...] = Field(min_length=1)
    aliases: tuple[Hostname, ...] = Field((), description="extra hosts redirected to the first "
                                          "domain, e.g. www.")
    locale: Locale
    locales: tuple[Locale, ...] = LOCALES
    timezone: TimeZone
    currency: Currency
    theme: Theme = Theme()
    journey: Journey
    specialists: Specialists
    pricing: Pricing = Pricing()
    payments: Payments = Payments()
    retention: Retention = Retention()
    consent: tuple[ConsentDocument, ...] = ()
    organizations: tuple[Organization, ...] = ()
    communications: Communications
    permissions: Permissions = Permissions()
    security: Security = Security()

    @model_validator(mode="after")
    def _core_rules(self) -> BrandCore:
        if self.locale not in self.locales:
            raise ValueError(f"locale {self.locale!r} must be one of locales {list(self.locales)}")
        hosts = [*self.domains, *self.aliases]
        if len(hosts) != len(set(hosts)):
            raise ValueError("a host is listed twice in domains/aliases")
        orgs = [o.slug for o in self.organizations]
        if len(orgs) != len(set(orgs)):
            raise ValueError("organization slugs must be unique")
        for rule in self.pricing.sponsored:
            if rule.organization not in orgs:
                raise ValueError(f"pricing.sponsored names organization {rule.organization!r}, "
                                 f"which is not under organizations")
        docs = [(d.key, d.version, d.locale) for d in self.consent]
        if len(docs) != len(set(docs)):
            raise ValueError("a consent document (key, version, locale) is listed twice")
        return self


class Network(Strict):
    name: str = Field(min_length=1, max_length=120)
    description: str | None = None


class NetworksFile(Strict):
    networks: dict[Slug, Network] = {}
