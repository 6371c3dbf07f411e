"""rankbot's Prometheus metrics (`GET /metrics`), all named `rankbot_…`.

Counters move where things happen, through two small hooks the composition root connects:
the poller's `on_tick` (polls, source failures, snapshots, events by kind) and delivery's
`on_outcome` (posts sent, retried, failed and rate limited per platform, and the delivery
latency from planning to sent). Gauges that need the store (outbox pending and failed, the
oldest pending post's age, paused channels) are sampled on the event loop by the heartbeat
task every few seconds, never from the listener's thread; event-loop lag is measured by the
heartbeat itself. Each bot has its own registry, so tests can run several in one process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot import __version__
from bot.delivery.sender import SendResult
from bot.engine.poller import TickReport
from bot.ops.health import Health
from bot.store.protocols import FAILED, PENDING, SENT, OutboxItem, Outcome, Store

CONTENT_TYPE = CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 24 * 3600.0)
"""Seconds from planned to sent: a post normally goes out in seconds; quiet hours, digests
and a paused channel hold posts for hours (the `+Inf` bucket counts longer waits)."""


class Metrics:
    def __init__(self, health: Health | None = None) -> None:
        self.registry = r = CollectorRegistry()
        self.polls = Counter("rankbot_polls", "Polls of the ranking source", ["source"], registry=r)
        self.source_failures = Counter(
            "rankbot_source_failures", "Polls that failed", ["source"], registry=r
        )
        self.snapshots = Counter(
            "rankbot_snapshots", "New snapshots stored", ["source"], registry=r
        )
        self.events = Counter("rankbot_events", "Events detected, by kind", ["kind"], registry=r)
        self.posts_sent = Counter("rankbot_posts_sent", "Posts delivered", ["platform"], registry=r)
        self.posts_retried = Counter(
            "rankbot_posts_retried",
            "Attempts answered with a temporary failure (retried later)",
            ["platform"],
            registry=r,
        )
        self.posts_failed = Counter(
            "rankbot_posts_failed",
            "Posts that failed for good (failure: access pauses the channel, content not)",
            ["platform", "failure"],
            registry=r,
        )
        self.rate_limited = Counter(
            "rankbot_rate_limited", "429 answers (rate limited)", ["platform"], registry=r
        )
        self.latency = Histogram(
            "rankbot_delivery_latency_seconds",
            "Seconds from a post being planned to it being sent",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_pending = Gauge(
            "rankbot_outbox_pending", "Posts waiting to be sent", registry=r
        )
        self.outbox_failed = Gauge(
            "rankbot_outbox_failed", "Posts kept as failed (see rankbot outbox list)", registry=r
        )
        self.oldest_pending = Gauge(
            "rankbot_outbox_oldest_pending_age_seconds",
            "Age of the oldest post waiting to be sent (0: none)",
            registry=r,
        )
        self.channels_paused = Gauge(
            "rankbot_channels_paused", "Channels whose deliveries are paused", registry=r
        )
        self.loop_lag = Gauge(
            "rankbot_event_loop_lag_seconds",
            "How late the event loop woke the heartbeat, last beat",
            registry=r,
        )
        self.ready = Gauge("rankbot_ready", "1 when /readyz answers 200", registry=r)
        build = Gauge("rankbot_build_info", "rankbot's version", ["version"], registry=r)
        build.labels(__version__).set(1)
        if health is not None:
            age = Gauge(
                "rankbot_heartbeat_age_seconds",
                "Seconds since the event loop last stamped its heartbeat",
                registry=r,
            )
            age.set_function(lambda: health.heartbeat_age() or 0.0)

    def platforms(self, names: Iterable[str]) -> None:
        """Create every platform's series at 0, so a counter's first move is visible."""
        for name in names:
            self.posts_sent.labels(name)
            self.posts_retried.labels(name)
            self.rate_limited.labels(name)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # --- hooks ---------------------------------------------------------------------------------

    def on_tick(self, source: str, report: TickReport) -> None:
        if report.polled:
            self.polls.labels(source).inc()
        if report.source_error is not None:
            self.source_failures.labels(source).inc()
        if report.snapshots:
            self.snapshots.labels(source).inc(report.snapshots)
        for kind in report.kinds:
            self.events.labels(kind).inc()

    def on_outcome(self, item: OutboxItem, outcome: Outcome, result: SendResult) -> None:
        platform = item.channel.platform
        if outcome.state == SENT:
            self.posts_sent.labels(platform).inc()
            waited = (outcome.at - item.enqueued_at).total_seconds()
            self.latency.labels(platform).observe(max(0.0, waited))
        elif outcome.state == PENDING:
            self.posts_retried.labels(platform).inc()
            if result.retry_after is not None:
                self.rate_limited.labels(platform).inc()
        elif outcome.state == FAILED:
            self.posts_failed.labels(platform, outcome.failure or "access").inc()

    async def sample(self, store: Store, now: datetime, *, full: bool = True) -> None:
        """The store-backed gauges, on the loop. The counts are cheap (kept by the outbox);
        the oldest pending post and the paused channels read every channel (about 0.1 s at
        10,000 channels on TinyDB, benchmarks/ops.py), so they are read only when `full`,
        and the oldest post only while something is pending."""
        outbox = store.outbox
        pending = await outbox.count()
        self.outbox_pending.set(pending)
        self.outbox_failed.set(await outbox.count(state=FAILED))
        if not full:
            return
        age = 0.0
        if pending:
            channels = await outbox.channels()  # the one with the oldest pending post first
            head = await outbox.head(channels[0]) if channels else None
            age = (now - head.enqueued_at).total_seconds() if head is not None else 0.0
        self.oldest_pending.set(max(0.0, age))
        subs = await store.subscriptions.all()
        self.channels_paused.set(sum(1 for s in subs if s.paused))
