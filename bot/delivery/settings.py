"""The `[delivery]` config section: rate-limit overrides, backoff and timeouts.

Every key has a default taken from the platforms' published limits (platform-rules.md), so
the section is only needed to be more careful than the defaults, or to add a limit for a
platform the defaults leave unlimited (e.g. a Slack workspace-wide cap).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.config.file import Section
from bot.core.messages import ChannelRef
from bot.delivery.rate_limits import DEFAULT_LIMITS, Limit, PlatformLimits
from bot.delivery.resume import RESEND_WITHIN_DAYS
from bot.errors import ConfigError
from bot.net.retry import MAX_RETRY_AFTER_SECONDS


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    limits: Mapping[str, PlatformLimits] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    concurrency: int = 16
    """Sends active at once, over all channels (a stalled one stops counting: see
    `stalled_after_seconds`). What a crash can duplicate is what was in flight."""
    send_timeout: float = 30.0
    """A send that has not answered after this many seconds counts as a timeout (retried).
    Only the request counts: waiting for limits, slots or the store does not."""
    stalled_after_seconds: float = 0.5
    """A send unanswered this long gives its `concurrency` slot back (it may still answer),
    so endpoints that hang do not hold up healthy channels."""
    backoff_base: float = 1.0
    """First retry delay after a 5xx or timeout; doubles per attempt, with jitter."""
    max_backoff: float = 300.0
    """Cap on the delay between two attempts of one post (a post is retried, never dropped)."""
    operator_channel: ChannelRef | None = None
    """Where the operator hears about source outages and dead tokens (whatever channels
    subscribed to)."""
    max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS
    """The longest a platform's `Retry-After` may make a post wait (a hint of 1e9 s would
    park the channel until 2058)."""
    resend_within_days: float = RESEND_WITHIN_DAYS
    """On `resume`, posts that failed for lack of access within this many days are sent;
    older ones are dropped (`bot.delivery.resume`)."""
    drain_seconds: float = 10.0
    """On SIGTERM / SIGINT, how long posts in flight may take to finish before exiting."""
    lease_seconds: float = 30.0
    """`--role worker`: how long a post a worker took stays its own without a renewal (a
    killed worker's posts go to the others after this; `bot.delivery.claimed`)."""


def parse(section: Section, base: Path) -> DeliverySettings:
    """Read `[delivery]` and its `[delivery.limits.<platform>]` tables (`base` is unused)."""
    defaults = DeliverySettings()
    limits = dict(defaults.limits)
    limits_section = section.table("limits")
    for platform in limits_section.data:
        table = limits_section.table(platform)
        if platform not in DEFAULT_LIMITS:
            raise ConfigError(
                f"{table.where}: unknown platform {platform!r}; limits apply to "
                + ", ".join(sorted(DEFAULT_LIMITS))
            )
        current = limits.get(platform, PlatformLimits())
        limits[platform] = PlatformLimits(
            channel=_limit(table, "channel", current.channel),
            platform=_limit(table, "platform", current.platform),
        )
        table.done()
    limits_section.done()
    settings = DeliverySettings(
        limits=limits,
        concurrency=section.integer("concurrency", defaults.concurrency, lo=1, hi=1000),
        send_timeout=section.number("send_timeout", defaults.send_timeout, lo=1),
        stalled_after_seconds=section.number(
            "stalled_after_seconds", defaults.stalled_after_seconds, lo=0.05
        ),
        backoff_base=section.number("backoff_base", defaults.backoff_base, lo=0.1),
        max_backoff=section.number("max_backoff", defaults.max_backoff, lo=1),
        operator_channel=_channel(section, "operator_channel"),
        max_retry_after_seconds=_max_retry_after(section),
        resend_within_days=section.number("resend_within_days", defaults.resend_within_days, lo=0),
        drain_seconds=section.number("drain_seconds", defaults.drain_seconds, lo=0),
        lease_seconds=section.number("lease_seconds", defaults.lease_seconds, lo=1),
    )
    section.done()
    return settings


def _max_retry_after(section: Section) -> float:
    """At most `MAX_RETRY_AFTER_SECONDS`: the senders' own parsers stop there already
    (`bot.net.retry`), so a larger bound would only pretend to allow longer waits."""
    key = "max_retry_after_seconds"
    seconds = section.number(key, MAX_RETRY_AFTER_SECONDS, lo=0)
    if seconds > MAX_RETRY_AFTER_SECONDS:
        raise ConfigError(
            f"{section.where} {key}: expected at most {MAX_RETRY_AFTER_SECONDS:g}, got {seconds:g}"
        )
    return seconds


def _limit(table: Section, scope: str, default: Limit | None) -> Limit | None:
    """`<scope>_messages` per `<scope>_seconds`; `<scope>_messages = 0` removes the limit."""
    messages = table.integer(f"{scope}_messages", default.messages if default else 0, lo=0)
    seconds = table.number(f"{scope}_seconds", default.seconds if default else 1.0, lo=0.001)
    return Limit(messages, seconds) if messages else None


def _channel(section: Section, key: str) -> ChannelRef | None:
    """A channel written as `platform:workspace:channel`, e.g. `slack:T0123:C0456`."""
    text = section.text(key, None)
    if text is None:
        return None
    parts = text.split(":")
    if len(parts) != 3 or not all(parts):
        raise ConfigError(
            f"{section.where} {key}: expected platform:workspace:channel like "
            f'"slack:T0123ABCD:C0456EFGH" or "webhook:config:ops", got "{text}"'
        )
    return ChannelRef(*parts)
