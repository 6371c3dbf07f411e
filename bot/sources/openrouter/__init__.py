"""The live OpenRouter source: the official rankings Data API, validated and attributed.

`bot.sources.openrouter.source.OpenRouterSource` is what the poller runs; the other modules
are its parts: `api` (HTTP), `rows` (payload validation), `windows` (day/week/month sums),
`daystore` (raw daily rows in the store), `backfill`, `catalogue` (display names), `health`
(when an outage is news), `limiter` (the API's request budget), `poll_schedule`, `settings`.
"""
