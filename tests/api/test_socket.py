"""The API over a real socket: uvicorn in a thread, and ``serve`` in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from parcelguard.api import create_app, open_context
from parcelguard.api.batching import LoopBatcher, RevealBatcher
from parcelguard.api.decisions import DecisionFailed, DecisionProcess, _as_error, _as_message
from parcelguard.core.errors import BadInput, StoreUnavailable
from parcelguard.labels.keys import label_key
from parcelguard.labels.token import LabelTokens
from parcelguard.reveal.facts import RevealRequest
from tests.api.conftest import Api

SERVE = [sys.executable, "-m", "parcelguard.cli.serve"]


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Uvicorn on a free loopback port in a thread; stopped (lifespan shutdown) on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def test_health_and_a_reveal_over_a_socket(api: Api) -> None:
    waybill = api.world.waybills[0].waybill_no
    with serving(api.app) as base, httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/v1/health").json()["status"] == "ok"
        refused = client.post("/v1/reveal", json={"waybill_no": waybill})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith("Bearer")
        response = client.post(
            "/v1/reveal",
            json={"waybill_no": waybill, "field": "phone", "purpose": "delivery"},
            headers={**api.auth("C1"), "X-Request-ID": "sock-1"},
        )
    assert response.status_code == 200
    assert response.json()["form"] == "virtual_number"
    assert response.headers["x-request-id"] == "sock-1"
    (entry,) = api.entries()
    assert (entry.request_id, entry.ip) == ("sock-1", "127.0.0.1")


def test_concurrent_reveals_share_batches_and_each_gets_its_own_entry(api: Api) -> None:
    waybill = api.world.waybills[0].waybill_no
    batcher: RevealBatcher = api.app.state.batcher
    count = 40

    async def storm(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/reveal",
                        json={"waybill_no": waybill, "field": "phone", "purpose": "delivery"},
                        headers={**api.auth("C1"), "X-Request-ID": f"storm-{n}"},
                    )
                    for n in range(count)
                )
            )

    with serving(api.app) as base:
        responses = asyncio.run(storm(base))
    assert [r.status_code for r in responses] == [200] * count
    values = {r.json()["value"] for r in responses}
    assert len(values) == 1  # one number per recipient and courier, however concurrent
    entries = api.entries()
    assert sorted(e.request_id for e in entries) == sorted(f"storm-{n}" for n in range(count))
    assert sorted(r.json()["audit_index"] for r in responses) == list(range(count))
    assert batcher.decided == count
    assert batcher.batches < count  # concurrent requests were decided together


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_in_its_own_process_with_a_minted_token(api: Api, env: dict[str, str]) -> None:
    environment = {**os.environ, **env}
    minted = subprocess.run(
        [*SERVE, "api", "token", "--employee", "C1", "--device", "D-C1", "--ttl", "1h", "--json"],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(minted.stdout.strip().splitlines()[-1])
    assert (result["ok"], result["role"]) == (True, "courier")
    port = _free_port()
    server = subprocess.Popen(
        [*SERVE, "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer in time"
            time.sleep(0.2)
        waybill = api.world.waybills[0]
        response = httpx.post(
            f"{base}/v1/reveal?secret={waybill.recipient_phone}",
            json={"waybill_no": waybill.waybill_no, "field": "address", "purpose": "delivery"},
            headers={"Authorization": f"Bearer {result['token']}"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["value"] == waybill.recipient_address
        assert "server" not in response.headers  # serve does not advertise its software
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    access = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [(a["route"], a["status"]) for a in access][-1] == ("/v1/reveal", 200)
    assert access[-1]["employee_id"] == "C1"
    for value in api.personal_values():
        assert value not in out
        assert value not in err
    assert "secret=" not in out + err  # uvicorn's own access log (with the query) is off


def test_reveals_and_redemptions_decided_in_a_child_process(api: Api) -> None:
    """What ``serve`` runs: the one door in its own process, fed over a pipe."""
    context = open_context(api.world.settings, decision_process=True)
    decider = context.decider
    assert isinstance(decider, DecisionProcess)
    waybill = api.world.waybills[0]
    labels = LabelTokens(label_key(api.world.settings, create=False))
    now = datetime.now(UTC)
    label = labels.mint(waybill.waybill_no, now - timedelta(hours=1), now + timedelta(days=1))
    token = api.tokens.mint("C1", "D-C1", now)
    headers = {"Authorization": f"Bearer {token}"}
    with serving(create_app(context)) as base, httpx.Client(base_url=base, timeout=30) as client:
        revealed = client.post(
            "/v1/reveal",
            json={"waybill_no": waybill.waybill_no, "field": "phone", "purpose": "delivery"},
            headers={**headers, "X-Request-ID": "child-1"},
        ).json()
        redeemed = client.post("/v1/labels/redeem", json={"token": label}, headers=headers).json()
        denied = client.post(
            "/v1/reveal",
            json={"waybill_no": waybill.waybill_no, "field": "phone", "purpose": "delivery"},
            headers={"Authorization": f"Bearer {api.tokens.mint('C2', 'D-C2', now)}"},
        ).json()
    assert (revealed["form"], revealed["request_id"]) == ("virtual_number", "child-1")
    assert redeemed["value"] == revealed["value"]  # the same binding, decided by the same door
    assert (denied["allowed"], denied["reason"]) == (False, "no_matching_policy")
    entries = api.entries()
    assert len(entries) == 3
    assert (entries[0].request_id, entries[0].decision) == ("child-1", "allow")
    assert not decider._process.is_alive()  # stopped with the server, after its last batch


def test_errors_cross_the_pipe_by_type_and_never_with_foreign_text() -> None:
    assert isinstance(_as_error(*_as_message(BadInput("field: bad"))), BadInput)
    lost = _as_error(*_as_message(sa.exc.OperationalError("SELECT", {}, Exception("down"))))
    assert isinstance(lost, StoreUnavailable)
    odd = _as_error(*_as_message(ValueError("about 13812345678")))
    assert isinstance(odd, DecisionFailed)
    assert "13812345678" not in str(odd)
    assert "ValueError" in str(odd)


def test_a_child_process_cannot_be_given_a_clock(api: Api) -> None:
    with pytest.raises(ValueError, match="clock"):
        open_context(api.world.settings, clock=lambda: datetime.now(UTC), decision_process=True)


def test_in_process_mode_the_event_loop_batches_concurrent_reveals(api: Api) -> None:
    """``serve``'s mode: no worker thread, the loop itself drives the child's batches."""
    context = open_context(api.world.settings, decision_process=True)
    app = create_app(context)
    batcher = app.state.batcher
    assert isinstance(batcher, LoopBatcher)
    waybill = api.world.waybills[0].waybill_no
    token = api.tokens.mint("C1", "D-C1", datetime.now(UTC))
    count = 40

    async def storm(base: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/reveal",
                        json={"waybill_no": waybill, "field": "phone", "purpose": "delivery"},
                        headers={"Authorization": f"Bearer {token}", "X-Request-ID": f"loop-{n}"},
                    )
                    for n in range(count)
                )
            )

    with serving(app) as base:
        responses = asyncio.run(storm(base))
    assert [r.status_code for r in responses] == [200] * count
    assert len({r.json()["value"] for r in responses}) == 1
    assert sorted(e.request_id for e in api.entries()) == sorted(f"loop-{n}" for n in range(count))
    assert batcher.decided == count
    assert batcher.batches < count
    assert not context.decider._process.is_alive()  # type: ignore[union-attr]


class _ServicePipe:
    """A batch pipe over the real service in this process, whose answer wakes an os.pipe.

    It fails whole any batch of several requests that holds the request id ``poison``, as a
    batch fails when one of its entries cannot be audited.
    """

    def __init__(self, api: Api) -> None:
        self._service = api.context.service
        self._read, self._write = os.pipe()
        self._answer: object = None

    def fileno(self) -> int:
        return self._read

    def send(self, requests):
        if len(requests) > 1 and any(r.request_id == "poison" for r in requests):
            self._answer = DecisionFailed("the decision process failed (ValueError)")
        else:
            self._answer = self._service.reveal_batch(requests)
        os.write(self._write, b".")

    def receive(self):
        os.read(self._read, 1)
        answer, self._answer = self._answer, None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


def test_a_batch_that_fails_whole_is_decided_again_one_request_at_a_time(api: Api) -> None:
    pipe = _ServicePipe(api)
    batcher = LoopBatcher(pipe)
    waybill = api.world.waybills[0].waybill_no
    ids = ["first", "a", "poison", "b", "c"]

    async def ask() -> list[object]:
        return await asyncio.gather(
            *(
                batcher.reveal(
                    RevealRequest("C1", waybill, "phone", "delivery", "D-C1", request_id=i)
                )
                for i in ids
            )
        )

    try:
        decisions = asyncio.run(ask())
    finally:
        pipe.close()
    assert [d.request_id for d in decisions] == ids  # type: ignore[attr-defined]
    assert all(d.allowed for d in decisions)  # type: ignore[attr-defined]
    assert (batcher.batches, batcher.decided) == (2, 5)  # the lone first, then the failed four
    assert sorted(e.request_id for e in api.entries()) == sorted(ids)  # each audited once
