"""What a case says: records per category of information, and the facts the rules ask about.

The input is strict on purpose. A key the rules do not know is an error naming it, not
something quietly ignored, because an ignored ``obtained_in_duties`` or a misspelt category
would change the severity without anyone seeing why. Facts that describe different acts
(buying for one's own lawful business under Art. 6, and selling or providing under Art. 5)
are refused together: which article governs is a legal call the investigator makes, not one
the tool should guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from parcelguard.core.errors import BadInput


class Category(StrEnum):
    """Kinds of personal information, as Art. 5 para. 1 items 3 to 5 sort them."""

    TRACE = "trace"  # 行踪轨迹信息
    COMMUNICATION_CONTENT = "communication_content"  # 通信内容
    CREDIT = "credit"  # 征信信息
    PROPERTY = "property"  # 财产信息
    ACCOMMODATION = "accommodation"  # 住宿信息
    COMMUNICATION_RECORDS = "communication_records"  # 通信记录
    HEALTH = "health"  # 健康生理信息
    TRANSACTION = "transaction"  # 交易信息
    OTHER_SENSITIVE = "other_sensitive"  # 其他可能影响人身、财产安全的公民个人信息
    GENERAL = "general"  # 第三项、第四项规定以外的公民个人信息


@dataclass(frozen=True, slots=True)
class Tier:
    """One quantity standard of Art. 5 para. 1: its item, its number, what it covers."""

    clause_id: str
    standard: int
    zh: str
    en: str


TIER_3 = Tier("art5.1.3", 50, "高度敏感信息（第三项）", "highly sensitive information (item 3)")
TIER_4 = Tier(
    "art5.1.4", 500, "影响人身、财产安全的信息（第四项）", "safety-relevant information (item 4)"
)
TIER_5 = Tier(
    "art5.1.5", 5_000, "其他公民个人信息（第五项）", "other personal information (item 5)"
)
TIERS = (TIER_3, TIER_4, TIER_5)

TIER_OF: Mapping[Category, Tier] = {
    Category.TRACE: TIER_3,
    Category.COMMUNICATION_CONTENT: TIER_3,
    Category.CREDIT: TIER_3,
    Category.PROPERTY: TIER_3,
    Category.ACCOMMODATION: TIER_4,
    Category.COMMUNICATION_RECORDS: TIER_4,
    Category.HEALTH: TIER_4,
    Category.TRANSACTION: TIER_4,
    Category.OTHER_SENSITIVE: TIER_4,
    Category.GENERAL: TIER_5,
}

CATEGORY_ZH: Mapping[Category, str] = {
    Category.TRACE: "行踪轨迹信息",
    Category.COMMUNICATION_CONTENT: "通信内容",
    Category.CREDIT: "征信信息",
    Category.PROPERTY: "财产信息",
    Category.ACCOMMODATION: "住宿信息",
    Category.COMMUNICATION_RECORDS: "通信记录",
    Category.HEALTH: "健康生理信息",
    Category.TRANSACTION: "交易信息",
    Category.OTHER_SENSITIVE: "其他可能影响人身、财产安全的信息",
    Category.GENERAL: "其他公民个人信息",
}

BOOLEAN_FACTS = (
    "obtained_in_duties",
    "prior_conviction_or_recent_penalty",
    "used_for_crime",
    "knew_buyer_criminal",
    "severe_consequences",
    "major_loss_or_bad_influence",
    "lawful_business_purchase",
)
AMOUNT_FACTS = ("illegal_gains_yuan", "business_profit_yuan")
KEYS = ("records", *BOOLEAN_FACTS, *AMOUNT_FACTS)
COUNT_KEYS = ("seized", "proven_duplicate", "proven_untrue")

# Facts that describe selling or providing (Art. 5), which Art. 6 para. 2 takes out of the
# lawful-business purchase route, or that Art. 6 has no standard for.
_NOT_WITH_LAWFUL_PURCHASE = (
    "obtained_in_duties",
    "used_for_crime",
    "knew_buyer_criminal",
    "severe_consequences",
    "major_loss_or_bad_influence",
)


@dataclass(frozen=True, slots=True)
class Count:
    """Records of one category, counted as Art. 11 para. 3 says.

    The count is what was seized; only records proven untrue or proven duplicated come off.
    A plain number in the input is a count already prepared that way (the forensic ingest
    deduplicates and reports what it excluded), so nothing comes off it here.
    """

    seized: int
    proven_duplicate: int = 0
    proven_untrue: int = 0

    def __post_init__(self) -> None:
        if min(self.seized, self.proven_duplicate, self.proven_untrue) < 0:
            raise ValueError("counts are never negative")
        if self.proven_duplicate + self.proven_untrue > self.seized:
            raise ValueError("more records excluded than seized")

    @property
    def counted(self) -> int:
        return self.seized - self.proven_duplicate - self.proven_untrue

    def as_dict(self) -> dict[str, int]:
        return {
            "seized": self.seized,
            "proven_duplicate": self.proven_duplicate,
            "proven_untrue": self.proven_untrue,
            "counted": self.counted,
        }


@dataclass(frozen=True, slots=True)
class LegalCase:
    """The input of an assessment: counts per category and the facts, all optional but records."""

    records: Mapping[Category, Count] = field(default_factory=dict)
    illegal_gains_yuan: Decimal | None = None
    obtained_in_duties: bool = False
    prior_conviction_or_recent_penalty: bool = False
    used_for_crime: bool = False
    knew_buyer_criminal: bool = False
    severe_consequences: bool = False
    major_loss_or_bad_influence: bool = False
    lawful_business_purchase: bool = False
    business_profit_yuan: Decimal | None = None

    def __post_init__(self) -> None:
        for category, count in self.records.items():
            if not isinstance(category, Category) or not isinstance(count, Count):
                raise TypeError("records map Category to Count")
        _check_consistent({name: getattr(self, name) for name in KEYS[1:]}, "case")

    def count(self, category: Category) -> int:
        found = self.records.get(category)
        return 0 if found is None else found.counted

    @classmethod
    def from_json_obj(cls, obj: object, where: str = "case") -> LegalCase:
        """Read a decoded JSON value; every problem is a BadInput naming ``where`` and the key."""
        if not isinstance(obj, dict):
            raise BadInput(f'{where}: not a JSON object (write {{"records": {{...}}, ...}})')
        problems = []
        unknown = sorted(str(key) for key in obj if key not in KEYS)
        if unknown:
            problems.append(
                f"unknown fact{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                f"(known: {', '.join(KEYS)})"
            )
        records_obj = obj.get("records")
        if isinstance(records_obj, dict):
            strange = _unknown_categories(records_obj)
            if strange:
                problems.append(f"records: {strange}")
        if problems:
            raise BadInput(f"{where}: {'; '.join(problems)}")
        if "records" not in obj:
            raise BadInput(
                f"{where}: records is missing (a map from category to count; {{}} if none)"
            )
        records = _records(obj["records"], f"{where}: records")
        flags: dict[str, bool] = {}
        for name in BOOLEAN_FACTS:
            if name in obj:
                value = obj[name]
                if not isinstance(value, bool):
                    raise BadInput(f"{where}: {name} must be true or false, not {_kind(value)}")
                flags[name] = value
        amounts = {
            name: _amount(obj[name], f"{where}: {name}") for name in AMOUNT_FACTS if name in obj
        }
        _check_consistent({**flags, **amounts}, where)
        return cls(
            records=records,
            illegal_gains_yuan=amounts.get("illegal_gains_yuan"),
            obtained_in_duties=flags.get("obtained_in_duties", False),
            prior_conviction_or_recent_penalty=flags.get(
                "prior_conviction_or_recent_penalty", False
            ),
            used_for_crime=flags.get("used_for_crime", False),
            knew_buyer_criminal=flags.get("knew_buyer_criminal", False),
            severe_consequences=flags.get("severe_consequences", False),
            major_loss_or_bad_influence=flags.get("major_loss_or_bad_influence", False),
            lawful_business_purchase=flags.get("lawful_business_purchase", False),
            business_profit_yuan=amounts.get("business_profit_yuan"),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "records": {c.value: n.as_dict() for c, n in self.records.items()},
            **{name: getattr(self, name) for name in BOOLEAN_FACTS},
            **{
                name: None if (value := getattr(self, name)) is None else str(value)
                for name in AMOUNT_FACTS
            },
        }


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _records(value: object, where: str) -> dict[Category, Count]:
    if not isinstance(value, dict):
        raise BadInput(f"{where}: must be an object mapping category to count, not {_kind(value)}")
    strange = _unknown_categories(value)
    if strange:
        raise BadInput(f"{where}: {strange}")
    return {Category(key): _count(raw, f"{where}.{key}") for key, raw in value.items()}


def _unknown_categories(value: dict[object, object]) -> str | None:
    known = {c.value for c in Category}
    unknown = sorted(str(key) for key in value if key not in known)
    if not unknown:
        return None
    return (
        f"unknown categor{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} "
        f"(known: {', '.join(c.value for c in Category)})"
    )


MAX_RECORDS = 10**12
"""More records than a trillion is a typing error, not a case (every person on Earth 100
times over); refusing it keeps the arithmetic exact and the output small."""
MAX_YUAN = Decimal(10) ** 13
"""Ten trillion yuan: far above any amount a case has known; refusing more keeps exponents
such as 1e999999999 from exhausting memory."""


def _whole(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadInput(f"{where}: must be a whole number of records, not {_kind(value)}")
    if isinstance(value, int):
        number = value
    else:
        if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > 15:
            raise BadInput(f"{where}: {_short(value)} is not a count of records (at most 10^12)")
        if not math.isfinite(value) or value != int(value):
            raise BadInput(f"{where}: {_short(value)} is not a whole number of records")
        number = int(value)
    if number < 0:
        raise BadInput(f"{where}: {_short(number)} is negative")
    if number > MAX_RECORDS:
        raise BadInput(f"{where}: {_short(number)} records is more than 10^12; check the count")
    return number


def _short(value: object) -> str:
    """A number as an error may show it: never thousands of digits."""
    text = str(value) if not isinstance(value, int) or value.bit_length() < 200 else "a huge number"
    return text if len(text) <= 40 else f"{text[:20]}…"


def _count(value: object, where: str) -> Count:
    if not isinstance(value, dict):
        return Count(_whole(value, where))
    unknown = sorted(str(key) for key in value if key not in COUNT_KEYS)
    if unknown:
        raise BadInput(
            f"{where}: unknown key {', '.join(unknown)} (known: {', '.join(COUNT_KEYS)})"
        )
    if "seized" not in value:
        raise BadInput(f"{where}: seized is missing (the number of records found, Art. 11 para. 3)")
    parts = {key: _whole(value[key], f"{where}.{key}") for key in COUNT_KEYS if key in value}
    excluded = parts.get("proven_duplicate", 0) + parts.get("proven_untrue", 0)
    if excluded > parts["seized"]:
        raise BadInput(f"{where}: {excluded} records excluded but only {parts['seized']} seized")
    return Count(**parts)


def _amount(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise BadInput(f"{where}: must be an amount in yuan, not {_kind(value)}")
    if isinstance(value, int) and value.bit_length() > 64:
        raise BadInput(f"{where}: {_short(value)} yuan is more than 10^13; check the amount")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadInput(f"{where}: {_short(value)} is not an amount") from None
    if not amount.is_finite():
        raise BadInput(f"{where}: {_short(value)} is not a finite amount")
    if amount < 0:
        raise BadInput(f"{where}: {_short(value)} is negative")
    if amount > MAX_YUAN:
        raise BadInput(f"{where}: {_short(value)} yuan is more than 10^13; check the amount")
    if amount != 0 and amount.adjusted() < -2:
        raise BadInput(f"{where}: {_short(value)} is smaller than a fen (0.01 yuan)")
    return amount


def _check_consistent(facts: Mapping[str, object], where: str) -> None:
    if facts.get("business_profit_yuan") is not None and not facts.get("lawful_business_purchase"):
        raise BadInput(
            f"{where}: business_profit_yuan is a fact of Art. 6 (buying for lawful business); "
            "it needs lawful_business_purchase true"
        )
    if not facts.get("lawful_business_purchase"):
        return
    clashing = [name for name in _NOT_WITH_LAWFUL_PURCHASE if facts.get(name)]
    gains = facts.get("illegal_gains_yuan")
    if isinstance(gains, Decimal) and gains > 0:
        clashing.append("illegal_gains_yuan")
    if clashing:
        raise BadInput(
            f"{where}: lawful_business_purchase (Art. 6: buying or receiving for one's own "
            f"lawful business, nothing passed on) cannot stand with {', '.join(clashing)}: "
            "those describe selling or providing, or consequences Art. 6 sets no standard for, "
            "and Art. 6 para. 2 sends selling or providing to Art. 5; assess without "
            "lawful_business_purchase, or as two cases"
        )
