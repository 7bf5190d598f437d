"""Core feature modules. Each sub-package exports ``module: engine.modules.Module``."""
