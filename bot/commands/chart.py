"""The `chart` command (chat): read the history from the store, draw it, reply.

`chart [trend|countries|ranks] [N] [weeks]` answers with a `Reply` carrying the PNG as an
`Attachment`; every mistake gets a reply that shows a correct example, never a traceback.
The reply is not ephemeral: Slack cannot attach files to ephemeral messages, and a chart
someone asked for in a channel is usually meant for the channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from bot.config.file import Config
from bot.core.messages import Reply
from bot.core.model import Snapshot
from bot.core.text import T
from bot.i18n import DEFAULT, say
from bot.render.chart_attachments import chart_attachment
from bot.render.chart_pool import render_chart_async
from bot.render.charts import (
    DEFAULT_N,
    DEFAULT_WEEKS,
    KINDS,
    MAX_N,
    MAX_WEEKS,
    MIN_SNAPSHOTS,
    ChartError,
    ChartKind,
)
from bot.store.protocols import Store

USAGE = (
    "chart [trend|countries|ranks] [N] [weeks]: `trend` = tokens of the top N (default 5), "
    "`countries` = share by developer country (N countries, default 5), `ranks` = rank of "
    f"the top N (default 10), over the last `weeks` snapshots (default {DEFAULT_WEEKS})"
)
EXAMPLE = "chart trend 5 12"


@dataclass(frozen=True, slots=True)
class ChartRequest:
    """A parsed `chart` command: `n` None means the kind's default."""

    kind: ChartKind
    n: int | None = None
    weeks: int = DEFAULT_WEEKS


def parse_chart_args(args: Sequence[str]) -> ChartRequest:
    """Read `[kind] [N] [weeks]`; raise `ChartError` with a message that shows an example."""
    words = list(args)
    kind = "trend"
    if words and not words[0].lstrip("-").isdigit():
        kind = words.pop(0).lower()
        if kind not in KINDS:
            raise ChartError(
                T(
                    "unknown chart '%(kind)s': choose %(kinds)s, e.g. `%(example)s`",
                    kind=kind,
                    kinds=", ".join(KINDS),
                    example=EXAMPLE,
                )
            )
    if len(words) > 2:
        raise ChartError(
            T(
                "too many arguments: '%(extra)s'. Usage: %(usage)s",
                extra=" ".join(words[2:]),
                usage=USAGE,
            )
        )
    chart = cast(ChartKind, kind)
    example = f"chart {chart} {DEFAULT_N[chart]} {DEFAULT_WEEKS}"
    n = _number(words[0], "N", 1, MAX_N, example) if words else None
    weeks = DEFAULT_WEEKS
    if len(words) > 1:
        weeks = _number(words[1], "weeks", MIN_SNAPSHOTS, MAX_WEEKS, example)
    return ChartRequest(kind=chart, n=n, weeks=weeks)


async def chart_reply(
    args: list[str],
    store: Store,
    config: Config,
    *,
    source: str = "openrouter",
    period: str = "week",
    lang: str = DEFAULT,
) -> Reply:
    """Answer `chart …`: the store read answers from memory, the drawing happens in the chart
    worker process (`bot.render.chart_pool`), so the event loop stays free."""
    try:
        request = parse_chart_args(args)
        history = await store.history.snapshots(source, period, last=request.weeks)
        png = await render_chart_async(
            request.kind,
            history,
            n=request.n,
            weeks=request.weeks,
            countries=config.countries,
            lang=lang,
        )
    except ChartError as exc:
        return _error(exc, lang)
    return _reply(request, history, png, config, lang)


def _reply(
    request: ChartRequest, history: list[Snapshot], png: bytes, config: Config, lang: str
) -> Reply:
    attachment = chart_attachment(
        request.kind, history, png, countries=config.countries, n=request.n, lang=lang
    )
    latest = history[-1]
    lines = [attachment.title]
    if latest.attribution:
        lines.append(latest.attribution)
    data: dict[str, Any] = {
        "kind": request.kind,
        "n": request.n,
        "weeks": request.weeks,
        "snapshots": len(history),
        "source": latest.source,
        "period": latest.period,
        "as_of": latest.as_of.isoformat(),
    }
    return Reply(
        text="\n".join(lines),
        view="chart",
        data=data,
        ephemeral=False,
        attachments=(attachment,),
    )


def _error(exc: ChartError, lang: str) -> Reply:
    text = say(exc.text, lang)
    return Reply(
        text=text[:1].upper() + text[1:],
        view="error",
        data={"usage": USAGE, "example": EXAMPLE},
        ok=False,
    )


def _number(word: str, what: str, lo: int, hi: int, example: str) -> int:
    try:
        value = int(word)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ChartError(
            T(
                "%(what)s must be a whole number from %(lo)s to %(hi)s, got '%(word)s', "
                "e.g. `%(example)s`",
                what=what,
                lo=lo,
                hi=hi,
                word=word,
                example=example,
            )
        )
    return value
