"""Brand configuration: schema, loader with located errors, and the round-trip editor."""

from engine.config.loader import (
    BrandConfigError,
    BrandSet,
    ConfigError,
    LoadedBrand,
    load_brand_set,
)
from engine.config.schema import BrandConfigBase as BrandConfig
from engine.config.schema import brand_model, json_schema

__all__ = [
    "BrandConfig",
    "BrandConfigError",
    "BrandSet",
    "ConfigError",
    "LoadedBrand",
    "brand_model",
    "json_schema",
    "load_brand_set",
]
