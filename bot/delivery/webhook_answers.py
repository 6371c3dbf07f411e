"""What a webhook's HTTP answer means for delivery, for every kind of webhook channel.

2xx → SENT; 429 → RETRY after `Retry-After`; 5xx and 408 → RETRY with backoff;
401/403/404/410 → PERMANENT for lack of access ("deleted or forbidden": the channel is
paused, the post kept for `resume`; retrying those in a loop gets an IP banned on Discord);
any other 4xx → PERMANENT for its content, since sending the same body again cannot succeed.
The generic webhook sender uses it as it is; the Slack webhook sender words the refusals with
Slack's error codes (`bot.platforms.slack.webhook`).
"""

from __future__ import annotations

from datetime import datetime

from bot.delivery.sender import SendResult, SendStatus
from bot.net.bodies import Answer
from bot.net.retry import parse_retry_after
from bot.store.protocols import ACCESS, CONTENT

GONE = frozenset({401, 403, 404, 410})
"""Answers after which a webhook takes no post until someone acts (access failures)."""


def webhook_result(answer: Answer, now: datetime) -> SendResult:
    """What a webhook's HTTP status means for delivery (see the module docstring); `now`
    reads a `Retry-After` given as a date."""
    status = answer.status
    if 200 <= status < 300:
        return SendResult(SendStatus.SENT)
    if status == 429:
        retry_after = parse_retry_after(answer.headers.get("Retry-After"), now)
        return SendResult(
            SendStatus.RETRY, retry_after=retry_after, reason="rate limited (HTTP 429)"
        )
    if status >= 500 or status == 408:
        return SendResult(SendStatus.RETRY, reason=f"webhook server error (HTTP {status})")
    if status in GONE:
        return SendResult(
            SendStatus.PERMANENT,
            reason=f"webhook deleted or forbidden (HTTP {status})",
            failure=ACCESS,
        )
    return SendResult(
        SendStatus.PERMANENT,
        reason=f"webhook rejected the post (HTTP {status})",
        failure=CONTENT,
    )
