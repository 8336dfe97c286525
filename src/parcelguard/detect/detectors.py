"""The batch detectors: small classes, each with its features, its reasons and its bars.

Each reads the :class:`~parcelguard.detect.frame.Frame` (accounts' days and histories) and
returns findings with reasons; none reads the ground truth, none does I/O. The bars below
were chosen on simulated worlds of seeds 11, 12, 2016 and 7 only (7 days, 1,000 staff,
10,000 waybills a day, every scenario) and are reported on other seeds and world sizes
(``docs/detection.md``): a bar tuned on the worlds it is judged on proves nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from parcelguard.detect.alerts import Finding, Reason, severity
from parcelguard.detect.frame import Frame, robust_z
from parcelguard.detect.holders import MAX_P, HolderLink, Holdings, link_holders


class Detector(Protocol):
    name: ClassVar[str]
    features: ClassVar[tuple[str, ...]]
    reasons: ClassVar[tuple[str, ...]]

    def find(self, frame: Frame) -> list[Finding]: ...


def _rows(table: Any, mask: Any) -> Iterator[Any]:
    yield from table[mask].itertuples(index=False)


def _findings(pairs: Sequence[tuple[str, Reason]], name: str) -> list[Finding]:
    by: dict[str, list[Reason]] = {}
    for account, reason in pairs:
        by.setdefault(account, []).append(reason)
    return [Finding(a, name, tuple(rs)) for a, rs in sorted(by.items())]


@dataclass(frozen=True, slots=True)
class PeerRule:
    """A count that must be at least ``floor`` and ``z`` robust deviations above peers."""

    feature: str
    code: str
    floor: float
    z: float
    evidence: str = "unexplained"
    text: str = ""
    with_unexplained: int = 0
    """Only on days (or histories) with at least this many unexplained reveals: a courier's
    heavy route or an agent's night ticket is work the workflow explains, and volume alone
    is no reason to suspect it (chosen on the tuning seeds, where honest couriers covering a
    colleague's route were the volume rules' only false alerts)."""


def _peer_rules(
    frame: Frame, rules: Sequence[PeerRule], *, history: bool
) -> list[tuple[str, Reason]]:
    table = frame.history if history else frame.days
    if len(table) == 0:
        return []
    by = ["group"] if history else ["group", "day"]
    window = frame.history_window if history else "P1D"
    out: list[tuple[str, Reason]] = []
    for rule in rules:
        z, median = robust_z(table, rule.feature, by)
        hit = (table[rule.feature] >= rule.floor) & (z >= rule.z)
        hit &= table["unexplained"] >= rule.with_unexplained
        for row, zz, med in zip(
            _rows(table, hit), z[hit].tolist(), median[hit].tolist(), strict=True
        ):
            day = frame.last_day if history else int(row.day)
            value = float(getattr(row, rule.feature))
            detail = (
                f"{rule.text or rule.feature}: {value:g} over {window} where peers "
                f"({row.group}) have a median of {med:g}; {zz:.1f} robust deviations above"
            )
            reason = Reason(
                rule.code, detail, value, med, window, severity(zz / rule.z), day, rule.evidence
            )
            out.append((str(row.employee_id), reason))
    return out


class ExplanationDetector:
    """Reveals that no workflow relation explains: the first question about any lookup."""

    name: ClassVar[str] = "explanation"
    features: ClassVar[tuple[str, ...]] = ("reveals", "unexplained")
    reasons: ClassVar[tuple[str, ...]] = ("unexplained_reveals", "unexplained_history")
    DAY = PeerRule(
        "unexplained", "unexplained_reveals", 5, 4, text="reveals without a workflow link"
    )
    HISTORY = PeerRule(
        "unexplained", "unexplained_history", 10, 4, text="reveals without a workflow link"
    )

    def find(self, frame: Frame) -> list[Finding]:
        pairs = _peer_rules(frame, [self.DAY], history=False)
        pairs += _peer_rules(frame, [self.HISTORY], history=True)
        return _findings(pairs, self.name)


GATE = 5
"""Unexplained reveals a day must hold before volume-like features count (PeerRule)."""


class BaselineDetector:
    """Deviation from the peer group, day by day and over the history, feature by feature."""

    name: ClassVar[str] = "baseline"
    DAY_RULES: ClassVar[tuple[PeerRule, ...]] = (
        PeerRule("reveals", "volume_above_peers", 60, 8, "reveal", "reveals", GATE),
        PeerRule(
            "distinct_waybills",
            "distinct_waybills_above_peers",
            60,
            8,
            "reveal",
            "distinct waybills revealed",
            GATE,
        ),
        PeerRule(
            "exports", "exports_above_peers", 20, 6, "reveal", "exports of recipient fields", GATE
        ),
        PeerRule(
            "off_shift",
            "off_shift_above_peers",
            10,
            6,
            "off_shift",
            "reveals outside 07:00-22:00",
            GATE,
        ),
        PeerRule(
            "remote",
            "remote_above_peers",
            10,
            6,
            "unexplained",
            "unexplained reveals of parcels to other provinces",
        ),
        PeerRule(
            "fresh",
            "fresh_above_peers",
            10,
            6,
            "unexplained",
            "unexplained reveals of parcels under two days old",
        ),
        PeerRule(
            "fresh_sensitive",
            "fresh_sensitive_above_peers",
            5,
            5,
            "fresh_sensitive",
            "unexplained reveals of fresh health, medicine or collectibles parcels",
        ),
    )
    HISTORY_RULES: ClassVar[tuple[PeerRule, ...]] = (
        PeerRule(
            "fresh_sensitive",
            "fresh_sensitive_history",
            5,
            5,
            "fresh_sensitive",
            "unexplained reveals of fresh health, medicine or collectibles parcels",
        ),
        PeerRule(
            "repeats",
            "repeated_lookups",
            3,
            4,
            "unexplained",
            "unexplained reveals of a parcel already looked up on an earlier day",
        ),
    )
    features: ClassVar[tuple[str, ...]] = tuple(
        sorted({r.feature for r in DAY_RULES + HISTORY_RULES})
    )
    reasons: ClassVar[tuple[str, ...]] = tuple(r.code for r in DAY_RULES + HISTORY_RULES)

    def find(self, frame: Frame) -> list[Finding]:
        pairs = _peer_rules(frame, self.DAY_RULES, history=False)
        pairs += _peer_rules(frame, self.HISTORY_RULES, history=True)
        return _findings(pairs, self.name)


class ListLookupDetector:
    """Lookups from a list: in sheet order, with no search or scan before, of one sender."""

    name: ClassVar[str] = "list_lookup"
    features: ClassVar[tuple[str, ...]] = ("pairs", "ascending", "untouched", "top_sender")
    reasons: ClassVar[tuple[str, ...]] = ("sheet_order", "no_prior_search", "sender_concentration")
    MIN_PAIRS = 20
    ASCENDING_SHARE = 0.8
    """Numbers in random order rise half the time; a sheet sorted by number, every time."""
    MIN_UNTOUCHED = 20
    UNTOUCHED_SHARE = 0.9
    MIN_SENDER = 20
    SENDER_SHARE = 0.5

    def find(self, frame: Frame) -> list[Finding]:
        d = frame.days
        if len(d) == 0:
            return []
        pairs: list[tuple[str, Reason]] = []
        share = d["ascending"] / d["pairs"].clip(lower=1)
        hit = (d["pairs"] >= self.MIN_PAIRS) & (share >= self.ASCENDING_SHARE)
        for row, s in zip(_rows(d, hit), share[hit].tolist(), strict=True):
            detail = (
                f"{s:.0%} of {row.pairs} consecutive unexplained reveals in ascending waybill "
                "order (a list sorted by number); random order gives about 50 %"
            )
            pairs.append((row.employee_id, Reason("sheet_order", detail, round(s, 3), 0.5, "P1D",
                                                  severity(s / self.ASCENDING_SHARE * 2 - 1), int(row.day))))  # fmt: skip
        untouched = d["untouched"] / d["reveals"].clip(lower=1)
        hit = (d["untouched"] >= self.MIN_UNTOUCHED) & (untouched >= self.UNTOUCHED_SHARE)
        for row, s in zip(_rows(d, hit), untouched[hit].tolist(), strict=True):
            detail = (
                f"{row.untouched} reveals ({s:.0%} of the day's) with no workflow link and no "
                "search or masked view of the parcel in the 10 minutes before"
            )
            pairs.append((row.employee_id, Reason("no_prior_search", detail, row.untouched, 0,
                                                  "P1D", severity(row.untouched / self.MIN_UNTOUCHED), int(row.day))))  # fmt: skip
        top = d["top_sender"] / d["unexplained"].clip(lower=1)
        hit = (d["top_sender"] >= self.MIN_SENDER) & (top >= self.SENDER_SHARE)
        for row, s in zip(_rows(d, hit), top[hit].tolist(), strict=True):
            detail = f"{row.top_sender} of {row.unexplained} unexplained reveals ({s:.0%}) of one sender's parcels"
            pairs.append((row.employee_id, Reason("sender_concentration", detail, row.top_sender,
                                                  0, "P1D", severity(s / self.SENDER_SHARE), int(row.day))))  # fmt: skip
        return _findings(pairs, self.name)


class SignalsDetector:
    """Other carriers' numbers, denials, new devices and networks at night, leavers, tickets."""

    name: ClassVar[str] = "signals"
    features: ClassVar[tuple[str, ...]] = (
        "foreign",
        "denied",
        "new_device",
        "new_ip",
        "night_logins",
        "off_shift",
        "left_day",
        "reveals",
        "fresh_sensitive_tickets",
    )
    reasons: ClassVar[tuple[str, ...]] = (
        "foreign_numbers",
        "denied_attempts",
        "new_device_at_night",
        "departing_volume",
        "tickets_on_fresh_sensitive",
    )
    MIN_FOREIGN = 5
    MIN_DENIED = 10
    DEPARTING_DAYS = 14
    """HR knows a resignation weeks ahead: the notice period is when the harvest happens."""
    DEPARTING_Z = 4.0
    TICKETS = PeerRule(
        "fresh_sensitive_tickets", "tickets_on_fresh_sensitive", 8, 5, "reveal",
        "tickets opened on fresh health or medicine parcels",
    )  # fmt: skip

    def find(self, frame: Frame) -> list[Finding]:
        d = frame.days
        if len(d) == 0:
            return []
        pairs: list[tuple[str, Reason]] = []
        for row in _rows(d, d["foreign"] >= self.MIN_FOREIGN):
            detail = f"{row.foreign} lookups of numbers that are not this carrier's waybills"
            pairs.append((row.employee_id, Reason("foreign_numbers", detail, row.foreign, 0, "P1D",
                                                  severity(row.foreign / self.MIN_FOREIGN), int(row.day), "foreign")))  # fmt: skip
        for row in _rows(d, d["denied"] >= self.MIN_DENIED):
            detail = f"{row.denied} denied lookups"
            pairs.append((row.employee_id, Reason("denied_attempts", detail, row.denied, 0, "P1D",
                                                  severity(row.denied / self.MIN_DENIED), int(row.day), "denied")))  # fmt: skip
        fresh = (d["new_device"] + d["new_ip"]) > 0
        night = (d["night_logins"] > 0) | (d["off_shift"] >= 10)
        for row in _rows(d, fresh & night):
            detail = (
                f"a device or network never seen for this account before, with "
                f"{row.night_logins} night logins and {row.off_shift} reveals off shift"
            )
            pairs.append((row.employee_id, Reason("new_device_at_night", detail, row.new_device + row.new_ip,
                                                  0, "P1D", severity(1 + row.off_shift / 20), int(row.day), "login")))  # fmt: skip
        z, median = robust_z(d, "reveals", ["group", "day"])
        leaving = d["left_day"].notna() & (d["left_day"] - d["day"] <= self.DEPARTING_DAYS)
        leaving &= d["left_day"] >= d["day"]
        hit = leaving & (z >= self.DEPARTING_Z) & (d["reveals"] >= 20)
        for row, zz, med in zip(_rows(d, hit), z[hit].tolist(), median[hit].tolist(), strict=True):
            detail = (
                f"{row.reveals} reveals with {int(row.left_day - row.day)} days left before the "
                f"last working day; peers ({row.group}) have a median of {med:g}"
            )
            pairs.append((row.employee_id, Reason("departing_volume", detail, row.reveals, med, "P1D",
                                                  severity(zz / self.DEPARTING_Z), int(row.day), "reveal")))  # fmt: skip
        pairs += _peer_rules(frame, [self.TICKETS], history=False)
        return _findings(pairs, self.name)


