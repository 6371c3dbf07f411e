"""The Discord adapter: app commands, embed alerts, webhooks, invite URL and command sync.

A subpackage of `bot.platforms`, so it never shadows the discord.py library (its modules
`import discord` absolutely). It only translates: an interaction becomes a command line for
`bot.commands.execute`, a `Reply` or a `Message` becomes embeds. Start it inside the bot's loop
with `bot.platforms.discord.runtime.start` (the composition root, `bot.app`, does).
"""
