"""The privacy sweep job: retention for every brand, due account deletions, expired export
files. The engine's scheduler (``cli.py scheduler``, :mod:`engine.scheduler`) runs it daily,
on rq when REDIS_URL is set and in-process otherwise; ``cli.py privacy retention`` runs the
same thing by hand. Idempotent."""

from __future__ import annotations

import logging

from engine.privacy.retention import RetentionReport

log = logging.getLogger(__name__)


def privacy_sweep(dry_run: bool = False, brand: str | None = None) -> list[RetentionReport]:
    """Job: apply retention (and run due deletions) on every brand, or only ``brand``."""
    from engine.brand_context import brand_apps
    from engine.db import brand_session
    from engine.privacy.retention import run_all
    from engine.runtime import current

    rt = current()
    configs = {slug: app.config for slug, app in brand_apps(rt).items()
               if brand is None or slug == brand}
    if brand is not None and not configs:
        raise ValueError(f"unknown brand {brand!r}")
    with brand_session(rt.sessions, None) as session:
        reports = run_all(session, configs, rt.settings.data_dir, dry_run=dry_run)
    for r in reports:
        log.info("retention %s%s: %d row(s)%s", r.brand_id, " (dry run)" if dry_run else "",
                 r.total, " - brand under legal hold, skipped" if r.held else "")
    return reports
