"""Resources, chosen in one place from the environment (contract section 4)."""

from __future__ import annotations

from assets.warehouse import env_settings


def build_resources() -> dict:
    settings, warehouse = env_settings()
    return {"padu": settings, "warehouse": warehouse}
