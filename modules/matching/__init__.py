"""Matching journey: an intake questionnaire from brand YAML, then a ranked shortlist of
specialists with the reasons for each match."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from engine.modules import Module, Mount, NavEntry
from modules.matching.settings import MatchingSettings


def _module() -> Module:
    from modules.matching.blueprint import bp

    return Module(
        name="matching",
        title="Matching journey",
        requires=("directory",),
        settings=MatchingSettings,
        mounts=(Mount(bp, "patient", "/match"),),
        nav=(NavEntry("patient", "matching.index", _l("Find my match"), None, 5),),
        journeys=("matching",),
        template_folder=Path(__file__).parent / "templates",
    )


module = _module()

__all__ = ["MatchingSettings", "module"]
