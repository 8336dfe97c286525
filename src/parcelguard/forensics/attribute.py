"""Attribute a leak's matched records to the accounts that revealed them, from the audit log.

A leaked record is a matched person (a real one; canaries are reported apart). An account
*explains* it when, before the file first appeared, the audit log holds an allowed
``reveal`` or ``export`` of the phone (or of the whole record) of one of the person's
matched waybills by that account, in a form that hands out the phone:

* ``plaintext``: explains a match on the real phone;
* ``virtual_number``: a virtual number is not the phone, so it explains only a match on that
  virtual number, and there the binding itself names the employee it was issued to (the
  strongest evidence: the number in the file was never given to anyone else);
* ``masked`` explains nothing: the phone never left.

The form is that of the entry's policies (``policy_id``, read from the installation's and the
legacy policy files); an entry that records no known policy (imported history, the
simulator) is taken as plaintext, because the log then cannot show the phone did not leave.

Accounts are ranked by the records they *alone* explain (no other account revealed any of
that person's matched waybills), then by the records they explain at all. Shares are of the
real matched persons; the uncertainty is the Wilson score interval at 95 %: the file is
taken as a sample of what was leaked, records as independent draws, and the interval says
how far the share in the whole leak may lie from the share in the file. (Wilson rather than
the normal approximation because shares near 0 and 1 and small files are common; a
bootstrap over records gives the same interval for a proportion and costs more.) A *source*
is named when it alone explains at least 3 records and at least 1 % of them: below that an
honest courier who once called a person in the file would be named.

For each account the evidence is the sequence numbers of the entries (and the virtual-number
bindings) that explain its records, for ``parcelguard audit bundle`` and
:func:`parcelguard.audit.evidence.build_bundle` to prove against a signed checkpoint.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NamedTuple

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parcelguard.audit.entry import EntryError, decode_entry
from parcelguard.audit.stored import LogIntegrityError
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
from parcelguard.forensics.case import CaseDir
from parcelguard.forensics.match import Matches, MatchReport, find_matches, first_seen_of, summarise
from parcelguard.storage.bulk import driver_rows, rows_by_keys
from parcelguard.storage.schema import audit_entries
from parcelguard.vault.blind_index import BlindIndexer

Z95: Final = 1.959963984540054
MIN_SOURCE_RECORDS: Final = 3
MIN_SOURCE_SHARE: Final = 0.01
REVEALING_ACTIONS: Final = frozenset({"reveal", "export"})
PHONE_FIELDS: Final = frozenset({"phone", ""})  # an export without a field is the whole record
FORMS: Final = ("virtual_number", "masked", "plaintext")
UNRECORDED: Final = "unrecorded"
_HEADER: Final = struct.Struct(">BQq")
_LOG_CHUNK: Final = 100_000


class Reveal(NamedTuple):
    """An allowed reveal of a matched waybill's phone, from the audit log (no value in it)."""

    seq: int
    time_us: int
    actor: str
    waybill_no: str
    form: str  # plaintext, virtual_number, masked, or unrecorded


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, trials: int, z: float = Z95) -> Interval:
    """The Wilson score interval of a proportion; (0, 1) when there are no trials."""
    if trials <= 0:
        return Interval(0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True, slots=True)
class AccountFinding:
    employee_id: str
    role: str | None
    site_id: str | None
    revealed: int  # matched records this account explains (alone or not)
    alone: int  # matched records only this account explains
    records: int  # the real matched records the shares are of
    source: bool
    evidence_sequences: tuple[int, ...]
    vnum_bindings: tuple[int, ...]
    canary_waybills: tuple[str, ...]

    @property
    def alone_share(self) -> float:
        return self.alone / self.records if self.records else 0.0

    @property
    def share(self) -> float:
        return self.revealed / self.records if self.records else 0.0

    def as_dict(self) -> dict[str, object]:
        alone = wilson(self.alone, self.records)
        share = wilson(self.revealed, self.records)
        return {
            "employee_id": self.employee_id,
            "role": self.role,
            "site_id": self.site_id,
            "revealed": self.revealed,
            "alone": self.alone,
            "alone_share": round(self.alone_share, 6),
            "alone_share_low": round(alone.low, 6),
            "alone_share_high": round(alone.high, 6),
            "share": round(self.share, 6),
            "share_low": round(share.low, 6),
            "share_high": round(share.high, 6),
            "source": self.source,
            "evidence_sequences": list(self.evidence_sequences),
            "vnum_bindings": list(self.vnum_bindings),
            "canary_waybills": list(self.canary_waybills),
        }


