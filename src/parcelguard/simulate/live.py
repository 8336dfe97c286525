"""``parcelguard simulate live``: a whole world's reveals through the real door, in time order.

Why live rather than a replay of the simulator's decisions: those are the legacy regime's,
fixed in advance, so they cannot show what the door (and later its online guard) changes.
Here every reveal and export of the world is decided by the real :class:`RevealService` on a
scratch store holding the world (vault, workflow facts, virtual numbers), one batch per slice
of simulated time with the service's clock at the slice's end, so a denial or a suspension
in one slice changes what the insider does in the next (:mod:`.live_insiders`). The figures
are computed by :mod:`.live_report` from what the door decided, never from values.
"""

from __future__ import annotations

import base64
import multiprocessing
import multiprocessing.process
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from parcelguard.admin import initialise, key_provider, open_reveal_service
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
from parcelguard.reveal.facts import RevealRequest
from parcelguard.reveal.guard import Containments, GuardConfig, MemoryNotifier
from parcelguard.reveal.service import RevealDecision, RevealService
from parcelguard.simulate.into_store import put_world
from parcelguard.simulate.live_insiders import FIELDS, Insider
from parcelguard.simulate.live_report import (
    HonestTally,
    InsiderFigures,
    LiveReport,
    Outcome,
    insider_figures,
)
from parcelguard.simulate.run import simulate
from parcelguard.simulate.workflow import put_workflow
from parcelguard.simulate.world import US, WorldConfig
from parcelguard.vnum import VirtualNumbers
from parcelguard.vnum.numbers import pool_numbers

LIVE_REGIMES = ("legacy", "guarded")
Progress = Callable[[int, int], None]
"""Called after each slice with (world accesses replayed, world accesses in all)."""

_HONEST, _MALICIOUS, _OFF_DUTY = 0, 1, 2
"""Who sends a request: an honest account, an insider in their malicious window, an insider
account's ordinary work outside it."""
_OTHER_CALLER = "BUYER-PHONE"
"""A device that is not the holder's: what a buyer of a leaked number calls from."""


@dataclass(frozen=True, slots=True)
class _Label:
    employee_id: str
    scenario: str
    started_us: int
    ended_us: int


@dataclass(slots=True)
class _Sent:
    request: RevealRequest
    kind: int
    label: int  # index into the labels, or -1
    planned_us: int


