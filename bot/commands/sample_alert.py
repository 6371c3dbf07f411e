"""The sample alert of `rankbot send-test CHANNEL` and `/rankbot test`: one post that looks
exactly like a real alert, marked as a test, so a person sees what alerts will look like and
that rankbot may post in the channel.

Made by the real detection from two invented snapshots (so every field a template uses is
there, as in a live alert), with invented model names and an attribution line that says the
figures are samples: nothing here may pass for real rankings.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.core.countries import CountryTable, shipped_table
from bot.core.events import DetectParams, baseline, detect
from bot.core.messages import Message
from bot.core.model import Snapshot
from bot.core.text import T
from bot.i18n import say

SAMPLE_SOURCE = "sample"
ATTRIBUTION = "Sample figures for a rankbot test post: not real rankings."


def _snapshot(as_of: date, figures: dict[str, tuple[str, int]]) -> Snapshot:
    return Snapshot.create(
        source=SAMPLE_SOURCE,
        period="week",
        as_of=as_of,
        entries=[{"model": m, "name": n, "tokens": t} for m, (n, t) in figures.items()],
        total=sum(t for _, t in figures.values()) * 2,
        attribution=ATTRIBUTION,
    )


def sample_alert(today: date, lang: str = "en", countries: CountryTable | None = None) -> Message:
    """One `new_leader` alert for the week to `today`, titled and noted as a test."""
    countries = countries or shipped_table()
    before = _snapshot(
        today - timedelta(days=7),
        {
            "example/model-a": ("Example Model A", 900 * 10**9),
            "example/model-b": ("Example Model B", 800 * 10**9),
        },
    )
    after = _snapshot(
        today,
        {
            "example/model-a": ("Example Model A", 850 * 10**9),
            "example/model-b": ("Example Model B", 1_100 * 10**9),
        },
    )
    params = DetectParams()
    events, _ = detect(
        baseline(before, params, countries), before, after, params=params, countries=countries
    )
    leaders = tuple(e for e in events if e.kind == "new_leader")
    return Message(
        events=leaders,
        title=say(T("🧪 rankbot test post"), lang),
        note=say(
            T(
                "This is a test with sample figures: nothing changed in the rankings. "
                "Alerts in this channel look like this."
            ),
            lang,
        ),
        lang=lang,
    )