@dataclass(frozen=True, slots=True)
class CanaryFinding:
    """A canary in the file: the slice it leaked from, and who in the log touched it."""

    waybill_no: str
    slice_kind: str
    slice_value: str
    revealed_by: tuple[str, ...]
    """Accounts handed what the file holds of it: its phone in plaintext (or in a form the
    log did not record), or the virtual number the file holds."""
    evidence_sequences: tuple[int, ...]
    slice_accounts: tuple[str, ...]  # for a station slice: the accounts at that station
    viewed_by: tuple[str, ...] = ()
    """Accounts handed only a form that cannot be the file's source: the masked form, or a
    virtual number when the file holds the real phone. Routine for a slice's own staff (a
    station clerk calls a held parcel's recipient through one), so listed, not ranked."""

    def as_dict(self) -> dict[str, object]:
        return {
            "waybill_no": self.waybill_no,
            "slice_kind": self.slice_kind,
            "slice_value": self.slice_value,
            "revealed_by": list(self.revealed_by),
            "evidence_sequences": list(self.evidence_sequences),
            "slice_accounts": list(self.slice_accounts),
            "viewed_by": list(self.viewed_by),
        }


@dataclass(frozen=True, slots=True)
class Attribution:
    records: int
    explained: int
    unexplained: int
    accounts: tuple[AccountFinding, ...]  # ranked
    canaries: tuple[CanaryFinding, ...]
    first_seen: datetime
    log_size: int
    reveals_read: int

    @property
    def sources(self) -> tuple[AccountFinding, ...]:
        return tuple(account for account in self.accounts if account.source)

    def as_dict(self) -> dict[str, object]:
        gone = wilson(self.unexplained, self.records)
        return {
            "records": self.records,
            "explained": self.explained,
            "unexplained": self.unexplained,
            "unexplained_share": round(self.unexplained / self.records, 6)
            if self.records
            else None,
            "unexplained_share_low": round(gone.low, 6),
            "unexplained_share_high": round(gone.high, 6),
            "sources": [account.employee_id for account in self.sources],
            "accounts": [account.as_dict() for account in self.accounts],
            "canaries": [canary.as_dict() for canary in self.canaries],
            "first_seen": self.first_seen.isoformat(),
            "log_size": self.log_size,
            "reveals_read": self.reveals_read,
            "interval": "wilson-95",
            "source_rule": {"min_records": MIN_SOURCE_RECORDS, "min_share": MIN_SOURCE_SHARE},
        }


# -- the pure part -------------------------------------------------------------------------


def form_of(policy_id: str, forms: Mapping[str, str | None]) -> str:
    """The form an entry's policies handed out: the least revealing of the known ones."""
    known = [forms.get(part) for part in policy_id.split("+") if part]
    found = [form for form in known if form in FORMS]
    if not found:
        return UNRECORDED
    return min(found, key=FORMS.index)


