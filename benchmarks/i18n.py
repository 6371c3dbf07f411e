"""Figures for speaking a language: what Babel and gettext cost when rendering alerts.

Run: .venv/bin/python benchmarks/i18n.py
Prints (1) the time of one compact token figure through Babel (`compact_tokens`) against the
hand-made T/B/M/K table it replaced (the baseline, inlined here), and (2) rendering one
grouped alert of the events between two 400-entry snapshots in English (the baseline) and in
Chinese, for the text, Slack and Discord flavours; each with its ratio to the baseline.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from datetime import date

from benchmarks.pipeline import ranking
from bot.core.countries import shipped_table
from bot.core.events import DetectParams, detect
from bot.core.messages import Message
from bot.i18n.formats import compact_tokens
from bot.platforms.discord.embeds import discord_renderer, message_parts
from bot.platforms.slack.blocks import message_blocks, slack_renderer
from bot.render.templates import Renderer
from bot.render.text import render_text


def old_table(value: float) -> str:
    n = abs(value)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        x = n / size
        decimals = max(0, 3 - (math.floor(math.log10(x)) + 1 if x > 0 else 1))
        text = f"{x:.{decimals}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        if float(text) >= 1:
            return text + unit
    return str(int(n))


def median_us(work: Callable[[], object], repeat: int = 7, number: int = 200) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            work()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs) * 1e6


def main() -> None:
    rng = random.Random(3)
    figures = [rng.randint(1, 2_000) * 10**9 for _ in range(100)]
    compact_tokens.cache_clear()  # the first sight of each figure: what a new alert costs
    base = median_us(lambda: [old_table(f) for f in figures], number=20) / len(figures)

    def first_sight(lang: str) -> Callable[[], object]:
        def work() -> object:
            compact_tokens.cache_clear()
            return [compact_tokens(f, lang) for f in figures]

        return work

    en = median_us(first_sight("en"), number=20) / len(figures)
    zh = median_us(first_sight("zh-CN"), number=20) / len(figures)
    print(f"one token figure: hand-made table {base:.1f} µs (baseline)")
    print(f"  Babel, English {en:.1f} µs ({en / base:.1f}x), Chinese {zh:.1f} µs", end="")
    print(f" ({zh / base:.1f}x)")

    a = ranking(rng, 400, date(2026, 2, 9))
    b = ranking(rng, 400, date(2026, 2, 16))
    countries = shipped_table()
    params = DetectParams(top_n=10, extra_top_ns=(5, 25, 50), rank_move=3)
    _, state = detect(None, None, a, params=params, countries=countries)
    found, _ = detect(state, a, b, params=params, countries=countries, known_models=set())
    events = tuple(found)
    text, slack, discord = Renderer(), slack_renderer(), discord_renderer()
    flavours: dict[str, Callable[[Message], object]] = {
        "text": lambda m: render_text(text, m),
        "slack": lambda m: message_blocks(slack, m),
        "discord": lambda m: message_parts(discord, m),
    }
    print(f"one grouped alert of {len(events)} events (median of 7 × 20):")
    for name, render in flavours.items():

        def alert(lang: str, render: Callable[[Message], object] = render) -> Callable[[], object]:
            return lambda: render(Message(events=events, lang=lang))

        english = median_us(alert("en"), number=20) / 1e3
        chinese = median_us(alert("zh-CN"), number=20) / 1e3
        print(
            f"  {name:8s} English {english:.2f} ms (baseline), Chinese {chinese:.2f} ms "
            f"({chinese / english:.2f}x)"
        )


if __name__ == "__main__":
    main()
