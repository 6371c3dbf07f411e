"""The Discord adapter: app commands, embed alerts, webhooks, invite URL and command sync.

Named `discordbot` (not `discord`) so that it never shadows the discord.py library. It only
translates: an interaction becomes a command line for `bot.commands.execute`, a `Reply` or a
`Message` becomes embeds. Start it inside the bot's loop with `bot.discordbot.runtime.start`.
"""