@dataclass(frozen=True, slots=True)
class HolderEvidence:
    """What the collusion detector needs from the pipelines (ids and counts only)."""

    holdings: Holdings
    asked: Mapping[str, frozenset[str]]
    """Per candidate revealer, the distinct waybills it revealed without a workflow link."""
    event_ids: Mapping[tuple[str, str], tuple[str, ...]]
    """(revealer, holder) -> the revealer's events of waybills that holder held."""


class CollusionDetector:
    """Harvester and revealer: whose parcels an account's unexplained lookups were.

    The link itself is :func:`parcelguard.detect.holders.link_holders` (binomial tail against
    the holder's share of the period's waybills); this class turns named links into a graph
    of pairs and alerts both ends, so the harvester who reveals nothing is named too.
    """

    name: ClassVar[str] = "collusion"
    features: ClassVar[tuple[str, ...]] = ("unexplained_waybills", "holdings")
    reasons: ClassVar[tuple[str, ...]] = ("revealed_one_holders_parcels", "holds_revealed_list")
    MIN_ASKED = 5
    WHOLE_LIST = 0.9
    """Share of the list one holder must hold here (holders.py asks 0.5): an honest courier
    of a big health sender holds much of any health-parcel lookup; a harvester's list is his
    own parcels, nearly all of it (chosen on the tuning seeds, where the case's harvester
    held 100 % and the honest pickup courier of a big sender 50-63 %)."""
    BIG_LIST = 20
    """With this many of the list held, a big holder is named without the lift bar: a
    courier who holds a third of all parcels is still not chance for 500 of 500."""

    def __init__(self, evidence: HolderEvidence | None = None) -> None:
        self.evidence = evidence

    def pairs(self) -> list[tuple[str, str, float, float, int, int, float]]:
        """(revealer, holder, lift, p, held, of, expected) for every named link."""
        if self.evidence is None:
            return []
        out = []
        for account, asked in sorted(self.evidence.asked.items()):
            if len(asked) < self.MIN_ASKED:
                continue
            finding = link_holders(account, asked, self.evidence.holdings)
            for link in finding.ranked:
                if not self._named(link):
                    continue
                out.append((account, link.holder_id, link.lift, link.p_value, link.held, link.of,
                            link.expected))  # fmt: skip
        return out

    def _named(self, link: HolderLink) -> bool:
        """holders.py's bars, with the whole-list share, and the lift waived for big lists."""
        whole = link.share >= self.WHOLE_LIST and link.p_value <= MAX_P
        return whole and (link.named or link.held >= self.BIG_LIST)

    def find(self, frame: Frame) -> list[Finding]:
        found: list[tuple[str, Reason]] = []
        groups = _components([(a, b) for a, b, *_ in self.pairs()])
        window = frame.history_window
        for revealer, holder, lift, p, held, of, expected in self.pairs():
            ids = self.evidence.event_ids.get((revealer, holder), ()) if self.evidence else ()
            group = groups[revealer]
            text = (
                f"{held} of {of} waybills revealed without a workflow link were held by "
                f"{holder} (chance gives {expected:.2f}; lift {lift:.0f}, p {p:.1e}); group {group}"
            )
            sev = severity(min(lift / 10.0, 5.0))
            found.append((revealer, Reason("revealed_one_holders_parcels", text, held, expected,
                                           window, sev, frame.last_day, "linked", ids)))  # fmt: skip
            text = (
                f"held {held} of the {of} waybills {revealer} revealed without a workflow link "
                f"(chance gives {expected:.2f}; lift {lift:.0f}, p {p:.1e}); group {group}"
            )
            found.append((holder, Reason("holds_revealed_list", text, held, expected, window, sev,
                                         frame.last_day, "linked", ids)))  # fmt: skip
        return _findings(found, self.name)


def _components(edges: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Connected groups of linked accounts, each named by its smallest member id."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in list(parent)}


def default_detectors(evidence: HolderEvidence | None) -> list[Detector]:
    return [
        ExplanationDetector(),
        BaselineDetector(),
        ListLookupDetector(),
        CollusionDetector(evidence),
        SignalsDetector(),
    ]


__all__ = [
    "BaselineDetector",
    "CollusionDetector",
    "Detector",
    "ExplanationDetector",
    "HolderEvidence",
    "ListLookupDetector",
    "PeerRule",
    "SignalsDetector",
    "default_detectors",
]
