"""The pure planning rules (`bot.core.planning`): stable keys, grouping, implied events."""

from __future__ import annotations

from bot.core.grouping import ordered
from bot.core.planning import grouped, plan_key
from tests.engine.test_planner import CH, ENTRY, LEADER, OTHER, ev


def test_keys_are_stable_and_per_channel() -> None:
    assert plan_key(CH, [LEADER, ENTRY]) == plan_key(CH, [ENTRY, LEADER])
    assert plan_key(CH, [LEADER]) != plan_key(OTHER, [LEADER])
    assert plan_key(CH, [LEADER]) != plan_key(CH, [LEADER, ENTRY])
    assert grouped(CH, [ENTRY, LEADER]).key == grouped(CH, [LEADER, ENTRY]).key


def test_a_new_leaders_top_entry_is_not_said_twice_in_one_message() -> None:
    leader = ev("new_leader", "minimax/m2.5")
    entry = ev("top_entry", "minimax/m2.5@top10", top_n=10, model="minimax/m2.5")
    other = ev("top_entry", "z-ai/glm-5@top10", rank=5, top_n=10, model="z-ai/glm-5")
    post = grouped(CH, [entry, leader, other])
    assert [e.kind for e in post.message.events] == ["new_leader", "top_entry"]
    assert post.message.events[1].subject == "z-ai/glm-5@top10"
    # a channel that does not take new_leader still hears that the model entered
    assert [e.subject for e in grouped(CH, [entry]).message.events] == ["minimax/m2.5@top10"]


def test_ordering_ties_by_rank_then_subject() -> None:
    a = ev("top_entry", "z/late", rank=3, top_n=10)
    b = ev("top_entry", "a/early", rank=9, top_n=10)
    c = ev("top_entry", "m/mid", rank=3, top_n=5)
    assert ordered([b, a, LEADER, c]) == [LEADER, c, a, b]