def attribute(
    matches: Matches,
    reveals: Sequence[Reveal],
    employees: Mapping[str, tuple[str, str]],
    *,
    log_size: int = 0,
    slice_staff: Mapping[str, Sequence[str]] | None = None,
) -> Attribution:
    """Who explains which matched records; pure (the log and the store are read elsewhere).

    ``employees``: employee id → (role, site); ``slice_staff``: site id → the accounts
    there, for station canaries.
    """
    real = matches.real()
    records = real.get_column("person_id").n_unique()
    frame = _reveals_frame(reveals)
    phone = frame.filter(pl.col("form").is_in(["plaintext", UNRECORDED]))
    by_phone = (
        real.filter(pl.col("kind") != "virtual_number")
        .select("person_id", "waybill_no")
        .join(phone.select("waybill_no", "actor", "seq"), on="waybill_no")
        .select("person_id", "actor", "seq", pl.lit(None, dtype=pl.Int64).alias("binding"))
    )
    vnum_reveals = frame.filter(pl.col("form").is_in(["virtual_number", UNRECORDED]))
    by_vnum = (
        real.filter(pl.col("kind") == "virtual_number")
        .select("person_id", "waybill_no", pl.col("vnum_employee").alias("actor"), "vnum_binding")
        .join(
            vnum_reveals.select("waybill_no", "actor", "seq"),
            on=["waybill_no", "actor"],
            how="left",
        )
        .select("person_id", "actor", "seq", pl.col("vnum_binding").alias("binding"))
    )
    explains = pl.concat([by_phone, by_vnum])
    per_person = explains.group_by("person_id").agg(pl.col("actor").n_unique().alias("n"))
    per_actor = (
        explains.join(per_person, on="person_id")
        .group_by("actor")
        .agg(
            pl.col("person_id").n_unique().alias("revealed"),
            pl.col("person_id").filter(pl.col("n") == 1).n_unique().alias("alone"),
            pl.col("seq").drop_nulls().unique().sort().alias("seqs"),
            pl.col("binding").drop_nulls().unique().sort().alias("bindings"),
        )
    )
    canaries = _canary_findings(matches, frame, slice_staff or {})
    touched: dict[str, list[str]] = {}
    for canary in canaries:
        for actor in canary.revealed_by:
            touched.setdefault(actor, []).append(canary.waybill_no)
    threshold = max(MIN_SOURCE_RECORDS, math.ceil(MIN_SOURCE_SHARE * records))
    accounts = [
        AccountFinding(
            employee_id=str(actor),
            role=employees.get(str(actor), (None, None))[0],
            site_id=employees.get(str(actor), (None, None))[1],
            revealed=int(revealed),
            alone=int(alone),
            records=records,
            source=int(alone) >= threshold,
            evidence_sequences=tuple(int(s) for s in seqs),
            vnum_bindings=tuple(int(b) for b in bindings),
            canary_waybills=tuple(sorted(touched.pop(str(actor), []))),
        )
        for actor, revealed, alone, seqs, bindings in per_actor.iter_rows()
    ]
    # Accounts that touched a canary and explain no real record still belong in the ranking.
    accounts += [
        AccountFinding(
            employee_id=actor,
            role=employees.get(actor, (None, None))[0],
            site_id=employees.get(actor, (None, None))[1],
            revealed=0,
            alone=0,
            records=records,
            source=False,
            evidence_sequences=tuple(
                sorted(
                    {s for c in canaries if actor in c.revealed_by for s in c.evidence_sequences}
                )
            ),
            vnum_bindings=(),
            canary_waybills=tuple(sorted(waybills)),
        )
        for actor, waybills in touched.items()
    ]
    accounts.sort(key=lambda a: (-a.alone, -a.revealed, -len(a.canary_waybills), a.employee_id))
    explained = per_person.height
    return Attribution(
        records=records,
        explained=explained,
        unexplained=records - explained,
        accounts=tuple(accounts),
        canaries=canaries,
        first_seen=matches.first_seen,
        log_size=log_size,
        reveals_read=len(reveals),
    )


def _reveals_frame(reveals: Sequence[Reveal]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "seq": [r.seq for r in reveals],
            "actor": [r.actor for r in reveals],
            "waybill_no": [r.waybill_no for r in reveals],
            "form": [r.form for r in reveals],
        },
        schema={"seq": pl.Int64, "actor": pl.String, "waybill_no": pl.String, "form": pl.String},
    )


