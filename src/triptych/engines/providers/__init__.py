"""Adapters for hosted image APIs, one module per provider, over one shared HTTP layer."""
