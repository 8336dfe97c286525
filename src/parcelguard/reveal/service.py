"""The one door: every read of a recipient's name, phone or address goes through :meth:`reveal`.

Order of work for a batch of requests, and why:

1. requests that cannot be right (unknown field or purpose, not a waybill number, another
   carrier's number) are denied with their own reason, before any lookup;
2. the workflow facts are read (:mod:`parcelguard.reveal.facts`); an unknown employee, role or
   waybill, or a shredded one, is denied with its own reason;
3. Cedar decides the rest in one batch (:mod:`parcelguard.reveal.engine`): deny by default,
   the least revealing form of the permits that match;
4. the value is prepared in memory (a virtual number bound to this employee and device, the
   stored mask, or the decrypted field);
5. every decision, allow or deny, is appended to the audit log, and only once that append is
   durable does any value leave. If it fails, every decision of the batch becomes a denial
   ``audit_unavailable`` and no value leaves (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from parcelguard.audit.entry import AuditEntry
from parcelguard.core.errors import ParcelGuardError, StoreUnavailable
from parcelguard.core.phone import looks_like_mobile
from parcelguard.events.schema import ACCESS_CHANNELS, ACCESS_FIELDS, ACCESS_PURPOSES
from parcelguard.labels.redemption import redeem
from parcelguard.labels.token import LabelTokens, TokenRejected
from parcelguard.reveal.engine import CedarRequest, PolicyEngine, PolicyOutcome, PolicyWorker
from parcelguard.reveal.facts import Facts, RevealRequest, Unestablished, gather, gather_many
from parcelguard.reveal.guard.audit import containment_entry
from parcelguard.reveal.guard.containments import Containment
from parcelguard.reveal.guard.guard import Guard, GuardItem, GuardOutcome
from parcelguard.reveal.reasons import REASONS, reason_text
from parcelguard.storage import one_write_transaction
from parcelguard.storage.schema import data_keys, waybills
from parcelguard.vault import _decrypt
from parcelguard.vault.fields import Field
from parcelguard.vault.keys import KeyProvider

VNUM_GRACE = timedelta(days=3)
"""A virtual number stays valid this long after delivery, the end of the assignment or the
decision, whichever is latest: enough for a failed attempt and a callback, not for a resale."""

_FOREIGN = re.compile(r"[A-Z]{0,4}\d{8,20}|[A-Z]{2}\d{9}[A-Z]{2}")  # other carriers, UPU S10
_AUDIT_TEXT = re.compile(r"[A-Za-z0-9_.:\-/+@#]{0,128}")

AuditAppend = Callable[[Sequence[AuditEntry]], Sequence[int]]


class Bound(Protocol):
    @property
    def number(self) -> str: ...


class NumberIssuer(Protocol):
    """Binds virtual numbers; :class:`parcelguard.vnum.VirtualNumbers` is the real one."""

    def bind_many(
        self,
        requests: Sequence[tuple[str, str, str, datetime]],
        now: datetime,
        *,
        flushed_by_a_later_commit: bool = False,
    ) -> Sequence[Bound | ParcelGuardError]:
        """(waybill, employee, device, valid_until) each; a binding or its error, in order."""
        ...


@dataclass(frozen=True, slots=True)
class RevealDecision:
    """What the door answered: a value with reasons, written to the audit log before return."""

    allowed: bool
    form: str | None
    policy_ids: tuple[str, ...]
    reason: str
    request_id: str
    audit_index: int | None = None
    valid_until: datetime | None = None
    value: str | None = field(default=None, repr=False)
    guard_action: str | None = None
    """What the online guard did after the policy: ``allow``, ``masked`` (handed the mask
    instead), ``step_up`` (asked for a supervisor's approval), ``contain`` (suspended the
    account); None when the guard did not look (policy denial, or no guard)."""
    guard_reasons: tuple[str, ...] = ()
    """The guard's signals behind ``guard_action`` (machine codes, no personal data)."""

    def reason_in(self, lang: str) -> str:
        return reason_text(self.reason, lang)

    def as_dict(self, lang: str = "en") -> dict[str, object]:
        """For the API and the CLI; the value is included only when allowed."""
        return {
            "allowed": self.allowed,
            "form": self.form,
            "policy_ids": list(self.policy_ids),
            "reason": self.reason,
            "reason_text": {
                "en": reason_text(self.reason, "en"),
                "zh": reason_text(self.reason, "zh"),
            },
            "request_id": self.request_id,
            "audit_index": self.audit_index,
            "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
            "value": self.value if self.allowed else None,
            "guard_action": self.guard_action,
            "guard_reasons": list(self.guard_reasons),
        }


