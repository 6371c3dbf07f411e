"""`PgRateWindows`: the platforms' rate limits counted in the database, shared by every worker
process (`bot.store.protocols.SharedRateWindows`).

Why in the database: Discord allows 50 requests a second per bot, whatever the number of
processes sending for it; limits counted in each process would let three workers send 150.
Each send is a row `(bucket, at)` in `rate_sends`, stamped with the database's clock (one clock
for every process) when it is taken, and again when its answer came back (`settle`): the
platform counts a send when it arrives, which is somewhere in between, and a send delayed
after its take (a busy process) would otherwise let the next window open too early.

Taking a send for several buckets at once (a channel's and its platform's) happens under
transaction-scoped advisory locks on those buckets, taken in a fixed order, so two workers
never both see the last free token; the rows a window no longer sees are deleted as it goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.postgres.connection import Session
from bot.store.protocols import Window


class PgRateWindows:
    def __init__(self, session: Session) -> None:
        self._db = session

    async def take(self, windows: Sequence[Window], token: str | None = None) -> float:
        if not windows:
            return 0.0
        ordered = sorted(windows, key=lambda w: w.bucket)
        async with self._db.transaction(apart=True) as conn:
            for window in ordered:
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (window.bucket,)
                )
            wait = 0.0
            for window in ordered:
                await conn.execute(
                    "DELETE FROM rate_sends WHERE bucket = %s "
                    "AND at < clock_timestamp() - make_interval(secs => %s)",
                    (window.bucket, window.seconds),
                )
                cur = await conn.execute(
                    "SELECT extract(epoch FROM at + make_interval(secs => %s) - clock_timestamp()) "
                    "FROM rate_sends WHERE bucket = %s AND at > clock_timestamp() - "
                    "make_interval(secs => %s) ORDER BY at DESC OFFSET %s LIMIT 1",
                    (window.seconds, window.bucket, window.seconds, window.messages - 1),
                )
                full = await cur.fetchone()
                if full is not None:
                    wait = max(wait, float(full[0]), 0.001)
            if wait > 0:
                return wait
            await conn.execute(
                "INSERT INTO rate_sends (bucket, at, token) SELECT b, clock_timestamp(), %s "
                "FROM unnest(%s::text[]) AS b",
                (token, [w.bucket for w in ordered]),
            )
        return 0.0

    async def settle(self, token: str) -> None:
        async with self._db.transaction(apart=True) as conn:
            await conn.execute(
                "UPDATE rate_sends SET at = clock_timestamp(), token = NULL WHERE token = %s",
                (token,),
            )
