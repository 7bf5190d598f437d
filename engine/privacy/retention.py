"""Retention: per brand and data type (brand YAML ``retention``), remove what is older than its
period, through the enabled modules' ``retention`` hooks, plus the engine's own: closed
accounts' remaining consent history and the audit log (six-year floor, by
:mod:`engine.audit_chain`).

A dry run reports what a real run would remove (same queries, counted). Anything of a user
under a legal hold is skipped; a brand under a hold is skipped entirely. Counts go to the audit
log. Running twice removes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import audit, audit_chain, clock
from engine.config import BrandConfig
from engine.privacy import holds
from engine.privacy.hooks import brand_modules
from engine.privacy.identity_data import consent_records_of
from engine.privacy.models import ConsentRecord, DeletionRequest

# retention keys that are not data types purged by hooks
ENGINE_TYPES = ("audit_log", "closed_accounts")
NOT_TYPES = ("deletion_grace",)


@dataclass
class RetentionReport:
    brand_id: str
    dry_run: bool
    held: bool = False
    # "module.type" -> rows removed (or that would be)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def periods(brand: BrandConfig) -> dict[str, int]:
    """Data type -> days kept, for the types the brand limits."""
    out = {}
    for name, value in brand.retention.model_dump().items():
        kind = name.removesuffix("_days")
        if name.endswith("_days") and value is not None and kind not in NOT_TYPES:
            out[kind] = value
    return out


def _closed_accounts(session: Session, brand: BrandConfig, cutoff, *, dry_run: bool,
                     held: frozenset[int]) -> int:  # type: ignore[no-untyped-def]
    """Consent history of accounts deleted (scope all) before ``cutoff``."""
    closed = select(DeletionRequest.user_id).where(
        DeletionRequest.brand_id == brand.slug, DeletionRequest.scope == "all",
        DeletionRequest.status == "executed", DeletionRequest.executed_at < cutoff)
    if held:
        closed = closed.where(DeletionRequest.user_id.not_in(list(held)))
    user_ids = sorted(set(session.scalars(closed.execution_options(all_brands=True))))
    if dry_run:
        if not user_ids:
            return 0
        return session.scalar(select(func.count(ConsentRecord.id)).where(
            ConsentRecord.user_id.in_(user_ids)).execution_options(all_brands=True)) or 0
    return sum(consent_records_of(session, uid) for uid in user_ids)


def run(session: Session, brand: BrandConfig, *, dry_run: bool) -> RetentionReport:
    """Apply (or, with ``dry_run``, count) the brand's retention periods; the caller commits."""
    report = RetentionReport(brand.slug, dry_run)
    if holds.brand_held(session, brand.slug):
        report.held = True
        return report
    held = holds.held_user_ids(session, brand.slug)
    now = clock.now()
    for kind, days in periods(brand).items():
        cutoff = now - timedelta(days=days)
        if kind == "closed_accounts":
            report.counts["engine.closed_accounts"] = _closed_accounts(
                session, brand, cutoff, dry_run=dry_run, held=held)
            continue
        if kind == "audit_log":
            # the audit module's floor (six calendar years) may exceed 2190 days
            cutoff = min(cutoff, now - audit_chain.RETENTION_FLOOR)
            result = audit_chain.purge_expired(session, brand.slug, cutoff, dry_run=dry_run)
            report.counts["engine.audit_log"] = result.count
            continue
        for module in brand_modules(brand):
            purge = module.retention.get(kind)
            if purge is not None:
                report.counts[f"{module.name}.{kind}"] = purge(
                    session, brand.slug, cutoff, dry_run=dry_run, held_user_ids=held)
    if not dry_run:
        for what, count in sorted(report.counts.items()):
            if count:
                audit.record(session, action="privacy.retention.purge", brand_id=brand.slug,
                             target_type=what[:40], details={"count": count})
        audit.record(session, action="privacy.retention.run", brand_id=brand.slug,
                     details={"rows": report.total, "held_users": len(held)})
    return report


def run_all(session: Session, brands: dict[str, BrandConfig], data_dir: Path, *,
            dry_run: bool) -> list[RetentionReport]:
    """Retention for every brand, then due deletions and expired export files (real runs);
    commits brand by brand so one brand's failure leaves the others done."""
    from engine.privacy import deletion, export

    reports = []
    for _slug, brand in sorted(brands.items()):
        reports.append(run(session, brand, dry_run=dry_run))
        if not dry_run:
            deletion.execute_due(session, brand, data_dir)
            session.commit()
    if not dry_run:
        export.expire_old(session, data_dir)
        session.commit()
    else:
        session.rollback()
    return reports
