"""The built-in engine: our own pico models (``builtin:pico-turbo``, ``builtin:pico-diffusion``).

Exposes the module-level ``factory`` the registry looks up for the ``builtin`` scheme.
"""

from triptych.engines.builtin.engine import BuiltinEngine, BuiltinFactory, factory

__all__ = ["BuiltinEngine", "BuiltinFactory", "factory"]
