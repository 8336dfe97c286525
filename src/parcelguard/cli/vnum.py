"""``parcelguard vnum``: provision the pool, route a call, and attribute a leaked number.

Every command reads the store through ``Settings.from_env()`` and prints ids, virtual numbers
and reasons only: no command here can print a recipient's phone, because none of them asks
for it (routing decides; the telephony side fetches the phone, and only for a connected call).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from parcelguard.cli.output import Render, finish
from parcelguard.i18n import pick_language

if TYPE_CHECKING:
    from parcelguard.vnum.pool import VirtualNumbers

app = typer.Typer(
    help="Virtual numbers: provision, route, recycle, attribute. 隐私号：号码池、路由、回收、溯源。",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh or en (default: locale).")]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", help="The moment, ISO 8601 with an offset (default: now). 时间点。"),
]
_EXAMPLE_TIME = "2026-11-24T09:30:00+08:00"

_LABELS = {
    "connected": ("connected", "已接通"),
    "not_connected": ("not connected", "未接通"),
    "nobody": ("nobody held this number at that moment", "该时刻此号码未绑定任何人"),
    "unknown": ("not a number of the pool", "不是号码池中的号码"),
    "no_history": ("never bound", "从未绑定"),
    "released": ("released", "已释放"),
}


def _label(key: str, lang: str) -> str:
    english, chinese = _LABELS[key]
    return chinese if lang == "zh" else english


@contextmanager
def _numbers(reserved: Sequence[str] = ()) -> Iterator[VirtualNumbers]:
    from parcelguard.config import Settings
    from parcelguard.storage import connect_current
    from parcelguard.vnum.config import VnumConfig
    from parcelguard.vnum.pool import VirtualNumbers

    settings = Settings.from_env()
    config = VnumConfig.from_env()
    with VirtualNumbers(
        connect_current(settings.db_url),
        quarantine=config.quarantine,
        prefixes=config.prefixes,
        reserved=reserved,
    ) as numbers:
        yield numbers


def _draw(
    prefix: str, count: int, seed: int, allowed: Sequence[str], reserved: Sequence[str]
) -> list[str]:
    """``count`` numbers under ``prefix`` outside the ``reserved`` (canary) blocks, seeded.

    Why draw around the blocks rather than refuse: the default prefix is a whole range
    (``170``) and a canary block sits inside it, so a plain draw would nearly always hit one.
    The same arguments give the same numbers, so reruns stay idempotent.
    """
    from parcelguard.core.errors import BadInput
    from parcelguard.vnum.numbers import DIGITS, InvalidVirtualNumber, pool_numbers

    option = "--prefix/--count"
    block = next((r for r in reserved if prefix.startswith(r)), None)
    if block is not None:
        raise BadInput(
            f"--prefix {prefix}: inside the canary block {block} (PARCELGUARD_CANARY_PREFIXES), "
            "which is never provisioned"
        )
    inside = {r for r in reserved if r.startswith(prefix)}
    inside = {r for r in inside if not any(r != o and r.startswith(o) for o in inside)}
    room = 10 ** (DIGITS - len(prefix))
    free = room - sum(10 ** (DIGITS - len(r)) for r in inside)
    if count > free:
        raise BadInput(f"{option}: prefix {prefix} holds {free} numbers outside the canary blocks")
    wanted = count
    while True:
        try:
            drawn = list(pool_numbers(prefix, min(room, wanted), seed, allowed=allowed))
        except InvalidVirtualNumber as exc:
            raise BadInput(f"{option}: {exc}") from None
        kept = [n for n in drawn if not n.startswith(tuple(inside))] if inside else drawn
        if len(kept) >= count:
            return kept[:count]
        wanted = wanted * 2 + 64


def parse_moment(option: str, text: str | None) -> datetime:
    """An ISO 8601 time with its UTC offset; ``None`` is now. A naive time names no instant."""
    from parcelguard.core.clock import utc_now
    from parcelguard.core.errors import BadInput

    if text is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"{option} {text}: not an ISO 8601 time; write it like {_EXAMPLE_TIME}"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadInput(f"{option} {text}: give the UTC offset too, like {_EXAMPLE_TIME}")
    return moment


def _show(result: dict[str, object]) -> Render:
    def render(console: Console) -> None:
        for key, value in result.items():
            console.print(f"[bold]{key}[/]: {'' if value is None else value}", highlight=False)

    return render


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")  # minutes: wide enough to tell bindings apart
    return str(value)


@app.command("provision")
def provision_command(
    count: Annotated[int, typer.Option("--count", help="How many numbers to add. 数量。")],
    prefix: Annotated[
        str | None,
        typer.Option(
            "--prefix",
            help="Range to draw from, e.g. 1709 (default: the first configured prefix). 号段。",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Same seed, same numbers: reruns add nothing. 随机种子。")
    ] = 0,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Add COUNT numbers of a range to the pool (idempotent). 向号码池添加号码。"""

    def action() -> dict[str, object]:
        from parcelguard.core.clock import utc_now
        from parcelguard.forensics.canary import canary_prefixes

        reserved = canary_prefixes()
        with _numbers(reserved) as numbers:
            chosen = prefix if prefix is not None else numbers.prefixes[0]
            generated = _draw(chosen, count, seed, numbers.prefixes, reserved)
            result = numbers.provision(generated)
            return {
                "prefix": chosen,
                "seed": seed,
                "canary_blocks": list(reserved),
                **result.as_dict(),
                "pool": numbers.counts(utc_now()).as_dict(),
            }

    finish(json_mode, action, _show, pick_language(lang))


