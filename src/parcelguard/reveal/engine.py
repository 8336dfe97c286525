"""Cedar policies, parsed once, deciding batches of reveal requests.

The operator edits ``*.cedar`` files and a Cedar schema (``reveal.cedarschema``) in the policy
directory. They are validated against the schema and parsed once when the engine loads (a
broken file is a :class:`~parcelguard.core.errors.BadInput` naming the file and Cedar's
message), never per request. Cedar numbers policies ``policy0, policy1, ...``; the engine maps
those to the policies' ``@id``, ``@form`` and ``@reason`` annotations so decisions, the audit
log and ``policy explain`` speak the operator's names.

Deny by default is Cedar's own semantics: no matching ``permit`` means deny. An empty policy
set is refused at load time rather than silently denying everything, so a misconfigured
installation is noticed.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cedarpy

from parcelguard.core.errors import BadInput

SCHEMA_FILE: Final = "reveal.cedarschema"
FORMS: Final = ("virtual_number", "masked", "plaintext")
"""From least to most revealing: when several permits match, the first of these wins."""


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    policy_id: str
    effect: str  # permit or forbid
    form: str | None
    reason: str
    source: str  # the file it came from


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """Cedar's answer for one request, in the operator's names."""

    allowed: bool
    policy_ids: tuple[str, ...]  # the policies that decided (permits on allow, forbids on deny)
    form: str | None
    reason: str
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CedarRequest:
    principal: str
    principal_attrs: Mapping[str, Any]
    resource: str
    resource_attrs: Mapping[str, Any]
    context: Mapping[str, Any]


class PolicyEngine:
    def __init__(self, texts: Sequence[tuple[str, str]], schema_text: str) -> None:
        """``texts`` are (source name, Cedar text) pairs; use :meth:`load` for a directory."""
        for source, text in texts:
            result = cedarpy.validate_policies(text, schema_text)
            if not result.validation_passed:
                problems = "; ".join(str(error) for error in result.errors) or "invalid"
                raise BadInput(f"policy file {source}: {problems}")
        joined = "\n".join(text for _, text in texts)
        try:
            self._policies = cedarpy.PolicySet.from_str(joined)
            self._schema = cedarpy.Schema.from_str(schema_text)
            parsed = json.loads(cedarpy.policies_to_json_str(joined))
        except (ValueError, RuntimeError) as exc:
            raise BadInput(f"policies: {exc}") from None
        self.policies: dict[str, PolicyInfo] = {}
        sources = _policy_sources(texts)
        for number, (cedar_id, body) in enumerate(parsed["staticPolicies"].items()):
            notes = body.get("annotations", {})
            form = notes.get("form")
            if form is not None and form not in FORMS:
                raise BadInput(
                    f"policy {notes.get('id', cedar_id)}: @form must be one of {', '.join(FORMS)}"
                )
            info = PolicyInfo(
                policy_id=notes.get("id", cedar_id),
                effect=body["effect"],
                form=form,
                reason=notes.get("reason", notes.get("id", cedar_id)),
                source=sources[number] if number < len(sources) else "?",
            )
            if info.effect == "permit" and info.form is None:
                raise BadInput(f"policy {info.policy_id}: a permit needs @form(...)")
            self.policies[cedar_id] = info
        if not any(info.effect == "permit" for info in self.policies.values()):
            raise BadInput("policies: no permit statement; every reveal would be denied")

    @classmethod
    def load(cls, directory: Path) -> PolicyEngine:
        schema = directory / SCHEMA_FILE
        if not schema.is_file():
            raise BadInput(f"{schema}: the Cedar schema is missing; run `parcelguard init`")
        files = sorted(directory.glob("*.cedar"))
        if not files:
            raise BadInput(f"{directory}: no *.cedar policy files; run `parcelguard init`")
        texts = [(path.name, _read(path)) for path in files]
        return cls(texts, _read(schema))

    def decide(
        self, requests: Sequence[CedarRequest], validate: bool = False
    ) -> list[PolicyOutcome]:
        """One Cedar batch call for all requests; outcomes in the same order.

        The policies were validated against the schema when they loaded; ``validate`` also
        checks every request against it, which ``parcelguard policy test`` does so that a
        schema edited out of step with the facts the service provides is caught there. The
        service's hot path skips it (measured: a third of Cedar's time per request), and a
        request that still does not fit makes Cedar report an error, which denies.
        """
        if not requests:
            return []
        entities: dict[tuple[str, str], dict[str, Any]] = {}
        cedar_requests = []
        for request in requests:
            for kind, uid, attrs in (
                ("Employee", request.principal, request.principal_attrs),
                ("Waybill", request.resource, request.resource_attrs),
            ):
                entity = _entity(kind, uid, attrs)
                if entities.setdefault((kind, uid), entity) != entity:
                    # One batch shares one entity store: the same id must mean the same facts.
                    raise ValueError(f"{kind} {uid} appears with two sets of attributes")
            cedar_requests.append(
                {
                    "principal": {"type": "Employee", "id": request.principal},
                    "action": {"type": "Action", "id": "reveal"},
                    "resource": {"type": "Waybill", "id": request.resource},
                    "context": request.context,
                }
            )
        store = cedarpy.Entities.from_json_str(json.dumps(list(entities.values())))
        results = cedarpy.is_authorized_batch(
            cedar_requests, self._policies, store, self._schema if validate else None
        )
        return [self._outcome(result) for result in results]

    def _outcome(self, result: Any) -> PolicyOutcome:
        matched = [self.policies[cedar_id] for cedar_id in result.diagnostics.reasons]
        errors = tuple(str(error) for error in result.diagnostics.errors)
        if result.allowed:
            permits = [info for info in matched if info.effect == "permit"]
            best = min(permits, key=lambda info: FORMS.index(info.form or "plaintext"))
            return PolicyOutcome(True, tuple(i.policy_id for i in permits), best.form, best.reason)
        forbids = [info for info in matched if info.effect == "forbid"]
        if forbids:
            return PolicyOutcome(
                False, tuple(i.policy_id for i in forbids), None, forbids[0].reason, errors
            )
        reason = "policy_error" if errors else "no_matching_policy"
        return PolicyOutcome(False, (), None, reason, errors)


def _entity(kind: str, entity_id: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {"uid": {"type": kind, "id": entity_id}, "attrs": dict(attrs), "parents": []}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it ({type(exc).__name__})") from None


def _policy_sources(texts: Sequence[tuple[str, str]]) -> list[str]:
    """The file of each policy, in Cedar's numbering order (files are parsed in order)."""
    sources: list[str] = []
    for source, text in texts:
        count = len(json.loads(cedarpy.policies_to_json_str(text))["staticPolicies"])
        sources.extend([source] * count)
    return sources


class PolicyWorker:
    """The same policies, evaluated in a child process (see ``RevealService.reveal_stream``).

    The child loads and validates the policy directory once, as the service does; requests
    and outcomes are small frozen values that cross the process boundary by pickling.
    """

    def __init__(self, directory: Path) -> None:
        PolicyEngine.load(directory)  # a broken policy set fails here, not in the child
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(str(directory),),
        )

    def submit(self, requests: Sequence[CedarRequest]) -> Future[list[PolicyOutcome]]:
        return self._pool.submit(_decide_in_worker, list(requests))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PolicyWorker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_WORKER_ENGINE: PolicyEngine | None = None


def _start_worker(directory: str) -> None:
    global _WORKER_ENGINE  # noqa: PLW0603 (one engine per worker process, loaded once)
    _WORKER_ENGINE = PolicyEngine.load(Path(directory))


def _decide_in_worker(requests: list[CedarRequest]) -> list[PolicyOutcome]:
    if _WORKER_ENGINE is None:
        raise RuntimeError("the policy worker was not started")
    return _WORKER_ENGINE.decide(requests)
