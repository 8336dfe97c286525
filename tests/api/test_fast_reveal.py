"""The fast path for reveals answers exactly as the framework's endpoint, or leaves it to it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from parcelguard.api import create_app, open_context
from parcelguard.api.fast_reveal import RevealFastPath
from tests.api.conftest import Api, expired_token
from tests.reveal.conftest import NOW

UNKNOWN = "PG999999999999"


def fast_layer(app: FastAPI) -> RevealFastPath:
    layer: Any = app.middleware_stack
    while layer is not None and not isinstance(layer, RevealFastPath):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, RevealFastPath), "the fast path is not installed"
    return layer


@pytest.fixture
def framework(api: Api) -> Iterator[TestClient]:
    """The same store behind an app that leaves every reveal to the framework."""
    context = open_context(api.world.settings, clock=lambda: NOW)
    with TestClient(create_app(context, fast_reveal=False)) as client:
        yield client


def _cases(api: Api) -> list[tuple[str, bool, dict[str, str], bytes]]:
    """(name, answered by the fast path, headers, body)."""
    wb = [w.waybill_no for w in api.world.waybills]
    c1 = api.auth("C1")
    json_type = {"Content-Type": "application/json"}

    def body(**values: object) -> bytes:
        return json.dumps({"field": "phone", "purpose": "delivery", **values}).encode()

    return [
        ("own waybill's phone", True, {**c1, **json_type}, body(waybill_no=wb[0])),
        (
            "own waybill's address",
            True,
            {**c1, **json_type},
            body(waybill_no=wb[0], field="address"),
        ),
        ("another's waybill", True, {**c1, **json_type}, body(waybill_no=wb[2])),
        ("unknown waybill", True, {**c1, **json_type}, body(waybill_no=UNKNOWN)),
        ("nonsense field", True, {**c1, **json_type}, body(waybill_no=wb[0], field="salary")),
        (
            "break-glass",
            True,
            {**api.auth("O1"), **json_type},
            body(waybill_no=wb[4], purpose="investigation", case_id="CASE-1"),
        ),
        (
            "charset in the content type",
            True,
            {**c1, "Content-Type": "application/json; charset=utf-8"},
            body(waybill_no=wb[0]),
        ),
        (
            "lower-case scheme",
            True,
            {"Authorization": c1["Authorization"].replace("Bearer", "bearer"), **json_type},
            body(waybill_no=wb[0]),
        ),
        (
            "a member naming the actor",
            False,
            {**c1, **json_type},
            body(waybill_no=wb[0], actor="C2"),
        ),
        ("not JSON", False, {**c1, **json_type}, b"{waybill_no: 1"),
        ("a list", False, {**c1, **json_type}, b"[1, 2]"),
        ("a number as the waybill", False, {**c1, **json_type}, body(waybill_no=42)),
        ("no token", False, json_type, body(waybill_no=wb[0])),
        (
            "expired token",
            False,
            {"Authorization": f"Bearer {expired_token(api, 'C1')}", **json_type},
            body(waybill_no=wb[0]),
        ),
        (
            "forged token",
            False,
            {"Authorization": "Bearer abc.def", **json_type},
            body(waybill_no=wb[0]),
        ),
        ("employee who left", False, {**api.auth("X1"), **json_type}, body(waybill_no=wb[0])),
        ("text body", False, {**c1, "Content-Type": "text/plain"}, body(waybill_no=wb[0])),
    ]


def test_of_a_repeated_header_the_first_counts_as_for_the_framework(
    api: Api, framework: TestClient
) -> None:
    wb = api.world.waybills[0].waybill_no
    for client in (api.client, framework):
        for employee in ("C1", "C2"):
            client.get("/v1/audit/head", headers=api.auth(employee))
    body = json.dumps({"waybill_no": wb, "field": "phone", "purpose": "delivery"}).encode()
    headers = [
        ("authorization", api.auth("C2")["Authorization"]),  # not assigned the waybill
        ("authorization", api.auth("C1")["Authorization"]),
        ("content-type", "application/json"),
    ]
    ours = api.client.post("/v1/reveal", content=body, headers=headers)
    theirs = framework.post("/v1/reveal", content=body, headers=headers)
    assert ours.json()["allowed"] is False  # decided as C2, the first token
    assert _comparable(ours) == _comparable(theirs)
    layer = fast_layer(api.app)
    before = layer.answered
    typed = [
        ("authorization", api.auth("C1")["Authorization"]),
        ("content-type", "text/plain"),
        ("content-type", "application/json"),
    ]
    ours = api.client.post("/v1/reveal", content=body, headers=typed)
    theirs = framework.post("/v1/reveal", content=body, headers=typed)
    assert layer.answered == before  # not JSON by its first Content-Type: the framework's
    assert ours.status_code >= 400
    assert _comparable(ours) == _comparable(theirs)


def _comparable(response: Any) -> dict[str, object]:
    """What a client sees, minus what differs between any two requests (ids, log positions)."""
    content = response.json()
    if isinstance(content, dict):
        content = {k: v for k, v in content.items() if k not in ("request_id", "audit_index")}
    return {
        "status": response.status_code,
        "content": content,
        **{
            name: response.headers.get(name)
            for name in ("content-type", "cache-control", "www-authenticate", "retry-after")
        },
    }


def test_the_fast_path_answers_as_the_framework_and_leaves_the_rest_to_it(
    api: Api, framework: TestClient
) -> None:
    for client in (api.client, framework):  # the standing of the callers' tokens is cached
        for employee in ("C1", "O1", "X1"):
            client.get("/v1/audit/head", headers=api.auth(employee))
    layer = fast_layer(api.app)
    for name, fast, headers, body in _cases(api):
        before = layer.answered
        ours = api.client.post("/v1/reveal", content=body, headers=headers)
        assert layer.answered - before == int(fast), name
        theirs = framework.post("/v1/reveal", content=body, headers=headers)
        assert _comparable(ours) == _comparable(theirs), name
        assert ours.headers["x-request-id"], name


def test_a_token_not_yet_cached_is_looked_up_by_the_framework_then_answered_fast(
    api: Api,
) -> None:
    first = api.reveal("C1", 0)
    layer = fast_layer(api.app)
    assert first.json()["allowed"] is True
    assert layer.answered == 0  # the first call read the employee's standing from the store
    second = api.reveal("C1", 0)
    assert layer.answered == 1
    assert second.json()["value"] == first.json()["value"]


def test_the_access_log_names_the_route_for_fast_answers(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.client.get("/v1/audit/head", headers=api.auth("C1"))
    caplog.set_level("INFO", logger="parcelguard.api.access")
    api.reveal("C1", 0)
    assert fast_layer(api.app).answered == 1
    records = [getattr(r, "access") for r in caplog.records if hasattr(r, "access")]
    assert records[-1]["route"] == "/v1/reveal"
    assert records[-1]["employee_id"] == "C1"
    assert records[-1]["device_id"] == "D-C1"
    assert records[-1]["status"] == 200


def test_a_body_over_the_limit_gets_the_framework_s_answer(
    api: Api, framework: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    api.client.get("/v1/audit/head", headers=api.auth("C1"))
    huge = b'{"waybill_no": "' + b"9" * 20_000 + b'"}'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        yield huge[:10_000]
        yield huge[10_000:]

    headers = {**api.auth("C1"), "Content-Type": "application/json"}
    caplog.set_level("INFO", logger="parcelguard.api.access")
    ours = api.client.post("/v1/reveal", content=chunks(), headers=headers)
    theirs = framework.post("/v1/reveal", content=chunks(), headers=headers)
    assert ours.status_code == 413
    assert _comparable(ours) == _comparable(theirs)
    logged = [r.access for r in caplog.records if hasattr(r, "access")][-2:]  # type: ignore[attr-defined]
    assert [(line["route"], line["status"]) for line in logged] == [("/v1/reveal", 413)] * 2