def _canary_findings(
    matches: Matches, frame: pl.DataFrame, slice_staff: Mapping[str, Sequence[str]]
) -> tuple[CanaryFinding, ...]:
    pairs = matches.canary()
    by_vnum = set(
        pairs.filter(pl.col("kind") == "virtual_number").get_column("waybill_no").to_list()
    )
    hits = pairs.unique("waybill_no").sort("waybill_no")
    found = []
    for waybill_no, kind, value in hits.select(
        "waybill_no", "canary_kind", "canary_value"
    ).iter_rows():
        touched = frame.filter(pl.col("waybill_no") == waybill_no)
        sources = ["plaintext", UNRECORDED]
        if waybill_no in by_vnum:  # the file holds a virtual number bound to it
            sources.append("virtual_number")
        theirs = touched.filter(pl.col("form").is_in(sources))
        viewed = set(touched.filter(~pl.col("form").is_in(sources)).get_column("actor").to_list())
        found.append(
            CanaryFinding(
                waybill_no=str(waybill_no),
                slice_kind=str(kind),
                slice_value=str(value),
                revealed_by=tuple(sorted(set(theirs.get_column("actor").to_list()))),
                evidence_sequences=tuple(sorted(theirs.get_column("seq").to_list())),
                slice_accounts=tuple(sorted(slice_staff.get(str(value), ())))
                if kind == "station"
                else (),
                viewed_by=tuple(sorted(viewed - set(theirs.get_column("actor").to_list()))),
            )
        )
    return tuple(found)


# -- reading the store and the log (the edge) -----------------------------------------------


def policy_forms(directories: Iterable[Path]) -> dict[str, str | None]:
    """Policy id → the form it hands out, from every policy directory that exists."""
    from parcelguard.reveal.engine import PolicyEngine

    forms: dict[str, str | None] = {}
    for directory in directories:
        if directory.is_dir() and any(directory.glob("*.cedar")):
            for info in PolicyEngine.load(directory).policies.values():
                forms[info.policy_id] = info.form
    return forms


@contextmanager
def snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """One read transaction (one state of the store and the log); rolled back, never written."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin() as transaction:
            try:
                yield conn
            finally:
                transaction.rollback()


def read_reveals(
    conn: sa.Connection,
    waybills: set[str],
    before: datetime,
    forms: Mapping[str, str | None],
    *,
    chunk: int = _LOG_CHUNK,
) -> tuple[list[Reveal], int]:
    """Allowed phone reveals of ``waybills`` before ``before``, and the log size read.

    The whole log is read by keyset pagination on ``seq`` (the waybill is inside the entry's
    bytes, not a column), but only the entries on a matched waybill are decoded in full: the
    time, action and waybill are read from the fixed framing first, which is most of the
    speed (bench/leak_match.py).
    """
    before_us = _micros(before)
    wanted = {w.encode("ascii") for w in waybills if w.isascii()}
    found: list[Reveal] = []
    size = _log_size(conn)
    query = (
        sa.select(audit_entries.c.seq, audit_entries.c.entry)
        .where(audit_entries.c.seq >= sa.bindparam("start"), audit_entries.c.seq < size)
        .order_by(audit_entries.c.seq)
        .limit(chunk)
    )
    start = 0
    while start < size:
        rows = conn.execute(query, {"start": start}).all()
        if not rows:
            raise LogIntegrityError(f"audit entry {start}: missing; run `parcelguard audit verify`")
        for seq, data in rows:
            candidate = _candidate(bytes(data), before_us, wanted)
            if candidate is None:
                continue
            try:
                entry = decode_entry(candidate)
            except EntryError as exc:
                raise LogIntegrityError(
                    f"audit entry {seq}: unreadable ({exc}); run `parcelguard audit verify`"
                ) from None
            if entry.decision != "allow" or entry.field not in PHONE_FIELDS:
                continue
            found.append(
                Reveal(
                    int(seq),
                    entry.time_us,
                    entry.actor,
                    entry.waybill_no,
                    form_of(entry.policy_id, forms),
                )
            )
        start = int(rows[-1][0]) + 1
    return found, size


def _candidate(data: bytes, before_us: int, wanted: set[bytes]) -> bytes | None:
    """The entry's bytes when its time, action and waybill make it worth decoding."""
    try:
        _, _, time_us = _HEADER.unpack_from(data)
        if time_us >= before_us:
            return None
        offset = _HEADER.size
        offset += 1 + data[offset]  # actor
        length = data[offset]
        action = data[offset + 1 : offset + 1 + length]
        offset += 1 + length
        length = data[offset]
        waybill = data[offset + 1 : offset + 1 + length]
    except (struct.error, IndexError):
        return data  # let the full decoder say what is wrong
    if action.decode("ascii", "replace") not in REVEALING_ACTIONS or waybill not in wanted:
        return None
    return data


