"""The modules a brand has switched on, whose data-rights hooks privacy calls.

The engine never imports ``modules/``: it reaches module data through the registry only.
"""

from __future__ import annotations

from engine.config import BrandConfig
from engine.modules import Module


def brand_modules(brand: BrandConfig) -> list[Module]:
    """Every installed module enabled on ``brand``, in registry order."""
    from engine.runtime import current

    reg = current().registry
    return [reg[name] for name in brand.enabled_modules() if name in reg]
