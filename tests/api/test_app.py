"""The API in-process: authentication, decisions, problems, audit proofs, the access log."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from parcelguard.api import create_app
from parcelguard.api.app import ApiContext
from parcelguard.api.auth import ApiTokens
from parcelguard.api.batching import RevealBatcher
from parcelguard.api.problems import PROBLEM_JSON, TYPE_PREFIX
from parcelguard.audit import merkle
from parcelguard.audit.jsonable import hexed as _hexed
from parcelguard.audit.note import Signer
from parcelguard.core.errors import StoreUnavailable
from parcelguard.labels.keys import label_key
from parcelguard.labels.token import LabelTokens
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.service import RevealDecision
from parcelguard.storage.schema import devices
from tests.api.conftest import Api, expired_token
from tests.reveal.conftest import NOW

REVEAL = {"waybill_no": "PG000000000001", "field": "phone", "purpose": "delivery"}
GUARDED = [
    ("POST", "/v1/reveal", REVEAL),
    ("POST", "/v1/labels/redeem", {"token": "x"}),
    ("POST", "/v1/vnum/route", {"number": "17090000000"}),
    ("POST", "/v1/policy/explain", REVEAL),
    ("GET", "/v1/audit/head", None),
    ("GET", "/v1/audit/proof?index=0&size=1", None),
    ("GET", "/v1/audit/consistency?from=1&to=1", None),
]


def assert_problem(response, status: int, kind: str, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == TYPE_PREFIX + kind
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"].startswith("/")
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code
    return body


# -- health and OpenAPI ----------------------------------------------------------------------


def test_health_answers_without_a_token_and_holds_no_personal_data(api: Api) -> None:
    response = api.client.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == "reachable"
    assert body["policies"] > 0
    assert body["audit_tree_size"] == 0
    assert set(body) == {"status", "store", "policies", "audit_tree_size", "version"}
    assert response.headers["x-request-id"]


def test_openapi_lists_every_endpoint_with_the_bearer_scheme_and_problem_json(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/v1/health",
        "/v1/reveal",
        "/v1/labels/redeem",
        "/v1/vnum/route",
        "/v1/policy/explain",
        "/v1/audit/head",
        "/v1/audit/proof",
        "/v1/audit/consistency",
    }
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    reveal = schema["paths"]["/v1/reveal"]["post"]
    assert reveal["security"] == [{"ApiToken": []}]
    assert PROBLEM_JSON in reveal["responses"]["401"]["content"]
    assert "security" not in schema["paths"]["/v1/health"]["get"]
    assert api.client.get("/docs").status_code == 404  # no UI pulling scripts from a CDN


# -- authentication ---------------------------------------------------------------------------


def test_every_endpoint_but_health_is_in_the_guarded_list(api: Api) -> None:
    """A new endpoint must be added to GUARDED, and so to the 401 tests below."""
    schema = api.client.get("/openapi.json").json()
    guarded = {path.split("?")[0] for _, path, _ in GUARDED}
    assert set(schema["paths"]) - {"/v1/health"} == guarded


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
@pytest.mark.parametrize("kind", ["missing", "basic", "garbage", "forged", "expired", "tampered"])
def test_every_other_endpoint_refuses_a_call_without_a_good_token(
    api: Api, method: str, path: str, body: dict | None, kind: str
) -> None:
    good = api.token("C1")
    payload, mac = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "O1"
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
        .rstrip(b"=")
        .decode()
    )
    headers = {
        "missing": {},
        "basic": {"Authorization": "Basic QzE6cGFzcw=="},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "forged": {
            "Authorization": "Bearer " + ApiTokens(secrets.token_bytes(32)).mint("C1", "D-C1", NOW)
        },
        "expired": {"Authorization": f"Bearer {expired_token(api, 'C1')}"},
        "tampered": {"Authorization": f"Bearer {forged_payload}.{mac}"},
    }[kind]
    response = api.client.request(method, path, json=body, headers=headers)
    problem = assert_problem(response, 401, "unauthenticated")
    expected = {
        "missing": "token_missing",
        "basic": "token_missing",
        "garbage": "token_malformed",
        "forged": "token_invalid",
        "expired": "token_expired",
        "tampered": "token_invalid",
    }[kind]
    assert problem["code"] == expected
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="parcelguard"')
    assert ('error="invalid_token"' in challenge) == (expected != "token_missing")
    assert api.world.log.head().tree_size == 0  # nothing was decided, so nothing audited


@pytest.mark.parametrize(
    ("employee", "device", "reason"),
    [
        ("X1", "D-X1", "account_inactive"),  # left 30 days ago
        ("C1", "D-C2", "device_not_registered"),  # a colleague's handheld
        ("C1", "D-NOPE", "device_not_registered"),
        ("NOBODY", "D-C1", "unknown_actor"),
    ],
)
def test_a_token_whose_employee_or_device_does_not_qualify_is_refused(
    api: Api, employee: str, device: str, reason: str
) -> None:
    response = api.client.post("/v1/reveal", json=REVEAL, headers=api.auth(employee, device))
    assert_problem(response, 401, "unauthenticated", reason)


def test_a_revoked_device_cuts_its_tokens_off(api: Api) -> None:
    with api.world.engine.begin() as conn:
        conn.execute(
            devices.update()
            .where(devices.c.device_id == "D-C2")
            .values(revoked_at=NOW - timedelta(minutes=1))
        )
    response = api.client.get("/v1/audit/head", headers=api.auth("C2"))
    assert_problem(response, 401, "unauthenticated", "device_revoked")


def test_a_token_issued_in_the_future_is_refused(api: Api) -> None:
    early = api.tokens.mint("C1", "D-C1", NOW + timedelta(hours=1))
    response = api.client.get("/v1/audit/head", headers={"Authorization": f"Bearer {early}"})
    assert_problem(response, 401, "unauthenticated", "token_not_yet_valid")


# -- reveals ----------------------------------------------------------------------------------


def test_the_courier_gets_a_virtual_number_and_the_audit_entry_carries_the_request_id(
    api: Api,
) -> None:
    waybill = api.world.waybills[0]
    response = api.client.post(
        "/v1/reveal",
        json={"waybill_no": waybill.waybill_no, "field": "phone", "purpose": "delivery"},
        headers={**api.auth("C1"), "X-Request-ID": "hh-C1-0001"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "hh-C1-0001"
    assert response.headers["cache-control"] == "no-store"
    decision = response.json()
    assert decision["allowed"] is True
    assert decision["form"] == "virtual_number"
    assert decision["value"].startswith("1709")
    assert decision["value"] != waybill.recipient_phone
    assert decision["policy_ids"] == ["courier-assigned-phone"]
    assert decision["reason_text"]["zh"]
    assert decision["reason_text"]["en"]
    assert decision["request_id"] == "hh-C1-0001"
    (entry,) = api.entries()
    assert entry.sequence == decision["audit_index"]
    assert (entry.actor, entry.device, entry.channel, entry.request_id, entry.decision) == (
        "C1",
        "D-C1",
        "handheld",
        "hh-C1-0001",
        "allow",
    )
    assert entry.ip == "testclient"


def test_a_denial_is_an_audited_answer_not_an_error(api: Api) -> None:
    response = api.reveal("C2", 0)  # a colleague's waybill
    assert response.status_code == 200
    decision = response.json()
    assert (decision["allowed"], decision["value"], decision["reason"]) == (
        False,
        None,
        "no_matching_policy",
    )
    assert api.entries()[decision["audit_index"]].decision == "deny"


def test_nonsense_values_are_decided_and_audited_too(api: Api) -> None:
    response = api.client.post(
        "/v1/reveal",
        json={"waybill_no": "not-a-waybill", "field": "phone", "purpose": "curiosity"},
        headers=api.auth("C1"),
    )
    assert response.status_code == 200
    assert response.json()["reason"] == "bad_request"
    phone = api.client.post(
        "/v1/reveal",
        json={"waybill_no": "13812345678", "field": "phone", "purpose": "delivery"},
        headers=api.auth("C1"),
    )
    assert phone.json()["reason"] == "malformed_waybill"
    assert [(e.decision, e.waybill_no) for e in api.entries()] == [
        ("deny", "not-a-waybill"),
        ("deny", "malformed"),
    ]


def test_a_phone_typed_as_the_waybill_is_denied_in_its_batch_and_never_logged(
    api: Api,
) -> None:
    """A phone typed as the waybill with a bad purpose is a denial like any other; its
    neighbours in the batch are decided as usual, and the phone never reaches the log."""
    good = RevealRequest("C1", api.world.waybills[0].waybill_no, "phone", "delivery", "D-C1")
    poison = RevealRequest("C1", "13812345678", "phone", "curiosity", "D-C1")
    batcher: RevealBatcher = api.app.state.batcher
    first, second, third = batcher.decide([good, poison, good])
    assert isinstance(first, RevealDecision)
    assert first.allowed
    assert isinstance(second, RevealDecision)
    assert (second.allowed, second.reason) == (False, "bad_request")
    assert isinstance(third, RevealDecision)
    assert third.value == first.value
    assert [e.decision for e in api.entries()] == ["allow", "deny", "allow"]
    over_http = api.client.post(
        "/v1/reveal",
        json={"waybill_no": "13812345678", "field": "phone", "purpose": "curiosity"},
        headers=api.auth("C1"),
    )
    assert over_http.status_code in (200, 422)  # an unknown purpose may be refused by schema
    assert "13812345678" not in over_http.text
    assert all(e.waybill_no != "13812345678" for e in api.entries())


@pytest.mark.parametrize("member", ["actor", "device_id", "channel", "ip", "request_id"])
def test_a_body_cannot_say_who_is_asking(api: Api, member: str) -> None:
    body = {**REVEAL, "waybill_no": api.world.waybills[0].waybill_no, member: "O1"}
    response = api.client.post("/v1/reveal", json=body, headers=api.auth("C2"))
    problem = assert_problem(response, 422, "invalid-request")
    assert problem["errors"][0]["loc"] == ["body", member]
    assert problem["errors"][0]["type"] == "extra_forbidden"
    assert api.world.log.head().tree_size == 0


def test_break_glass_over_http_names_its_case(api: Api) -> None:
    response = api.reveal("O1", 4, purpose="investigation", case_id="CASE-1")
    decision = response.json()
    assert (decision["allowed"], decision["form"]) == (True, "plaintext")
    assert decision["value"] == api.world.waybills[4].recipient_phone
    assert api.entries()[0].channel == "api"  # a workstation, not a handheld


def test_a_reveal_that_cannot_be_audited_is_a_503_and_reveals_nothing(api: Api) -> None:
    def broken(entries):
        raise StoreUnavailable("the audit log cannot be written (disk full)")

    context = ApiContext(
        service=api.world.service(audit_append=broken),
        log=api.world.log,
        numbers=api.world.numbers,
        authenticator=api.context.authenticator,
        log_signer=api.context.log_signer,
        log_origin=api.context.log_origin,
        clock=lambda: NOW,
    )
    with TestClient(create_app(context)) as client:
        response = client.post(
            "/v1/reveal",
            json={**REVEAL, "waybill_no": api.world.waybills[0].waybill_no},
            headers=api.auth("C1"),
        )
    problem = assert_problem(response, 503, "audit-unavailable", "audit_unavailable")
    assert "value" not in problem
    assert response.headers["retry-after"]


# -- labels and virtual numbers --------------------------------------------------------------


def test_a_label_token_is_redeemed_by_the_courier_and_junk_is_an_audited_denial(api: Api) -> None:
    labels = LabelTokens(label_key(api.world.settings, create=False))
    waybill = api.world.waybills[0]
    token = labels.mint(waybill.waybill_no, NOW - timedelta(hours=1), NOW + timedelta(days=14))
    response = api.client.post("/v1/labels/redeem", json={"token": token}, headers=api.auth("C1"))
    decision = response.json()
    assert (decision["allowed"], decision["form"]) == (True, "virtual_number")
    junk = api.client.post("/v1/labels/redeem", json={"token": "x" * 40}, headers=api.auth("C1"))
    assert junk.status_code == 200
    assert (junk.json()["allowed"], junk.json()["reason"]) == (False, "token_malformed")
    assert [e.decision for e in api.entries()] == ["allow", "deny"]


def test_routing_answers_the_bound_device_and_tells_others_nothing(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    number = api.reveal("C1", 0).json()["value"]
    caplog.set_level(logging.INFO, logger="parcelguard.api.access")
    own = api.client.post("/v1/vnum/route", json={"number": number}, headers=api.auth("C1"))
    assert own.status_code == 200
    assert own.json()["connected"] is True
    assert own.json()["waybill_no"] == api.world.waybills[0].waybill_no
    other = api.client.post("/v1/vnum/route", json={"number": number}, headers=api.auth("C2"))
    assert (other.json()["connected"], other.json()["reason"]) == (False, "wrong_device")
    assert other.json()["waybill_no"] is None
    assert other.json()["valid_until"] is None
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert [line["route_reason"] for line in lines] == ["connected", "wrong_device"]
    assert all(number not in r.getMessage() for r in caplog.records)
    unknown = api.client.post(
        "/v1/vnum/route", json={"number": "17099999999"}, headers=api.auth("C1")
    )
    assert unknown.json()["reason"] in ("unknown_number", "not_bound")
    bad = api.client.post("/v1/vnum/route", json={"number": "13812345678"}, headers=api.auth("C1"))
    problem = assert_problem(bad, 400, "bad-input", "bad_input")
    assert "13812345678" not in bad.text
    assert problem["detail"].startswith("number:")


# -- explain ----------------------------------------------------------------------------------


def test_explain_is_for_auditors_and_changes_nothing(api: Api) -> None:
    body = {**REVEAL, "waybill_no": api.world.waybills[0].waybill_no}
    refused = api.client.post("/v1/policy/explain", json=body, headers=api.auth("C1"))
    assert_problem(refused, 403, "forbidden", "role_not_allowed")
    mine = api.client.post("/v1/policy/explain", json=body, headers=api.auth("O1"))
    assert mine.status_code == 200
    assert mine.json()["allowed"] is False  # the officer has no delivery of his own
    theirs = api.client.post(
        "/v1/policy/explain",
        json={**body, "actor": "C1", "device_id": "D-C1", "channel": "handheld"},
        headers=api.auth("O1"),
    )
    explained = theirs.json()
    assert explained["allowed"] is True
    assert [p["id"] for p in explained["policies"]] == ["courier-assigned-phone"]
    assert explained["facts"]["assignment"]["assigned"] is True
    assert api.world.log.head().tree_size == 0
    for value in api.personal_values():
        assert value not in theirs.text


# -- the audit log ----------------------------------------------------------------------------


def test_head_and_proofs_verify_and_match_the_command_line_shapes(api: Api) -> None:
    first = api.reveal("C1", 0).json()
    api.reveal("C2", 0)
    api.reveal("A1", 2, purpose="customer_service")
    head = api.client.get("/v1/audit/head", headers=api.auth("C1")).json()
    assert head["tree_size"] == 3
    assert head["checkpoint"].startswith(api.world.settings.log_origin + "\n3\n")
    assert bytes.fromhex(head["root_hash"]) == api.world.log.head().root_hash

    own = api.client.get(
        f"/v1/audit/proof?index={first['audit_index']}&size=3", headers=api.auth("C1")
    )
    assert own.status_code == 200
    proof = own.json()
    assert proof == _hexed(api.world.log.prove(first["audit_index"], 3))
    assert merkle.verify_inclusion(
        merkle.leaf_hash(base64.b64decode(proof["entry"])),
        proof["index"],
        proof["tree_size"],
        [bytes.fromhex(h) for h in proof["inclusion_path"]],
        bytes.fromhex(head["root_hash"]),
    )

    others = api.client.get("/v1/audit/proof?index=1&size=3", headers=api.auth("C1"))
    assert_problem(others, 403, "forbidden", "not_your_entry")
    officer = api.client.get("/v1/audit/proof?index=1&size=3", headers=api.auth("O1"))
    assert officer.status_code == 200

    consistency = api.client.get("/v1/audit/consistency?from=1&to=3", headers=api.auth("C2")).json()
    assert consistency == _hexed(api.world.log.consistency(1, 3))
    assert merkle.verify_consistency(
        1,
        3,
        bytes.fromhex(consistency["first_root"]),
        bytes.fromhex(consistency["second_root"]),
        [bytes.fromhex(h) for h in consistency["proof"]],
    )
    signer: Signer = api.context.log_signer
    assert signer.verifier_key()  # the checkpoint is signed by the log's own key


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        ("index=5&size=3", 400, "bad-input"),
        ("index=0&size=99", 400, "bad-input"),
        ("index=-1&size=3", 422, "invalid-request"),
        ("index=x&size=3", 422, "invalid-request"),
        ("size=3", 422, "invalid-request"),
    ],
)
def test_impossible_proofs_are_problems(api: Api, query: str, status: int, kind: str) -> None:
    api.reveal("C1", 0)
    response = api.client.get(f"/v1/audit/proof?{query}", headers=api.auth("O1"))
    assert_problem(response, status, kind)


# -- problems ---------------------------------------------------------------------------------


def test_a_body_that_is_not_json_is_a_400_problem(api: Api) -> None:
    response = api.client.post(
        "/v1/reveal",
        content=b'{"waybill_no": "PG1", ',
        headers={**api.auth("C1"), "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed-json")


def test_schema_errors_name_the_place_not_the_value(api: Api) -> None:
    response = api.client.post(
        "/v1/reveal",
        json={"waybill_no": 13812345678, "field": "phone", "13912345678": "x"},
        headers=api.auth("C1"),
    )
    problem = assert_problem(response, 422, "invalid-request")
    locations = [error["loc"] for error in problem["errors"]]
    assert ["body", "waybill_no"] in locations
    assert ["body", "purpose"] in locations
    assert ["body", "?"] in locations  # a member named like a phone is not echoed
    assert "13812345678" not in response.text
    assert "13912345678" not in response.text


def test_a_body_without_a_json_content_type_is_refused(api: Api) -> None:
    response = api.client.post(
        "/v1/reveal", content=json.dumps(REVEAL).encode(), headers=api.auth("C1")
    )
    assert_problem(response, 422, "invalid-request")


def test_unknown_paths_methods_and_huge_bodies_are_problems(api: Api) -> None:
    assert_problem(api.client.get("/v1/reveal/13812345678"), 404, "not-found")
    assert_problem(api.client.get("/v1/reveal", headers=api.auth("C1")), 405, "method-not-allowed")
    huge = api.client.post(
        "/v1/reveal", json={**REVEAL, "case_id": "x" * 40_000}, headers=api.auth("C1")
    )
    assert_problem(huge, 413, "payload-too-large")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc-123:xyz.7_", True),
        ("13812345678", False),  # a phone number pasted as an id
        ("id-008613812345678", False),
        ("has space", False),
        ("x" * 65, False),
        ("张三", False),
    ],
)
def test_request_ids_are_kept_only_when_safe(api: Api, given: str, kept: bool) -> None:
    response = api.client.get("/v1/health", headers={"X-Request-ID": given.encode("utf-8")})
    answered = response.headers["x-request-id"]
    assert (answered == given) == kept
    assert len(answered) <= 64


# -- the access log ---------------------------------------------------------------------------


def test_the_access_log_has_one_line_per_request_and_no_personal_data(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything any logger says
    api.reveal("C1", 0)  # a virtual number
    api.reveal("C1", 0, field="address")  # plaintext in the response
    api.reveal("A1", 2, field="name", purpose="customer_service")  # masked
    api.reveal("O1", 4, purpose="investigation", case_id="CASE-1")  # plaintext phone
    waybill = api.world.waybills[1]
    api.client.post(
        "/v1/reveal",
        json={"waybill_no": waybill.recipient_phone, "field": "phone", "purpose": "delivery"},
        headers={**api.auth("C1"), "X-Request-ID": waybill.recipient_phone},
    )
    api.client.get(f"/v1/nowhere/{waybill.recipient_phone}?name={waybill.recipient_name}")
    api.client.post(
        "/v1/vnum/route", json={"number": waybill.recipient_phone}, headers=api.auth("C1")
    )
    access = [r for r in caplog.records if r.name == "parcelguard.api.access"]
    assert len(access) == 7
    lines = [json.loads(r.getMessage()) for r in access]
    assert set(lines[0]) == {
        "method",
        "route",
        "status",
        "duration_ms",
        "request_id",
        "employee_id",
        "device_id",
    }
    assert [line["route"] for line in lines] == ["/v1/reveal"] * 5 + ["-", "/v1/vnum/route"]
    assert lines[0]["employee_id"] == "C1"
    assert lines[5]["employee_id"] is None
    # httpx logs the test client's own request lines (the caller's side, not the server's).
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    everything = "\n".join(f"{r.name} {r.getMessage()} {r.__dict__}" for r in server)
    for value in api.personal_values():
        assert value not in everything
    assert api.world.waybills[4].recipient_phone  # the break-glass value did reach its caller


def test_an_unexpected_error_is_a_500_problem_without_its_text(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    secret = api.world.waybills[0].recipient_phone

    def explode(request):
        raise ValueError(f"something about {secret}")

    api.context.service.explain = explode  # type: ignore[method-assign]
    caplog.set_level(logging.DEBUG)
    response = api.client.post("/v1/policy/explain", json=REVEAL, headers=api.auth("O1"))
    assert_problem(response, 500, "internal-error")
    assert secret not in response.text
    assert secret not in caplog.text
    assert "ValueError" in caplog.text


def test_the_store_behind_a_reveal_answers_503_when_it_is_gone(api: Api) -> None:
    token = api.auth("C1")
    api.client.get("/v1/audit/head", headers=token)  # the token's standing is now cached
    url = api.context.service.engine.url.set(database="/nonexistent/dir/parcelguard.db")
    if api.context.service.engine.dialect.name == "postgresql":
        url = url.set(port=1)
    gone = sa.create_engine(url)
    api.context.service.engine = gone
    try:
        response = api.client.post(
            "/v1/reveal",
            json={**REVEAL, "waybill_no": api.world.waybills[0].waybill_no},
            headers=token,
        )
    finally:
        gone.dispose()
    assert_problem(response, 503, "store-unavailable", "store_unavailable")
