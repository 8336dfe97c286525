"""Request bodies and response shapes, as the OpenAPI document publishes them.

Bodies forbid unknown members: a body that names an ``actor`` or a ``device_id`` is refused
(422), never silently obeyed, because who asks comes from the bearer token alone. Values are
checked for shape and length only; whether a field or purpose makes sense is the reveal
service's decision, so that a request that cannot be right is still decided and audited
(``bad_request``, ``malformed_waybill``) instead of vanishing at the schema.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from parcelguard.events.schema import ACCESS_CHANNELS, ACCESS_FIELDS, ACCESS_PURPOSES

_FIELDS = ", ".join(ACCESS_FIELDS)
_PURPOSES = ", ".join(ACCESS_PURPOSES)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RevealBody(_Body):
    waybill_no: str = Field(min_length=1, max_length=64, examples=["PG000000000042"])
    field: str = Field(max_length=16, description=f"One of: {_FIELDS}.", examples=["phone"])
    purpose: str = Field(max_length=32, description=f"One of: {_PURPOSES}.", examples=["delivery"])
    case_id: str | None = Field(
        default=None,
        max_length=64,
        description="The approved investigation case (break-glass reveals only).",
    )


class RedeemBody(_Body):
    token: str = Field(min_length=1, max_length=512, description="The label's QR token.")
    field: str = Field(default="phone", max_length=16, description=f"One of: {_FIELDS}.")


class RouteBody(_Body):
    number: str = Field(
        min_length=1, max_length=32, description="The virtual number the device is calling."
    )


class ExplainBody(RevealBody):
    actor: str | None = Field(
        default=None,
        max_length=64,
        description="Whose request to explain (default: the caller). Explaining changes "
        "nothing and reveals nothing.",
    )
    device_id: str | None = Field(
        default=None, max_length=64, description="That actor's device (default: the caller's)."
    )
    channel: str | None = Field(
        default=None, max_length=16, description=f"One of: {', '.join(ACCESS_CHANNELS)}."
    )


class ReasonText(BaseModel):
    en: str
    zh: str


class DecisionModel(BaseModel):
    """A reveal decision: an answer, allowed or not (HTTP 200 either way)."""

    allowed: bool
    form: str | None = Field(description="virtual_number, masked or plaintext; null if denied")
    policy_ids: list[str]
    reason: str
    reason_text: ReasonText
    request_id: str
    audit_index: int | None
    valid_until: str | None
    value: str | None = Field(description="Present only when allowed.")
    guard_action: str | None = Field(
        default=None,
        description="allow, masked, step_up or contain: what the online guard did; null if it did not look",
    )
    guard_reasons: list[str] = Field(default_factory=list, description="The guard's signals.")


class RouteModel(BaseModel):
    number: str
    connected: bool
    reason: str
    reason_text: ReasonText
    at: str
    valid_until: str | None = Field(description="Only for a connected call.")
    waybill_no: str | None = Field(description="Only for a connected call: the caller's own.")


class HeadModel(BaseModel):
    tree_size: int
    root_hash: str = Field(description="hex")
    checkpoint: str = Field(description="The signed checkpoint (C2SP signed note).")


class ProofModel(BaseModel):
    index: int
    tree_size: int
    entry: str = Field(description="The entry's canonical bytes, base64")
    leaf_hash: str = Field(description="hex")
    inclusion_path: list[str] = Field(description="hex, leaf to root")
    root_hash: str = Field(description="hex")


class ConsistencyModel(BaseModel):
    first_size: int
    second_size: int
    first_root: str
    second_root: str
    proof: list[str]


class HealthModel(BaseModel):
    status: str = Field(description="ok, or unavailable (HTTP 503)")
    store: str
    policies: int
    audit_tree_size: int | None
    version: str