@dataclass(slots=True)
class _Clock:
    """The service's clock, set to the end of each slice before its batch is decided."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass(slots=True)
class _Handed:
    """A virtual number handed out: who holds it, on which device, from when."""

    employee_id: str
    insider: bool
    waybill_no: str
    device_id: str
    number: str = field(repr=False)
    at: datetime


@dataclass(slots=True)
class _Accesses:
    """The world's reveals and exports as columns, in time order."""

    ts: list[int]
    employee: list[str]
    action: list[str]
    waybill: list[str]
    field_: list[str]
    purpose: list[str]
    channel: list[str]
    device: list[str]
    ip: list[str]
    event: list[str]

    @classmethod
    def of(cls, accesses: pa.Table) -> _Accesses:
        wanted = pc.is_in(accesses["action"], value_set=pa.array(["reveal", "export"]))
        rows = accesses.filter(wanted)
        rows = rows.take(pc.sort_indices(rows, [("ts", "ascending"), ("event_id", "ascending")]))

        def text(name: str, default: str) -> list[str]:
            return [default if v is None else str(v) for v in rows[name].to_pylist()]

        micros = pc.cast(rows["ts"], pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return cls(
            ts=micros.to_pylist(),
            employee=text("employee_id", ""),
            action=text("action", "reveal"),
            waybill=text("waybill_no", ""),
            field_=text("field", "phone"),
            purpose=text("purpose", "other"),
            channel=text("channel", "web"),
            device=text("device_id", ""),
            ip=text("ip", ""),
            event=text("event_id", ""),
        )


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // US, UTC) + timedelta(microseconds=micros % US)


def _labels(table: pa.Table) -> list[_Label]:
    def micros(moment: datetime) -> int:
        return int(moment.timestamp()) * US + moment.microsecond

    return [
        _Label(
            row["employee_id"], row["scenario"], micros(row["started_at"]), micros(row["ended_at"])
        )
        for row in table.to_pylist()
    ]


def _scratch_settings(folder: str) -> Settings:
    """A store of its own with a random KEK: the live run never touches an installation."""
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    return Settings.from_env({"PARCELGUARD_HOME": folder, "PARCELGUARD_KEK": kek})


SCRATCH_BYTES_PER_WAYBILL = 2_560
"""Room a world's scratch store takes per waybill (vault row, workflow facts, bindings, audit
entries and their tree), with a margin: measured 1.9 KiB (28 MiB for 15,000 waybills)."""


def scratch_root(waybills: int) -> str | None:
    """Where the scratch store goes: ``TMPDIR`` if set, else memory (``/dev/shm``) if it fits.

    Why memory: the store is deleted when the run ends, so what its commits wait for (the
    audit append's synchronous commit, every batch) protects nothing here, and on a shared
    virtual disk those waits were most of the replay's time (measured: 305 against 753
    decisions a second on the same world). The code path is the production one; only the
    disk under it is RAM. Without room in ``/dev/shm`` it is the system's temporary folder.
    """
    if os.environ.get("TMPDIR"):
        return None
    shm = "/dev/shm"  # noqa: S108 (a private TemporaryDirectory inside it)
    try:
        usage = shutil.disk_usage(shm)
    except OSError:
        return None
    # Room for two stores: `--regime both` runs its two regimes at the same time.
    fits = usage.free > 2 * SCRATCH_BYTES_PER_WAYBILL * max(waybills, 1) + (256 << 20)
    return shm if fits and os.access(shm, os.W_OK) else None


def check_regime(regime: str) -> str:
    if regime not in LIVE_REGIMES:
        raise BadInput(f"--regime {regime}: choose one of {', '.join(LIVE_REGIMES)}")
    return regime


def run_live(
    config: WorldConfig,
    scenarios: Sequence[str],
    regime: str,
    *,
    batch_seconds: int = 60,
    progress: Progress | None = None,
    tables: dict[str, pa.Table] | None = None,
    guard_config: Path | None = None,
) -> LiveReport:
    """Simulate ``config`` (or take its ``tables``) and decide its every reveal live.

    ``tables`` lets a caller running both regimes simulate the world once; they must be the
    world of ``config`` and ``scenarios``. ``guard_config`` is a ``guard.toml`` (say one
    ``parcelguard guard tune`` proposed from another world) installed in the scratch home,
    so a proposal is measured on a world it was not learned from.
    """
    check_regime(regime)
    if batch_seconds < 1:
        raise BadInput(f"--batch-seconds {batch_seconds}: must be at least 1")
    started = time.perf_counter()
    if guard_config is not None:
        if not guard_config.is_file():
            raise BadInput(f"--guard-config {guard_config}: no such file")
        GuardConfig.load(guard_config)  # refused before any work, naming the file
    if tables is None:
        tables = simulate_for_live(config, scenarios)
    root = scratch_root(tables["waybills"].num_rows)
    with tempfile.TemporaryDirectory(prefix="parcelguard-live-", dir=root) as scratch:
        settings = _scratch_settings(scratch)
        initialise(settings)
        if guard_config is not None:
            shutil.copyfile(guard_config, settings.guard_config_file)
        put_world(tables, config.seed, settings, key_provider(settings))
        accesses = _Accesses.of(tables["accesses"])
        first = _moment(accesses.ts[0]) if accesses.ts else datetime.now(UTC)
        clock = _Clock(first)
        # The run reports its containments itself; the guard's log lines would repeat them.
        service = open_reveal_service(
            settings, clock=clock, regime=regime, notifier=MemoryNotifier()
        )
        try:
            put_workflow(service.engine, tables)
            numbers = VirtualNumbers(service.engine)
            numbers.provision(
                pool_numbers("1709", int(tables["waybills"].num_rows * 1.2) + 20_000, config.seed)
            )
            setup = time.perf_counter() - started
            replay = _Replay(config, tables, accesses, batch_seconds)
            replay.run(service, clock, progress)
            replayed = time.perf_counter() - started - setup
            demo = _vnum_demo(numbers, replay.handed)
            size = sum(f.stat().st_size for f in Path(scratch).rglob("*") if f.is_file())
            alerts = [c.as_dict() for c in Containments(service.engine).history()]
        finally:
            service.engine.dispose()
    return LiveReport(
        regime=regime,
        seed=config.seed,
        days=config.days,
        employees=tables["employees"].num_rows,
        waybills=tables["waybills"].num_rows,
        scenarios=list(scenarios),
        batch_seconds=batch_seconds,
        insiders=replay.figures(),
        honest=replay.honest,
        decisions=replay.decisions,
        batches=replay.batches,
        setup_seconds=setup,
        replay_seconds=replayed,
        wall_seconds=time.perf_counter() - started,
        vnum_demo=demo,
        scratch="memory" if root else "disk",
        scratch_mib=size / 2**20,
        containments=alerts,
    )


RegimeProgress = Callable[[str, int, int], None]
"""Called with (regime, world accesses replayed, world accesses in all)."""


def run_live_regimes(
    config: WorldConfig,
    scenarios: Sequence[str],
    regimes: Sequence[str],
    *,
    batch_seconds: int = 60,
    progress: RegimeProgress | None = None,
    tables: dict[str, pa.Table] | None = None,
    guard_config: Path | None = None,
) -> dict[str, LiveReport]:
    """Several regimes on the same world at once: the first here, each other in a process.

    Why processes: the runs share nothing but the world (each has its own scratch store),
    and one Python process uses one core; on the 2-core machine both regimes take the wall
    time of the slower one instead of their sum. The child simulates the world again from
    the same seed and scenarios (the simulator is deterministic, and that is cheaper than
    pickling a month of tables), so both runs see the same world.
    """
    for regime in regimes:
        check_regime(regime)
    if not regimes:
        return {}
    context = multiprocessing.get_context("spawn")
    children: list[tuple[str, multiprocessing.process.BaseProcess, Connection]] = []
    for regime in regimes[1:]:
        mine, theirs = context.Pipe(duplex=False)
        child: multiprocessing.process.BaseProcess = context.Process(
            target=_run_in_child,
            args=(config, list(scenarios), regime, batch_seconds, guard_config, theirs),
            name=f"parcelguard-live-{regime}",
        )
        child.start()
        theirs.close()
        children.append((regime, child, mine))
    reports: dict[str, LiveReport] = {}
    pending: dict[str, tuple[multiprocessing.process.BaseProcess, Connection]] = {
        regime: (child, conn) for regime, child, conn in children
    }

    def relay(block: bool) -> None:
        for regime, (child, conn) in list(pending.items()):
            while block or conn.poll():
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    child.join()
                    del pending[regime]
                    raise RuntimeError(
                        f"the {regime} run stopped without a report (exit code {child.exitcode})"
                    ) from None
                if kind == "progress":
                    if progress is not None:
                        progress(regime, *payload)
                    continue
                child.join()
                del pending[regime]
                if kind == "error":
                    name, message = payload
                    if name == "BadInput":
                        raise BadInput(str(message))
                    raise RuntimeError(f"the {regime} run failed: {message}")
                reports[regime] = payload
                break

    first = regimes[0]

    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress(first, done, total)
        relay(block=False)

    try:
        reports[first] = run_live(
            config,
            scenarios,
            first,
            batch_seconds=batch_seconds,
            progress=tick,
            tables=tables,
            guard_config=guard_config,
        )
        relay(block=True)
    finally:
        for _, (child, _conn) in pending.items():
            child.kill()
            child.join()
    return {regime: reports[regime] for regime in regimes}


def _run_in_child(
    config: WorldConfig,
    scenarios: list[str],
    regime: str,
    batch_seconds: int,
    guard_config: Path | None,
    conn: Connection,
) -> None:
    """One regime's run in its own process; progress and the report go back over ``conn``."""
    last = [0.0]

    def tick(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:  # a few updates a second are plenty
            last[0] = now
            conn.send(("progress", (done, total)))

    try:
        report = run_live(
            config,
            scenarios,
            regime,
            batch_seconds=batch_seconds,
            progress=tick,
            guard_config=guard_config,
        )
    except BadInput as exc:
        conn.send(("error", ("BadInput", exc.message)))
    except Exception as exc:  # its text may quote values: only the type crosses
        conn.send(("error", ("", type(exc).__name__)))
    else:
        conn.send(("report", report))
    finally:
        conn.close()


def simulate_for_live(config: WorldConfig, scenarios: Sequence[str]) -> dict[str, pa.Table]:
    """The world, with a world too small for its scenarios named as the user's mistake."""
    try:
        return simulate(config, scenarios)
    except ValueError as exc:  # a scenario found no spare account of its role
        raise BadInput(f"--employees {config.employees}: {exc}") from None


class _Replay:
    """The world's accesses, slice by slice, through the service; insiders adapt."""

    def __init__(
        self,
        config: WorldConfig,
        tables: dict[str, pa.Table],
        accesses: _Accesses,
        batch_seconds: int,
    ) -> None:
        staff = tables["employees"]
        self.role = dict(
            zip(staff["employee_id"].to_pylist(), staff["role"].to_pylist(), strict=True)
        )
        self.labels = _labels(tables["labels"])
        accounts = sorted({label.employee_id for label in self.labels})
        streams = np.random.SeedSequence([config.seed, 5_318]).spawn(len(accounts))
        self.insiders = {
            account: Insider.drawn(account, self.role.get(account, "?"), np.random.default_rng(s))
            for account, s in zip(accounts, streams, strict=True)
        }
        self.windows: dict[str, list[int]] = {}
        for index, label in enumerate(self.labels):
            self.windows.setdefault(label.employee_id, []).append(index)
        self.accesses = accesses
        self.width = batch_seconds * US
        self.honest = HonestTally()
        self.outcomes: list[list[Outcome]] = [[] for _ in self.labels]
        self.planned = [0] * len(self.labels)
        self.contained_at: dict[str, datetime] = {}
        self.handed: list[_Handed] = []
        self.decisions = 0
        self.batches = 0
        self._retries = 0

    def run(self, service: RevealService, clock: _Clock, progress: Progress | None) -> None:
        a = self.accesses
        total = len(a.ts)
        if not total:
            return
        width = self.width
        origin = a.ts[0] - a.ts[0] % width  # slices end on round times: 10:05, not 10:04:37
        i = 0
        k = -1
        pending: list[_Sent] = []
        while i < total or pending:
            k = k + 1 if pending else (a.ts[i] - origin) // width
            batch, pending = pending, []
            while i < total and (a.ts[i] - origin) // width <= k:
                batch.extend(self._planned(i))
                i += 1
            if not batch:
                continue
            clock.now = _moment(origin + (k + 1) * width)
            decisions = service.reveal_batch([sent.request for sent in batch])
            self.decisions += len(decisions)
            self.batches += 1
            pending = self._learn(batch, decisions, clock.now)
            if progress is not None:
                progress(i, total)

    def _planned(self, i: int) -> list[_Sent]:
        """The requests access ``i`` makes, if its employee still makes it."""
        a = self.accesses
        actor, ts = a.employee[i], a.ts[i]
        fields = FIELDS if a.action[i] == "export" else (a.field_[i],)
        insider = self.insiders.get(actor)
        kind, label = _HONEST, -1
        if insider is not None:
            label = next(
                (
                    n
                    for n in self.windows[actor]
                    if self.labels[n].started_us <= ts <= self.labels[n].ended_us
                ),
                -1,
            )
            if label >= 0:
                kind = _MALICIOUS
                self.planned[label] += len(fields)
                if not insider.admit(len(fields)):
                    return []
            elif insider.contained:
                return []  # a suspended account does no ordinary work either
            else:
                kind = _OFF_DUTY
        several = len(fields) > 1
        return [
            _Sent(
                RevealRequest(
                    actor=actor,
                    waybill_no=a.waybill[i],
                    field=name,
                    purpose=a.purpose[i],
                    device_id=a.device[i],
                    channel=a.channel[i],
                    ip=a.ip[i],
                    request_id=f"{a.event[i]}.{name}" if several else a.event[i],
                ),
                kind,
                label,
                ts,
            )
            for name in fields
        ]

    def _learn(
        self, batch: list[_Sent], decisions: list[RevealDecision], now: datetime
    ) -> list[_Sent]:
        """Count the slice's decisions; the insiders' retries for the next slice."""
        feedback: dict[str, list[tuple[RevealRequest, bool, bool]]] = {}
        labels_of: dict[str, int] = {}
        for sent, decision in zip(batch, decisions, strict=True):
            actor = sent.request.actor
            if sent.kind == _HONEST:
                self.honest.add(actor, decision)
            else:
                outcome = Outcome.of(sent.request, decision, _moment(sent.planned_us), now)
                if outcome.contains:
                    self.contained_at.setdefault(actor, now)
                    self.insiders[actor].contained = True
                if sent.kind == _MALICIOUS:
                    self.outcomes[sent.label].append(outcome)
                    feedback.setdefault(actor, []).append(
                        (sent.request, decision.allowed, outcome.contains)
                    )
                    labels_of[actor] = sent.label
            if decision.allowed and decision.form == "virtual_number" and decision.value:
                self._keep_number(sent, decision, now)
        retries: list[_Sent] = []
        stamp = int(now.timestamp()) * US
        for actor, decided in feedback.items():
            for request in self.insiders[actor].learn(decided):
                self._retries += 1
                retry = RevealRequest(
                    actor=request.actor,
                    waybill_no=request.waybill_no,
                    field=request.field,
                    purpose=request.purpose,
                    device_id=request.device_id,
                    channel=request.channel,
                    ip=request.ip,
                    request_id=f"R{self._retries:09d}",
                )
                retries.append(_Sent(retry, _MALICIOUS, labels_of[actor], stamp))
        return retries

    def _keep_number(self, sent: _Sent, decision: RevealDecision, now: datetime) -> None:
        """Keep the first virtual number an insider got, and the first anybody got."""
        insider = sent.kind != _HONEST
        if any(h.insider for h in self.handed) or (self.handed and not insider):
            return
        request = sent.request
        self.handed = [
            _Handed(
                request.actor,
                insider,
                request.waybill_no,
                request.device_id,
                str(decision.value),
                now,
            )
        ]

    def figures(self) -> list[InsiderFigures]:
        return [
            insider_figures(
                label.employee_id,
                label.scenario,
                self.role.get(label.employee_id, "?"),
                _moment(label.started_us),
                self.planned[index],
                self.outcomes[index],
                self.contained_at.get(label.employee_id),
            )
            for index, label in enumerate(self.labels)
        ]


def _vnum_demo(numbers: VirtualNumbers, handed: list[_Handed]) -> dict[str, object] | None:
    """Why a virtual number is no leaked record: it rings only from the holder's device."""
    if not handed:
        return None
    first = handed[0]
    own = numbers.route(first.number, first.device_id, first.at)
    other = numbers.route(first.number, _OTHER_CALLER, first.at)
    return {
        "holder": first.employee_id,
        "holder_is_insider": first.insider,
        "waybill_no": first.waybill_no,
        "from_holder_device": {
            "device_id": first.device_id,
            "connected": own.connected,
            "reason": own.reason,
        },
        "from_other_device": {
            "device_id": _OTHER_CALLER,
            "connected": other.connected,
            "reason": other.reason,
        },
    }


__all__ = [
    "LIVE_REGIMES",
    "Progress",
    "RegimeProgress",
    "check_regime",
    "run_live",
    "run_live_regimes",
    "simulate_for_live",
]
