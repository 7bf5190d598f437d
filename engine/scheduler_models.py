"""The scheduler's memory: one row per periodic job, holding the last period claimed for it.

The row is what concurrent schedulers race for: a scheduler runs a job for a period only after
its conditional UPDATE moved ``period_start`` forward to that period (see
:func:`engine.scheduler.claim`), so two schedulers, or one restarted, never run a job twice in
one period. No row holds personal data: ``detail`` keeps an error's type or an rq job id only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

# running: claimed and started in the scheduler's process; ok / failed: how that ended;
# queued: handed to rq (the worker's outcome is rq's); interrupted: the scheduler was stopped
OUTCOMES = ("running", "ok", "failed", "queued", "interrupted")


class PeriodicRun(Base):
    """The last run of one periodic job (by name: ``booking.reminders``, ...)."""

    __tablename__ = "scheduler_periodic_run"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({','.join(repr(o) for o in OUTCOMES)})", name="outcome"),
    )

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # start of the last period claimed (UTC, aligned to the job's period); None: never claimed
    period_start: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(12))
    detail: Mapped[str | None] = mapped_column(String(200))
    # host:pid of the scheduler that claimed the period
    runner: Mapped[str | None] = mapped_column(String(100))

    def __repr__(self) -> str:
        return f"<PeriodicRun {self.name} {self.period_start} {self.outcome}>"