@dataclass(slots=True)
class _Staged:
    """A batch between its facts and its values: what is decided so far, what Cedar gets."""

    requests: Sequence[RevealRequest]
    now: datetime
    decided: list[RevealDecision | None]
    pending: list[tuple[int, Facts]]
    cedar: list[CedarRequest]


def _deny(request: RevealRequest, reason: str, policy_ids: tuple[str, ...] = ()) -> RevealDecision:
    return RevealDecision(False, None, policy_ids, reason, request.request_id)


class RevealService:
    def __init__(
        self,
        engine: sa.Engine,
        policies: PolicyEngine,
        keys: KeyProvider,
        audit_append: AuditAppend,
        numbers: NumberIssuer,
        waybill_pattern: str,
        clock: Callable[[], datetime],
        labels: LabelTokens | None = None,
        same_store: bool = False,
        guard: Guard | None = None,
        one_transaction: bool = False,
    ) -> None:
        """``one_transaction``: the audit append writes to ``engine`` in the calling thread
        (the log's own append, not a group committer in another thread), so a batch's
        guard windows, containments, bindings and audit entries can share one transaction;
        see :func:`parcelguard.storage.one_write_transaction`."""
        self.engine = engine
        self.policies = policies
        self._keys = keys
        self._audit_append = audit_append
        self._numbers = numbers
        self._ours = re.compile(waybill_pattern)
        self._clock = clock
        self._labels = labels
        self._same_store = same_store
        self.guard = guard
        self._one_transaction = one_transaction

    def reveal(self, request: RevealRequest) -> RevealDecision:
        return self.reveal_batch([request])[0]

    def redeem_label(self, token: str, request: RevealRequest) -> RevealDecision:
        """A courier's handheld scans a label's QR code: the token names the waybill.

        The token must authenticate, be within its validity, and belong to the first
        registered device that redeemed it; then the request is decided like any other
        reveal (purpose ``delivery``), so a token gives no right the workflow does not.
        Every refusal has its own reason and is audited like a denial.
        """
        if self._labels is None:
            raise RuntimeError("this service was opened without the label key")
        now = self._clock()
        try:
            claims = self._labels.open(token, now)
        except TokenRejected as exc:
            refused = replace(request, waybill_no="", purpose="delivery")
            return self._audit([refused], [_deny(refused, exc.reason)], now)[0]
        asked = replace(request, waybill_no=claims.waybill_no, purpose="delivery")
        try:
            redeem(self.engine, claims, request.device_id, now)
        except TokenRejected as exc:
            return self._audit([asked], [_deny(asked, exc.reason)], now)[0]
        return self.reveal(asked)

    def reveal_batch(self, requests: Sequence[RevealRequest]) -> list[RevealDecision]:
        staged = self._stage(requests)
        return self._finish(staged, self.policies.decide(staged.cedar))

    def reveal_stream(
        self, batches: Iterable[Sequence[RevealRequest]], policies: PolicyWorker
    ) -> Iterator[list[RevealDecision]]:
        """:meth:`reveal_batch` over a stream of batches, Cedar running one batch ahead.

        Why: cedarpy holds the interpreter lock for its whole call, so threads cannot overlap
        it with the service's own work. ``policies`` evaluates in a child process while this
        process finishes the previous batch (values, virtual numbers, the audit append), and
        every batch is still finished, audited and yielded in order, its values leaving only
        after its audit append is durable. Each batch is decided at the time it was staged.
        """
        ahead: tuple[_Staged, Future[list[PolicyOutcome]]] | None = None
        for requests in batches:
            staged = self._stage(requests)
            current = (staged, policies.submit(staged.cedar))
            if ahead is not None:
                yield self._finish(ahead[0], ahead[1].result())
            ahead = current
        if ahead is not None:
            yield self._finish(ahead[0], ahead[1].result())

    def _stage(self, requests: Sequence[RevealRequest]) -> _Staged:
        """Checks and facts for a batch, and the Cedar requests for what they leave open."""
        now = self._clock()
        staged = _Staged(requests, now, [None] * len(requests), [], [])
        checked: list[int] = []
        for position, request in enumerate(requests):
            early = self._syntax(request)
            if early is None:
                checked.append(position)
            else:
                staged.decided[position] = _deny(request, early)
        with self.engine.connect() as conn:
            gathered = gather_many(conn, [requests[p] for p in checked], now)
        stamp = int(now.timestamp())
        for position, facts in zip(checked, gathered, strict=True):
            request = requests[position]
            if isinstance(facts, Unestablished):
                staged.decided[position] = _deny(request, facts.reason)
                continue
            staged.pending.append((position, facts))
            staged.cedar.append(
                CedarRequest(
                    request.actor,
                    facts.principal_attrs(),
                    request.waybill_no,
                    facts.resource_attrs(),
                    facts.context(request, stamp),
                )
            )
        return staged

    def _finish(self, staged: _Staged, outcomes: Sequence[PolicyOutcome]) -> list[RevealDecision]:
        """Values for what Cedar allowed, then the audit append; nothing leaves before it.

        With ``one_transaction`` every write of the batch commits with the audit append, and
        a failure of any of them rolls all of them back: the batch is then denied
        ``audit_unavailable``, nothing of it written, nothing revealed.
        """
        if not self._one_transaction:
            return self._finish_writes(staged, outcomes)
        try:
            with one_write_transaction(self.engine):
                decisions = self._finish_writes(staged, outcomes)
                if any(d.reason == "audit_unavailable" for d in decisions):
                    raise StoreUnavailable("the audit append failed")  # roll the batch back
        except (StoreUnavailable, OperationalError):
            return [
                RevealDecision(False, None, (), "audit_unavailable", r.request_id)
                for r in staged.requests
            ]
        return decisions

    def _finish_writes(
        self, staged: _Staged, outcomes: Sequence[PolicyOutcome]
    ) -> list[RevealDecision]:
        requests, decided, now = staged.requests, staged.decided, staged.now
        to_bind: list[tuple[int, RevealDecision, datetime]] = []
        to_open: list[tuple[int, RevealDecision]] = []
        guarded, contained = self._guarded(staged, outcomes)
        for (position, facts), outcome in zip(staged.pending, outcomes, strict=True):
            request = requests[position]
            said = guarded.get(position)
            if not outcome.allowed:
                denied = _deny(request, outcome.reason, outcome.policy_ids)
                if said is not None and said.action is not None:
                    denied = replace(denied, guard_action=said.action, guard_reasons=said.reasons)
                decided[position] = denied
                continue
            allowed = RevealDecision(
                True, outcome.form, outcome.policy_ids, outcome.reason, request.request_id
            )
            if said is not None:
                allowed = replace(allowed, guard_action=said.action, guard_reasons=said.reasons)
                if said.deny_reason is not None:
                    decided[position] = replace(
                        allowed, allowed=False, form=None, reason=said.deny_reason
                    )
                    continue
                if said.form is not None:
                    allowed = replace(allowed, form=said.form)
            if allowed.form == "virtual_number" and request.field == "phone":
                to_bind.append((position, allowed, self._vnum_until(facts, now)))
            else:
                to_open.append((position, allowed))
        if to_bind:
            self._bind_numbers(requests, to_bind, decided, now)
        if to_open:
            self._open_values(requests, to_open, decided)
        _tag_early_denials(decided, guarded)
        final = [decision for decision in decided if decision is not None]
        return self._audit(requests, final, now, contained)

    def _guarded(
        self, staged: _Staged, outcomes: Sequence[PolicyOutcome]
    ) -> tuple[dict[int, GuardOutcome], list[Containment]]:
        """The guard's outcome for every request it looks at, by position in the batch."""
        if self.guard is None:
            return {}, []
        items: list[GuardItem] = []
        positions: list[int] = []
        for (position, facts), outcome in zip(staged.pending, outcomes, strict=True):
            form = outcome.form if outcome.allowed else None
            reason = None if outcome.allowed else outcome.reason
            items.append(GuardItem(staged.requests[position], facts, form, reason))
            positions.append(position)
        for position, early in enumerate(staged.decided):
            if early is not None:  # denied before the facts or by them
                items.append(GuardItem(staged.requests[position], None, None, early.reason))
                positions.append(position)
        said, contained = self.guard.review(items, staged.now)
        return dict(zip(positions, said, strict=True)), contained

    def _bind_numbers(
        self,
        requests: Sequence[RevealRequest],
        to_bind: list[tuple[int, RevealDecision, datetime]],
        decided: list[RevealDecision | None],
        now: datetime,
    ) -> None:
        """Bind every virtual number of the batch in one call (one transaction)."""
        bound = self._numbers.bind_many(
            [
                (requests[p].waybill_no, requests[p].actor, requests[p].device_id, until)
                for p, _, until in to_bind
            ],
            now,
            # No number leaves before the audit append commits to the same store, and that
            # synchronous commit flushes the bindings' commit with it.
            flushed_by_a_later_commit=self._same_store,
        )
        for (position, allowed, until), binding in zip(to_bind, bound, strict=True):
            if isinstance(binding, ParcelGuardError):
                reason = binding.code if binding.code in REASONS else "vnum_unavailable"
                decided[position] = _deny(requests[position], reason, allowed.policy_ids)
            else:
                decided[position] = replace(allowed, value=binding.number, valid_until=until)

    def explain(self, request: RevealRequest) -> dict[str, object]:
        """Which policy decides ``request`` now, and on which facts; nothing is revealed.

        For an operator or investigator asking "why was this allowed / denied": it runs the
        same checks and the same Cedar call as :meth:`reveal` but prepares no value and
        appends nothing to the audit log.
        """
        now = self._clock()
        early = self._syntax(request)
        facts: Facts | Unestablished
        if early is not None:
            facts = Unestablished(early)
        else:
            with self.engine.connect() as conn:
                facts = gather(conn, request, now)
        if isinstance(facts, Unestablished):
            return {
                "allowed": False,
                "decided_by": "checks before the policies",
                "reason": facts.reason,
                "reason_text": {
                    "en": reason_text(facts.reason, "en"),
                    "zh": reason_text(facts.reason, "zh"),
                },
                "policies": [],
                "facts": None,
            }
        context = facts.context(request, int(now.timestamp()))
        (outcome,) = self.policies.decide(
            [
                CedarRequest(
                    request.actor,
                    facts.principal_attrs(),
                    request.waybill_no,
                    facts.resource_attrs(),
                    context,
                )
            ]
        )
        deciding = [
            info for info in self.policies.policies.values() if info.policy_id in outcome.policy_ids
        ]
        return {
            "allowed": outcome.allowed,
            "decided_by": "policies" if deciding else "deny by default (no permit matched)",
            "form": outcome.form,
            "reason": outcome.reason,
            "reason_text": {
                "en": reason_text(outcome.reason, "en"),
                "zh": reason_text(outcome.reason, "zh"),
            },
            "policies": [
                {"id": i.policy_id, "effect": i.effect, "form": i.form, "file": i.source}
                for i in deciding
            ],
            "principal": facts.principal_attrs(),
            "resource": facts.resource_attrs(),
            "facts": context,
            "errors": list(outcome.errors),
        }

    def _syntax(self, request: RevealRequest) -> str | None:
        if (
            request.field not in ACCESS_FIELDS
            or request.purpose not in ACCESS_PURPOSES
            or request.channel not in ACCESS_CHANNELS
        ):
            return "bad_request"
        if self._ours.fullmatch(request.waybill_no):
            return None
        if _FOREIGN.fullmatch(request.waybill_no) and not looks_like_mobile(request.waybill_no):
            return "foreign_waybill"
        return "malformed_waybill"

    @staticmethod
    def _vnum_until(facts: Facts, now: datetime) -> datetime:
        anchor = max(facts.delivered_at or facts.assigned_until, int(now.timestamp()))
        return datetime.fromtimestamp(anchor, now.tzinfo) + VNUM_GRACE

    def _open_values(
        self,
        requests: Sequence[RevealRequest],
        to_open: list[tuple[int, RevealDecision]],
        decided: list[RevealDecision | None],
    ) -> None:
        """Masks and plaintext for the batch's allowed decisions, from one read of their rows.

        Values stay in memory until the audit append is durable. A field that cannot be
        opened (shredded since the facts were read, or tampered with) is a denial.
        """
        numbers = sorted({requests[p].waybill_no for p, _ in to_open})
        rows: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(numbers), 500):
                rows.update(
                    (row.waybill_no, row)
                    for row in conn.execute(
                        sa.select(waybills, data_keys.c.wrapped_key)
                        .join(data_keys, data_keys.c.key_id == waybills.c.key_id)
                        .where(waybills.c.waybill_no.in_(numbers[start : start + 500]))
                    )
                )
        keys: dict[str, Any] = {}
        for position, allowed in to_open:
            request = requests[position]
            row = rows.get(request.waybill_no)
            try:
                if row is None:
                    raise _decrypt.FieldUnreadable(f"waybill {request.waybill_no}: not found")
                if allowed.form in ("masked", "virtual_number"):
                    masked = row._mapping[f"{request.field}_masked"]
                    if masked is None:
                        raise _decrypt.FieldUnreadable(f"waybill {request.waybill_no}: shredded")
                    decided[position] = replace(allowed, form="masked", value=str(masked))
                    continue
                if row.key_id not in keys:
                    keys[row.key_id] = _decrypt.unwrap_data_key(
                        self._keys, row.key_id, row.wrapped_key
                    )
                value = _decrypt.open_field(
                    keys[row.key_id],
                    request.waybill_no,
                    Field(request.field),
                    row.key_id,
                    row._mapping[f"{request.field}_ct"],
                )
                decided[position] = replace(allowed, value=value)
            except _decrypt.FieldUnreadable:
                decided[position] = _deny(request, "waybill_shredded", allowed.policy_ids)

    def _audit(
        self,
        requests: Sequence[RevealRequest],
        decisions: list[RevealDecision],
        now: datetime,
        contained: Sequence[Containment] = (),
    ) -> list[RevealDecision]:
        entries = [
            AuditEntry.at(
                0,
                now,
                actor=_safe(request.actor),
                action="reveal",
                waybill_no=_safe_waybill(request.waybill_no, decision.reason),
                field=_safe(request.field),
                purpose=_safe(request.purpose),
                decision="allow" if decision.allowed else "deny",
                reason=decision.reason,
                policy_id=_safe("+".join(decision.policy_ids)),
                request_id=_safe(request.request_id),
                channel=_safe(request.channel),
                device=_safe(request.device_id),
                ip=_safe(request.ip),
            )
            for request, decision in zip(requests, decisions, strict=True)
        ] + [containment_entry(containment, now) for containment in contained]
        try:
            indices = self._audit_append(entries)
        except (StoreUnavailable, TimeoutError, RuntimeError):
            return [
                RevealDecision(False, None, d.policy_ids, "audit_unavailable", d.request_id)
                for d in decisions
            ]
        return [
            replace(decision, audit_index=index)
            for decision, index in zip(decisions, indices[: len(decisions)], strict=True)
        ]


def _safe(text: str) -> str:
    """Request text as the audit log may hold it: ids and codes only, else a marker."""
    return text if _AUDIT_TEXT.fullmatch(text) else "invalid"


def _safe_waybill(waybill_no: str, reason: str) -> str:
    """A malformed 'waybill' may be anything a person typed, a phone number included."""
    if reason == "malformed_waybill" or looks_like_mobile(waybill_no):
        return "malformed"
    return _safe(waybill_no)


def _tag_early_denials(
    decided: list[RevealDecision | None], guarded: dict[int, GuardOutcome]
) -> None:
    """Requests denied before Cedar keep their reason; the guard's action is added to them."""
    for position, said in guarded.items():
        early = decided[position]
        if early is None or early.allowed or early.guard_action is not None or not said.action:
            continue
        decided[position] = replace(early, guard_action=said.action, guard_reasons=said.reasons)
