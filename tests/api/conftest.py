"""The API over the reveal tests' small world, in-process (TestClient) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from parcelguard.api import create_app, open_context
from parcelguard.api.app import ApiContext
from parcelguard.api.auth import ApiTokens, api_key
from parcelguard.audit.entry import AuditEntry, decode_entry
from tests.reveal.conftest import NOW, World, world  # noqa: F401  (the fixture, re-exported)


@dataclass
class Api:
    world: World
    context: ApiContext
    app: FastAPI
    client: TestClient
    tokens: ApiTokens

    def token(self, employee: str, device: str | None = None, **mint: object) -> str:
        return self.tokens.mint(employee, device or f"D-{employee}", NOW, **mint)  # type: ignore[arg-type]

    def auth(self, employee: str, device: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(employee, device)}"}

    def reveal(self, employee: str, index: int, field: str = "phone", **body: object):
        payload = {
            "waybill_no": self.world.waybills[index].waybill_no,
            "field": field,
            "purpose": body.pop("purpose", "delivery"),
            **body,
        }
        return self.client.post("/v1/reveal", json=payload, headers=self.auth(employee))

    def entries(self) -> list[AuditEntry]:
        log = self.world.log
        return [decode_entry(log.entry(i)) for i in range(log.head().tree_size)]

    def personal_values(self) -> list[str]:
        """Every recipient name, phone and address of the world: none may reach a log."""
        return [
            value
            for waybill in self.world.waybills
            for value in (
                waybill.recipient_name,
                waybill.recipient_phone,
                waybill.recipient_address,
            )
        ]


@pytest.fixture
def api(world: World) -> Iterator[Api]:  # noqa: F811
    context = open_context(world.settings, clock=lambda: NOW)
    app = create_app(context)
    tokens = ApiTokens(api_key(world.settings, create=False))
    with TestClient(app) as client:
        yield Api(world, context, app, client, tokens)


def expired_token(api: Api, employee: str) -> str:
    return api.tokens.mint(employee, f"D-{employee}", NOW - timedelta(hours=10), timedelta(hours=1))
