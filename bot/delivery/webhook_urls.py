"""Where a webhook channel's URL is: an environment variable, read at each send.

A webhook channel (`webhook`, `slack-webhook`, `discord-webhook`) is known by the name given
in `[[channels]]`; its URL is a secret, so it never sits in the config file, the store or a
log. The variable is the channel's `url_env` when the config declares one, else the
`RANKBOT_WEBHOOK_<NAME>` convention; it is read at each send, so a fixed URL needs no restart.
The three webhook senders (generic, Slack, Discord) all look it up here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.config.channels import DeclaredChannel
from bot.core.messages import ChannelRef
from bot.delivery.sender import SendResult, SendStatus

UrlEnv = Callable[[ChannelRef], str]
"""The name of the environment variable that holds a channel's URL."""


def env_name(channel: ChannelRef) -> str:
    """`RANKBOT_WEBHOOK_OPS_ALERTS` for the webhook channel named `ops-alerts`."""
    return "RANKBOT_WEBHOOK_" + re.sub(r"[^A-Z0-9]+", "_", channel.channel.upper()).strip("_")


def declared_url_env(declared: Iterable[DeclaredChannel]) -> UrlEnv:
    """Each `[[channels]]` entry's `url_env`, else the `RANKBOT_WEBHOOK_<NAME>` convention."""
    names = {d.subscription.channel: d.url_env for d in declared}
    return lambda channel: names.get(channel) or env_name(channel)


@dataclass(frozen=True, slots=True)
class WebhookUrl:
    variable: str
    """The environment variable consulted (named in "not set" reasons; never the URL)."""
    url: str | None
    """Its value, or None when it is unset or empty."""

    def unset(self) -> SendResult:
        """What a send to a channel without its URL comes to: permanent until someone sets it."""
        return SendResult(SendStatus.PERMANENT, reason=f"no webhook URL: set {self.variable}")


def lookup(
    channel: ChannelRef, url_env: UrlEnv = env_name, environ: Mapping[str, str] | None = None
) -> WebhookUrl:
    """The URL of `channel` now (`environ` defaults to the process environment)."""
    variable = url_env(channel)
    value = (os.environ if environ is None else environ).get(variable)
    return WebhookUrl(variable, value or None)