def _log_size(conn: sa.Connection) -> int:
    ((last,),) = driver_rows(conn, "SELECT max(seq) FROM audit_entries")
    return 0 if last is None else int(last) + 1


def employees_of(conn: sa.Connection, ids: set[str]) -> dict[str, tuple[str, str]]:
    return {
        str(e): (str(role), str(site))
        for e, role, site in rows_by_keys(
            conn,
            "SELECT employee_id, role, site_id FROM employees WHERE employee_id IN ({keys})",
            ids,
        )
    }


def staff_at(conn: sa.Connection, sites: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for employee, site in rows_by_keys(
        conn, "SELECT employee_id, site_id FROM employees WHERE site_id IN ({keys})", sites
    ):
        found.setdefault(str(site), []).append(str(employee))
    return found


def attribute_in_store(
    conn: sa.Connection, matches: Matches, forms: Mapping[str, str | None]
) -> Attribution:
    """Read what attribution needs (the log's reveals, employees, canary slices) and attribute."""
    frame = pl.from_arrow(matches.pairs)
    assert isinstance(frame, pl.DataFrame)
    waybills = set(frame.get_column("waybill_no").unique().to_list())
    reveals, size = read_reveals(conn, waybills, matches.first_seen, forms)
    stations = set(
        frame.filter(pl.col("canary_kind") == "station").get_column("canary_value").to_list()
    )
    staff = staff_at(conn, stations) if stations else {}
    people = {r.actor for r in reveals} | set(
        frame.get_column("vnum_employee").drop_nulls().to_list()
    )
    return attribute(matches, reveals, employees_of(conn, people), log_size=size, slice_staff=staff)


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise BadInput("first_seen: give a time zone")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# -- the case: match, attribute, write match.json ---------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFindings:
    case: str
    match: MatchReport
    attribution: Attribution

    def as_dict(self) -> dict[str, object]:
        return {
            "case": self.case,
            "first_seen": self.match.first_seen.isoformat(),
            "match": self.match.as_dict(),
            "attribution": self.attribution.as_dict(),
        }


def match_case(settings_or_engine: Settings | Engine, case: CaseDir) -> CaseFindings:
    """Match the case's persons, attribute them, and write ``match.json`` (atomically).

    Given the installation's :class:`Settings`, numbers in the file's virtual-number column
    that no binding explains are also tried as phones (that needs the vault's index key),
    and the policy forms come from the installation's policy files; given a bare engine,
    they come from the packaged default and legacy policies.
    """
    from parcelguard.admin.initialise import LEGACY_POLICY_DIR
    from parcelguard.simulate.reference import province_names

    case.require()
    first_seen = first_seen_of(case)
    persons = case.read_persons()
    indexer: BlindIndexer | None = None
    if isinstance(settings_or_engine, Settings):
        from parcelguard.admin import key_provider
        from parcelguard.storage import connect_current
        from parcelguard.vault import keystore

        engine = connect_current(settings_or_engine.db_url)
        owned = True
        with engine.connect() as conn:
            indexer = BlindIndexer(keystore.load_index_key(conn, key_provider(settings_or_engine)))
        policy_dirs = [settings_or_engine.policy_dir, LEGACY_POLICY_DIR]
    else:
        engine, owned = settings_or_engine, False
        policy_dirs = [_PACKAGED_POLICIES, LEGACY_POLICY_DIR]
    try:
        forms = policy_forms(policy_dirs)
        with snapshot(engine) as conn:
            matches = find_matches(conn, persons, first_seen, indexer=indexer)
            attribution = attribute_in_store(conn, matches, forms)
    finally:
        if owned:
            engine.dispose()
    findings = CaseFindings(case.name, summarise(matches, province_names()), attribution)
    case.write_json(case.match_file, findings.as_dict())
    return findings


_PACKAGED_POLICIES: Final = Path(__file__).resolve().parent.parent / "reveal" / "policies"
