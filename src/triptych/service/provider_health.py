"""Is each hosted provider's key working? One free call per configured provider (list
models, read the account, or ask for a task id that does not exist): nothing is generated
and no credits are spent. Shared by ``triptych providers check`` and the admin's provider
page."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from triptych.catalog.loader import Catalog
from triptych.settings import PROVIDERS, Settings

FAILED = ("auth_failed", "out_of_credit", "unavailable", "unreachable", "error")


def _first_target(provider: str, catalog: Catalog) -> str:
    for card in catalog:
        if card.scheme == provider:
            return card.target
    return ""


def check_provider(provider: str, settings: Settings, catalog: Catalog) -> dict[str, Any]:
    base_url = settings.provider_base_url(provider)
    row: dict[str, Any] = {"provider": provider, "base_url": base_url}
    key = settings.provider_key(provider)
    if not key:
        env = f"TRIPTYCH_{provider.upper()}_API_KEY"
        return {**row, "status": "not_configured", "detail": f"set {env} to enable"}
    module = importlib.import_module(f"triptych.engines.providers.{provider}")
    engine = module.factory.engine_for(key, base_url, _first_target(provider, catalog),
                                       upstream_allow=settings.upstream_allow)
    try:
        result = engine.check()
    finally:
        engine.close()
    return {**row, "status": result.status, "detail": result.detail}


def check_providers(settings: Settings, catalog: Catalog,
                    only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every provider's row, in ``PROVIDERS`` order; the network checks run side by side."""
    providers = list(only or PROVIDERS)
    with ThreadPoolExecutor(max_workers=len(providers)) as pool:
        return list(pool.map(lambda p: check_provider(p, settings, catalog), providers))
