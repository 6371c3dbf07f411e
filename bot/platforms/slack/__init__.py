"""The Slack adapter: slash commands in, Block Kit alerts out, inside rankbot's asyncio loop.

It only translates: a slash command becomes `bot.commands.execute.execute(line, ctx,
services)`, a `Reply` becomes an ephemeral (or in-channel) answer, a planned `Message` becomes
`chat.postMessage`. Started by the composition root (`bot.app`) with
`bot.platforms.slack.runtime.start_slack`.
"""
