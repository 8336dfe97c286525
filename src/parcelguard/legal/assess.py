"""How serious a case is under Articles 5, 6 and 11 of 法释〔2017〕10号, with the sums shown.

The result is a value with reasons: every reason names the clause it comes from and the
numbers it compared, so a reader can redo the arithmetic by hand. Shares are exact fractions
(49/50 is below one, never a rounded 1.0), and amounts are decimals, for the same reason.

The rules decide only what the text decides. "Other serious circumstances" (Art. 5 para. 1
item 10, para. 2 item 4, Art. 6 para. 1 item 3) are left to the court and said so in the
notes; a ``none`` severity means "none of the decidable clauses applies", not "no crime".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from parcelguard.legal.case import (
    CATEGORY_ZH,
    TIER_5,
    TIER_OF,
    TIERS,
    Category,
    Count,
    LegalCase,
    Tier,
)
from parcelguard.legal.clauses import INTERPRETATION_EN, INTERPRETATION_ZH, Clause, clause

GAINS_STANDARD = Decimal(5_000)  # Art. 5 para. 1 item 7
PROFIT_STANDARD = Decimal(50_000)  # Art. 6 para. 1 item 1
TIMES_FOR_ESPECIALLY_SERIOUS = 10  # Art. 5 para. 2 item 3


class Severity(StrEnum):
    """The three outcomes, ordered: a case takes the highest any reason gives it."""

    NONE = "none"
    SERIOUS = "serious"
    ESPECIALLY_SERIOUS = "especially_serious"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def zh(self) -> str:
        return _SEVERITY_ZH[self]


_RANK = {Severity.NONE: 0, Severity.SERIOUS: 1, Severity.ESPECIALLY_SERIOUS: 2}
_SEVERITY_ZH = {
    Severity.NONE: "未达“情节严重”（可判定条款均不适用）",
    Severity.SERIOUS: "情节严重",
    Severity.ESPECIALLY_SERIOUS: "情节特别严重",
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One clause that applies, the clauses it builds on, and the comparison that made it."""

    clause_id: str
    severity: Severity
    en: str
    zh: str
    cites: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "clause": self.clause_id,
            "cites": list(self.cites),
            "severity": self.severity.value,
            "en": self.en,
            "zh": self.zh,
        }


@dataclass(frozen=True, slots=True)
class Note:
    """Something the reader must know to trust the result, tied to a clause."""

    clause_id: str
    en: str
    zh: str

    def as_dict(self) -> dict[str, str]:
        return {"clause": self.clause_id, "en": self.en, "zh": self.zh}