@app.command("route")
def route_command(
    number: Annotated[str, typer.Argument(help="The virtual number dialled. 被叫隐私号。")],
    device: Annotated[str, typer.Option("--device", help="The calling device's id. 主叫设备。")],
    at: AtOpt = None,
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Would a call to NUMBER from DEVICE go through, and why. 路由判定。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        moment = parse_moment("--at", at)
        with _numbers() as numbers:
            return numbers.route(number, device, moment).as_dict()

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            verdict = "connected" if result["connected"] else "not_connected"
            style = "green" if result["connected"] else "red"
            reason = result["reason_zh" if language == "zh" else "reason_en"]
            console.print(
                f"[bold {style}]{_label(verdict, language)}[/] ({result['reason']}): {reason}",
                highlight=False,
            )
            for key in ("number", "waybill_no", "employee_id", "bound_device_id", "valid_until"):
                if result.get(key) is not None:
                    console.print(f"  {key}: {result[key]}", highlight=False)

        return show

    finish(json_mode, action, render, language)


@app.command("who-had")
def who_had_command(
    number: Annotated[str, typer.Argument(help="A virtual number, e.g. from a leaked file.")],
    at: Annotated[
        str,
        typer.Option("--at", help="When it was seen, ISO 8601 with an offset. 发现时间。"),
    ],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Whom NUMBER was bound to at a moment: leak attribution. 某时刻号码绑定给谁（溯源）。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        moment = parse_moment("--at", at)
        with _numbers() as numbers:
            normalised = numbers.normalise(number)
            known = numbers.knows(normalised)
            binding = numbers.who_had(normalised, moment) if known else None
            return {
                "number": normalised,
                "at": moment,
                "known": known,
                "binding": None if binding is None else binding.as_dict(),
            }

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            binding = result["binding"]
            if not result["known"]:
                console.print(f"{result['number']}: {_label('unknown', language)}")
            elif not isinstance(binding, dict):
                console.print(f"{result['number']}: {_label('nobody', language)}")
            else:
                _show(binding)(console)

        return show

    finish(json_mode, action, render, language)


@app.command("history")
def history_command(
    number: Annotated[str, typer.Argument(help="A virtual number.")],
    json_mode: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Every binding NUMBER ever had, oldest first. 号码绑定历史。"""
    language = pick_language(lang)

    def action() -> dict[str, object]:
        with _numbers() as numbers:
            normalised = numbers.normalise(number)
            known = numbers.knows(normalised)
            bindings = numbers.history(normalised) if known else []
            return {
                "number": normalised,
                "known": known,
                "bindings": [binding.as_dict() for binding in bindings],
            }

    def render(result: dict[str, object]) -> Render:
        def show(console: Console) -> None:
            bindings = result["bindings"]
            if not result["known"]:
                console.print(f"{result['number']}: {_label('unknown', language)}")
                return
            if not isinstance(bindings, list) or not bindings:
                console.print(f"{result['number']}: {_label('no_history', language)}")
                return
            console.print(f"[bold]{result['number']}[/]", highlight=False)
            # One line per binding: waybill and employee ids must never be cut off.
            for b in bindings:
                released = b["released_at"]
                ended = (
                    ""
                    if released is None
                    else f"  {_label('released', language)} {_cell(released)}"
                )
                console.print(
                    f"  #{b['binding_id']} {b['waybill_no']} {b['employee_id']} "
                    f"{b['device_id']}  {_cell(b['bound_at'])} -> {_cell(b['valid_until'])}"
                    f"{ended}",
                    highlight=False,
                )

        return show

    finish(json_mode, action, render, language)


@app.command("expire")
def expire_command(at: AtOpt = None, json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """Release bindings past their validity; their numbers enter quarantine. 释放过期绑定。"""

    def action() -> dict[str, object]:
        moment = parse_moment("--at", at)
        with _numbers() as numbers:
            result = numbers.expire(moment)
            return {"at": moment, **result.as_dict(), "pool": numbers.counts(moment).as_dict()}

    finish(json_mode, action, _show, pick_language(lang))


@app.command("stats")
def stats_command(at: AtOpt = None, json_mode: JsonOpt = False, lang: LangOpt = None) -> None:
    """How many numbers are free, bound and in quarantine. 号码池统计。"""

    def action() -> dict[str, object]:
        moment = parse_moment("--at", at)
        with _numbers() as numbers:
            return {"at": moment, **numbers.counts(moment).as_dict()}

    finish(json_mode, action, _show, pick_language(lang))
