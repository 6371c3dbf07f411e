"""The Slack adapter: slash commands in, Block Kit alerts out, inside rankbot's asyncio loop.

Named `slackbot` so it is never confused with the `slack_sdk` / `slack_bolt` libraries. It only
translates: a slash command becomes `bot.commands.execute(line, ctx, services)`, a `Reply`
becomes an ephemeral (or in-channel) answer, a planned `Message` becomes `chat.postMessage`.
"""