@dataclass(frozen=True, slots=True)
class Line:
    """One category's count and the standards it was measured against.

    ``route`` is ``art5`` or, for general information bought for lawful business, ``art6``,
    where no quantity standard exists and both thresholds are None.
    """

    category: Category
    count: Count
    route: str
    serious_threshold: int | None
    especially_threshold: int | None

    @property
    def serious_share(self) -> Fraction | None:
        return _share(self.count.counted, self.serious_threshold)

    @property
    def especially_share(self) -> Fraction | None:
        return _share(self.count.counted, self.especially_threshold)

    def as_dict(self) -> dict[str, object]:
        tier = TIER_OF[self.category]
        return {
            "category": self.category.value,
            "category_zh": CATEGORY_ZH[self.category],
            "item": tier.clause_id if self.route == "art5" else "art6.1",
            **self.count.as_dict(),
            "route": self.route,
            "serious_threshold": self.serious_threshold,
            "serious_share": _shown(self.serious_share),
            "serious_share_exact": _exact(self.serious_share),
            "especially_threshold": self.especially_threshold,
            "especially_share": _shown(self.especially_share),
            "especially_share_exact": _exact(self.especially_share),
        }


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """Every number the decision used: per category, the sums of shares, the amounts."""

    halved: bool
    lines: tuple[Line, ...]
    tier_totals: tuple[tuple[Tier, int], ...]
    serious_sum: Fraction
    especially_sum: Fraction
    illegal_gains_yuan: Decimal | None
    gains_serious_threshold: Decimal
    gains_especially_threshold: Decimal
    business_profit_yuan: Decimal | None
    profit_threshold: Decimal | None

    def as_dict(self) -> dict[str, object]:
        return {
            "halved_for_duties": self.halved,
            "categories": [line.as_dict() for line in self.lines],
            "items": [
                {
                    "item": tier.clause_id,
                    "counted": total,
                    "serious_threshold": _serious_threshold(tier, self.halved),
                    "especially_threshold": _especially_threshold(tier, self.halved),
                }
                for tier, total in self.tier_totals
            ],
            "serious_sum": _shown(self.serious_sum),
            "serious_sum_exact": _exact(self.serious_sum),
            "especially_sum": _shown(self.especially_sum),
            "especially_sum_exact": _exact(self.especially_sum),
            "illegal_gains_yuan": _money(self.illegal_gains_yuan),
            "gains_serious_threshold": _money(self.gains_serious_threshold),
            "gains_especially_threshold": _money(self.gains_especially_threshold),
            "business_profit_yuan": _money(self.business_profit_yuan),
            "profit_threshold": _money(self.profit_threshold),
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    """The decision: a severity, the reasons with their clauses, the sums, and the caveats."""

    severity: Severity
    reasons: tuple[Reason, ...]
    arithmetic: Arithmetic
    notes: tuple[Note, ...]
    case: LegalCase

    @property
    def clauses(self) -> tuple[Clause, ...]:
        """Each clause a reason rests on, once, in the order the reasons name them."""
        seen: dict[str, Clause] = {}
        for reason in self.reasons:
            for clause_id in (reason.clause_id, *reason.cites):
                seen.setdefault(clause_id, clause(clause_id))
        return tuple(seen.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "interpretation": {"zh": INTERPRETATION_ZH, "en": INTERPRETATION_EN},
            "severity": self.severity.value,
            "severity_zh": self.severity.zh,
            "clauses": [c.as_dict() for c in self.clauses],
            "reasons": [r.as_dict() for r in self.reasons],
            "arithmetic": self.arithmetic.as_dict(),
            "notes": [n.as_dict() for n in self.notes],
            "input": self.case.as_dict(),
        }


def assess(case: LegalCase) -> Assessment:
    """Apply Art. 5, 6 and 11 to a case; pure, so the leak report and the CLI agree."""
    halved = case.obtained_in_duties
    lines = tuple(_line(category, count, case) for category, count in _ordered(case.records))
    art5_lines = [line for line in lines if line.route == "art5"]
    totals = tuple(
        (tier, sum(line.count.counted for line in art5_lines if TIER_OF[line.category] is tier))
        for tier in TIERS
    )
    serious_sum = sum((s for line in art5_lines if (s := line.serious_share)), Fraction(0))
    especially_sum = sum((s for line in art5_lines if (s := line.especially_share)), Fraction(0))
    gains_serious = GAINS_STANDARD / 2 if halved else GAINS_STANDARD
    gains_especially = gains_serious * TIMES_FOR_ESPECIALLY_SERIOUS
    arithmetic = Arithmetic(
        halved=halved,
        lines=lines,
        tier_totals=totals,
        serious_sum=serious_sum,
        especially_sum=especially_sum,
        illegal_gains_yuan=case.illegal_gains_yuan,
        gains_serious_threshold=gains_serious,
        gains_especially_threshold=gains_especially,
        business_profit_yuan=case.business_profit_yuan,
        profit_threshold=PROFIT_STANDARD if case.lawful_business_purchase else None,
    )
    reasons = (
        _fact_reasons(case, art5_lines)
        + _quantity_reasons(arithmetic)
        + _gains_reasons(arithmetic)
        + _art6_reasons(case)
    )
    severity = max((r.severity for r in reasons), key=lambda s: s.rank, default=Severity.NONE)
    return Assessment(severity, tuple(reasons), arithmetic, _notes(case, reasons), case)


def _ordered(records: Mapping[Category, Count]) -> list[tuple[Category, Count]]:
    order = list(Category)
    return sorted(records.items(), key=lambda item: order.index(item[0]))


def _serious_threshold(tier: Tier, halved: bool) -> int:
    return tier.standard // 2 if halved else tier.standard


def _especially_threshold(tier: Tier, halved: bool) -> int:
    return _serious_threshold(tier, halved) * TIMES_FOR_ESPECIALLY_SERIOUS


def _line(category: Category, count: Count, case: LegalCase) -> Line:
    tier = TIER_OF[category]
    if case.lawful_business_purchase and tier is TIER_5:
        return Line(category, count, "art6", None, None)
    halved = case.obtained_in_duties
    return Line(
        category,
        count,
        "art5",
        _serious_threshold(tier, halved),
        _especially_threshold(tier, halved),
    )


def _share(counted: int, threshold: int | None) -> Fraction | None:
    return None if threshold is None else Fraction(counted, threshold)


def _shown(value: Fraction | None) -> float | None:
    """Rounded down to four places, so a share below one never reads as 1.0."""
    if value is None:
        return None
    return math.floor(value * 10_000) / 10_000


def _exact(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _yuan(value: Decimal) -> str:
    """An amount for a sentence: exact, with thousands marked (8,000.5)."""
    return f"{value:,f}"


def _duty_cites(halved: bool, *cites: str) -> tuple[str, ...]:
    return ("art5.1.8", *cites) if halved else cites


def _fact_reasons(case: LegalCase, art5_lines: list[Line]) -> list[Reason]:
    reasons: list[Reason] = []
    if case.used_for_crime:
        reasons.append(
            Reason(
                "art5.1.1",
                Severity.SERIOUS,
                "trace information sold or provided was used by others to commit a crime",
                "出售或者提供的行踪轨迹信息被他人用于犯罪",
            )
        )
    if case.knew_buyer_criminal:
        reasons.append(
            Reason(
                "art5.1.2",
                Severity.SERIOUS,
                "sold or provided to someone known, or who should have been known, to use "
                "personal information for crimes",
                "知道或者应当知道他人利用公民个人信息实施犯罪，向其出售或者提供",
            )
        )
    if case.prior_conviction_or_recent_penalty and (
        not case.lawful_business_purchase or any(line.count.counted for line in art5_lines)
    ):
        reasons.append(
            Reason(
                "art5.1.9",
                Severity.SERIOUS,
                "did it again after a criminal punishment, or within two years of an "
                "administrative penalty, for infringing personal information",
                "曾因侵犯公民个人信息受过刑事处罚或者二年内受过行政处罚，又非法获取、出售或者提供",
            )
        )
    if case.severe_consequences:
        reasons.append(
            Reason(
                "art5.2.1",
                Severity.ESPECIALLY_SERIOUS,
                "caused a victim's death, serious injury, mental disorder, kidnapping or "
                "another severe consequence",
                "造成被害人死亡、重伤、精神失常或者被绑架等严重后果",
            )
        )
    if case.major_loss_or_bad_influence:
        reasons.append(
            Reason(
                "art5.2.2",
                Severity.ESPECIALLY_SERIOUS,
                "caused major economic loss or a vile social influence",
                "造成重大经济损失或者恶劣社会影响",
            )
        )
    return reasons


def _quantity_reasons(sums: Arithmetic) -> list[Reason]:
    reasons: list[Reason] = []
    halved = sums.halved
    half_en = " (half the standard: obtained while performing duties)" if halved else ""
    half_zh = "（履行职责或者提供服务过程中获得，标准减半）" if halved else ""
    any_serious = any_especially = False
    for tier, total in sums.tier_totals:
        threshold = _serious_threshold(tier, halved)
        if total >= threshold:
            any_serious = True
            primary, cites = ("art5.1.8", (tier.clause_id,)) if halved else (tier.clause_id, ())
            reasons.append(
                Reason(
                    primary,
                    Severity.SERIOUS,
                    f"{total:,} records of {tier.en} reach the standard of {threshold:,}{half_en}",
                    f"{tier.zh}{total:,}条，达到{threshold:,}条的标准{half_zh}",
                    cites,
                )
            )
        top = _especially_threshold(tier, halved)
        if total >= top:
            any_especially = True
            reasons.append(
                Reason(
                    "art5.2.3",
                    Severity.ESPECIALLY_SERIOUS,
                    f"{total:,} records of {tier.en} reach ten times the standard, "
                    f"{top:,}{half_en}",
                    f"{tier.zh}{total:,}条，达到标准的十倍{top:,}条{half_zh}",
                    _duty_cites(halved, tier.clause_id),
                )
            )
    if not any_serious and sums.serious_sum >= 1:
        reasons.append(
            Reason(
                "art5.1.8" if halved else "art5.1.6",
                Severity.SERIOUS,
                "no item's standard is reached alone, but the shares of the standards add up "
                f"to {sums.serious_sum} ≥ 1{half_en}",
                f"各项均未单独达到标准，但按相应比例合计为{sums.serious_sum}，达到1{half_zh}",
                ("art5.1.6",) if halved else (),
            )
        )
    if not any_especially and sums.especially_sum >= 1:
        reasons.append(
            Reason(
                "art5.2.3",
                Severity.ESPECIALLY_SERIOUS,
                "no item reaches ten times its standard alone, but the shares of ten times "
                f"the standards add up to {sums.especially_sum} ≥ 1{half_en}",
                f"各项均未单独达到标准的十倍，但按十倍标准的相应比例合计为"
                f"{sums.especially_sum}，达到1{half_zh}",
                _duty_cites(halved, "art5.1.6"),
            )
        )
    return reasons


def _gains_reasons(sums: Arithmetic) -> list[Reason]:
    gains = sums.illegal_gains_yuan
    if gains is None:
        return []
    halved = sums.halved
    half_en = " (half the standard: obtained while performing duties)" if halved else ""
    half_zh = "（履行职责或者提供服务过程中获得，标准减半）" if halved else ""
    shown = _yuan(gains)
    reasons: list[Reason] = []
    threshold = sums.gains_serious_threshold
    if gains >= threshold:
        primary, cites = ("art5.1.8", ("art5.1.7",)) if halved else ("art5.1.7", ())
        reasons.append(
            Reason(
                primary,
                Severity.SERIOUS,
                f"illegal gains of {shown} yuan reach the standard of {_yuan(threshold)} "
                f"yuan{half_en}",
                f"违法所得{shown}元，达到{_yuan(threshold)}元的标准{half_zh}",
                cites,
            )
        )
    top = sums.gains_especially_threshold
    if gains >= top:
        reasons.append(
            Reason(
                "art5.2.3",
                Severity.ESPECIALLY_SERIOUS,
                f"illegal gains of {shown} yuan reach ten times the standard, "
                f"{_yuan(top)} yuan{half_en}",
                f"违法所得{shown}元，达到标准的十倍{_yuan(top)}元{half_zh}",
                _duty_cites(halved, "art5.1.7"),
            )
        )
    return reasons


def _art6_reasons(case: LegalCase) -> list[Reason]:
    if not case.lawful_business_purchase:
        return []
    reasons: list[Reason] = []
    profit = case.business_profit_yuan
    if profit is not None and profit >= PROFIT_STANDARD:
        reasons.append(
            Reason(
                "art6.1.1",
                Severity.SERIOUS,
                f"a profit of {_yuan(profit)} yuan made with information bought for lawful "
                f"business reaches the standard of {_yuan(PROFIT_STANDARD)} yuan",
                f"利用为合法经营活动购买、收受的公民个人信息获利{_yuan(profit)}元，达到"
                f"{_yuan(PROFIT_STANDARD)}元的标准",
            )
        )
    if case.prior_conviction_or_recent_penalty:
        reasons.append(
            Reason(
                "art6.1.2",
                Severity.SERIOUS,
                "bought or received again after a criminal punishment, or within two years of "
                "an administrative penalty, for infringing personal information",
                "曾因侵犯公民个人信息受过刑事处罚或者二年内受过行政处罚，又非法购买、收受",
            )
        )
    return reasons


def _notes(case: LegalCase, reasons: list[Reason]) -> tuple[Note, ...]:
    notes = [
        Note(
            "art5.1",
            "The rules assume the conduct itself (illegally obtaining, selling or providing, in "
            "breach of state rules) is established; they measure only how serious it is.",
            "本评估以非法获取、出售或者提供公民个人信息的行为成立为前提，只判断情节。",
        ),
        Note(
            "art11.3",
            "Counts are the records seized; only records proven untrue or proven duplicated "
            "may come off. A plain number in the input is taken as already prepared that way "
            "(the forensic ingest deduplicates and reports what it excluded).",
            "条数按查获的数量直接认定，只有证据证明不真实或者重复的才可扣除；输入中的单个数字视为已按此"
            "计算（取证导入已去重并报告排除情况）。",
        ),
        Note(
            "art11.1",
            "Records obtained and then sold or provided must be counted once, not once for "
            "obtaining and again for selling.",
            "非法获取后又出售或者提供的，条数不重复计算。",
        ),
        Note(
            "art11.2",
            "The same records sold or provided to different buyers are counted once per buyer; "
            "add them up before assessing.",
            "向不同单位或者个人分别出售、提供同一信息的，条数累计计算，请先合计再评估。",
        ),
    ]
    excluded = {
        category: count
        for category, count in case.records.items()
        if count.proven_duplicate or count.proven_untrue
    }
    for category, count in _ordered(excluded):
        notes.append(
            Note(
                "art11.3",
                f"{category.value}: {count.seized:,} seized − {count.proven_duplicate:,} proven "
                f"duplicate − {count.proven_untrue:,} proven untrue = {count.counted:,} counted",
                f"{CATEGORY_ZH[category]}：查获{count.seized:,}条 − 证明重复{count.proven_duplicate:,}条"
                f" − 证明不真实{count.proven_untrue:,}条 = 认定{count.counted:,}条",
            )
        )
    ids = {r.clause_id for r in reasons} | {c for r in reasons for c in r.cites}
    if "art5.1.6" in ids:
        notes.append(
            Note(
                "art5.1.6",
                "Proportional combination: each category's count is divided by the standard "
                "of its item and the shares are added; a sum of one or more reaches the "
                "standard. The rule is the text of item 6; the sum of shares is how the "
                "Supreme People's Court Research Office's commentary and court practice read "
                "'added up in the corresponding proportions'.",
                "按相应比例合计：各类信息条数除以其所在项的标准后相加，合计达到1即达到标准。规则本身是第六项"
                "原文；比例相加的算法是最高人民法院研究室的理解与适用文章及司法实践对“按相应比例合计”的读法。",
            )
        )
    if case.used_for_crime and case.count(Category.TRACE) == 0:
        notes.append(
            Note(
                "art5.1.1",
                "Item 1 concerns trace (whereabouts) information; this case counts no trace "
                "records, so check that the fact is about trace information.",
                "第一项针对行踪轨迹信息；本案未计入行踪轨迹信息条数，请核实该事实确系行踪轨迹信息。",
            )
        )
    if case.lawful_business_purchase:
        notes.append(
            Note(
                "art6.1",
                "Bought or received for lawful business: general information is measured by "
                "Art. 6 (profit of 50,000 yuan, or a prior punishment), not by a quantity; Art. 6 "
                "sets no 'especially serious' tier. Information of Art. 5 para. 1 items 3 and 4 "
                "stays under Art. 5. If anything bought was sold or provided on, Art. 6 para. 2 "
                "applies Art. 5: assess without lawful_business_purchase.",
                "为合法经营活动而购买、收受：一般公民个人信息按第六条（获利五万元以上或曾受处罚）认定，不按"
                "条数；第六条未规定“情节特别严重”。第五条第一款第三项、第四项信息仍适用第五条。如将购买、"
                "收受的信息出售或者提供，依第六条第二款适用第五条，请去掉 lawful_business_purchase 重新评估。",
            )
        )
        notes.append(
            Note(
                "art6.1.3",
                "Other serious circumstances under Art. 6 are for the court to weigh.",
                "第六条“其他情节严重的情形”由法院综合判断，本工具不作认定。",
            )
        )
    notes.append(
        Note(
            "art5.1.10",
            "'Other serious' (para. 1 item 10) and 'other especially serious' (para. 2 item 4) "
            "circumstances are for the court to weigh; this tool decides only the clauses "
            "with a stated test.",
            "“其他情节严重的情形”（第一款第十项）和“其他情节特别严重的情形”（第二款第四项）由法院综合"
            "判断，本工具只判定有明确标准的条款。",
        )
    )
    return tuple(notes)
