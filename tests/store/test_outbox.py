"""The outbox: written before sending, enqueued once per key, resumed after a restart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.events import Event
from bot.core.messages import Attachment, ChannelRef, Message
from bot.store.database import Store
from bot.store.outbox import Outbox

NOW = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
ALPHA = ChannelRef("slack", "T1", "C-alpha")
BETA = ChannelRef("discord", "G1", "c-beta")


def leader_event() -> Event:
    return Event(
        kind="new_leader",
        source="openrouter",
        period="week",
        as_of=date(2026, 2, 16),
        subject="minimax/minimax-m2.5-20260211",
        fields={"model": "minimax/minimax-m2.5-20260211", "tokens": 1_700_000_000_000},
        attribution="Source: OpenRouter",
    )


def test_a_message_survives_a_restart_intact(tmp_path: Path) -> None:
    chart = Attachment("top.png", b"\x89PNG\x00binary", title="Top 10", mime="image/png")
    message = Message(
        events=(leader_event(),), title="Weekly", attachments=(chart,), note="↻ caught up"
    )
    with Store.open(tmp_path / "db.json") as store:
        assert Outbox(store).enqueue(ALPHA, message, key="k1", now=NOW)
    with Store.open(tmp_path / "db.json") as store:
        item = Outbox(store).head(ALPHA)
    assert item is not None
    assert item.message == message
    assert (item.key, item.channel, item.enqueued_at, item.attempts) == ("k1", ALPHA, NOW, 0)


def test_a_key_is_enqueued_once_whatever_became_of_it(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        assert outbox.enqueue(ALPHA, Message(notice="one"), key="k1", now=NOW)
        assert not outbox.enqueue(ALPHA, Message(notice="again"), key="k1", now=NOW)
        outbox.mark_sent("k1", now=NOW)
        assert not outbox.enqueue(ALPHA, Message(notice="after sent"), key="k1", now=NOW)
        outbox.enqueue(BETA, Message(notice="x"), key="k2", now=NOW)
        outbox.mark_failed_permanent("k2", reason="channel_not_found", now=NOW)
        assert not outbox.enqueue(BETA, Message(notice="after failed"), key="k2", now=NOW)
        assert outbox.pending_count() == 0
    with Store.open(tmp_path / "db.json") as store:  # the refusal outlives a restart
        outbox = Outbox(store)
        assert not outbox.enqueue(ALPHA, Message(notice="after restart"), key="k1", now=NOW)
        assert (outbox.status("k1"), outbox.status("k2"), outbox.status("k3")) == (
            "sent",
            "failed",
            None,
        )


def test_pending_items_come_back_per_channel_in_enqueue_order(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        for i in range(3):
            outbox.enqueue(ALPHA, Message(notice=f"a{i}"), key=f"a{i}", now=NOW)
            outbox.enqueue(BETA, Message(notice=f"b{i}"), key=f"b{i}", now=NOW)
        outbox.mark_sent("a0", now=NOW)
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        due = outbox.due(NOW)
        assert [i.key for i in due[ALPHA]] == ["a1", "a2"]
        assert [i.key for i in due[BETA]] == ["b0", "b1", "b2"]
        assert outbox.channels() == [BETA, ALPHA]  # oldest pending item first
        assert (outbox.pending_count(), outbox.pending_count(ALPHA)) == (5, 2)


def test_a_channel_waiting_for_a_retry_is_not_due_and_its_wait_is_kept(tmp_path: Path) -> None:
    later = NOW + timedelta(seconds=30)
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        outbox.enqueue(ALPHA, Message(notice="first"), key="a0", now=NOW)
        outbox.enqueue(ALPHA, Message(notice="second"), key="a1", now=NOW)
        outbox.mark_retry("a0", not_before=later, reason="rate limited (HTTP 429)")
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        assert outbox.due(NOW) == {}  # the second item must not overtake the first
        head = outbox.due(later)[ALPHA][0]
        assert (head.key, head.attempts, head.last_error) == ("a0", 1, "rate limited (HTTP 429)")
        assert head.not_before == later


def test_marking_an_item_that_is_not_pending_is_an_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        outbox.enqueue(ALPHA, Message(notice="x"), key="k1", now=NOW)
        outbox.mark_sent("k1", now=NOW)
        with pytest.raises(KeyError):
            outbox.mark_sent("k1", now=NOW)
        with pytest.raises(KeyError):
            outbox.mark_retry("nope", not_before=NOW, reason="x")


def test_a_chart_sent_to_many_channels_is_stored_once_and_dropped_when_sent(
    tmp_path: Path,
) -> None:
    chart = Attachment("top.png", b"\x89PNG" + bytes(range(256)) * 40)
    with Store.open(tmp_path / "db.json") as store:
        outbox = Outbox(store)
        for n in range(3):
            channel = ChannelRef("slack", "T1", f"C{n}")
            outbox.enqueue(
                channel, Message(notice="chart", attachments=(chart,)), key=f"k{n}", now=NOW
            )
        assert len(store.table("outbox_blobs")) == 1
        outbox.mark_sent("k0", now=NOW)
        outbox.mark_failed_permanent("k1", reason="is_archived", now=NOW)
        assert len(store.table("outbox_blobs")) == 1  # k2 still needs it
        assert outbox.head(ChannelRef("slack", "T1", "C2")).message.attachments == (chart,)
        outbox.mark_sent("k2", now=NOW)
        assert len(store.table("outbox_blobs")) == 0
        assert all(doc["message"] is None for doc in store.table("outbox").all())
