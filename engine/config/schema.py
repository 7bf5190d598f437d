"""Assemble the full brand model: the core fields plus one section per registered module."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import ConfigDict, create_model

from engine.config.models import BrandCore
from engine.modules import ModuleRegistry, ModuleSettings


class BrandConfigBase(BrandCore):
    modules: Any = None

    def module_settings(self, name: str) -> ModuleSettings | None:
        """The settings of module ``name`` when it is enabled on this brand, else None."""
        section = getattr(self.modules, name, None)
        return section if section is not None and section.enabled else None

    def enabled_modules(self) -> tuple[str, ...]:
        return tuple(
            name for name in type(self.modules).model_fields if self.module_settings(name)
        )


@cache
def brand_model(registry: ModuleRegistry) -> type[BrandConfigBase]:
    """The pydantic model of a brand file for the modules in ``registry``."""
    fields: dict[str, Any] = {
        m.name: (m.settings | None, None) for m in registry
    }
    modules_model = create_model(  # type: ignore[call-overload]
        "Modules",
        __config__=ConfigDict(extra="forbid", frozen=True),
        **fields,
    )
    return create_model(  # type: ignore[call-overload,no-any-return]
        "BrandConfig",
        __base__=BrandConfigBase,
        modules=(modules_model, modules_model()),
    )


def json_schema(registry: ModuleRegistry) -> dict[str, Any]:
    schema = brand_model(registry).model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Daraport brand file"
    return schema
