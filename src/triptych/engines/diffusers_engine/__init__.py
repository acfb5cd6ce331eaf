"""The diffusers engine: open-weight text-to-image pipelines from a local folder
(``diffusers:/models/flux2-klein``). Exposes the module-level ``factory`` the registry looks
up for the ``diffusers`` scheme. See docs/local-models.md."""

from triptych.engines.diffusers_engine.engine import DiffusersEngine, DiffusersFactory, factory

__all__ = ["DiffusersEngine", "DiffusersFactory", "factory"]
