"""Registering the app commands with Discord, and only when their schema changed.

Discord allows 200 command creates a day per server, so `rankbot run` must not sync at every
start: it hashes the payload it would send (names, options, permissions, contexts) and syncs
only when the hash differs from the one stored after the last sync for the same scope
(`bot.store.keys.discord_commands` in the store's state). `rankbot discord-sync` syncs
unconditionally and records the hash too.
"""

from __future__ import annotations

import hashlib
import json

import discord
from discord import app_commands

from bot.platforms.discord.localizations import CatalogueTranslator
from bot.store import keys
from bot.store.protocols import Store


async def localized(tree: app_commands.CommandTree) -> app_commands.Translator:
    """The tree's translator, set to the catalogues' (`CatalogueTranslator`) if it has none:
    Discord then shows the commands in the user's client language."""
    if tree.translator is None:
        await tree.set_translator(CatalogueTranslator())
    assert tree.translator is not None
    return tree.translator


async def schema_hash(tree: app_commands.CommandTree) -> str:
    """A digest of exactly what a sync would send for the tree's global commands, their
    localizations included (a changed translation is a changed schema)."""
    translator = await localized(tree)
    payload = [
        await command.get_translated_payload(tree, translator) for command in tree.get_commands()
    ]
    payload.sort(key=lambda c: c["name"])
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()


async def sync(
    tree: app_commands.CommandTree, guild_id: int | None, store: Store | None
) -> list[app_commands.AppCommand]:
    """Register the commands globally, or in one server (instant, for development).

    For a server the global commands are copied into it; they are then listed twice there if
    they were also synced globally, so use one scope per application.
    """
    guild = discord.Object(id=guild_id) if guild_id else None
    await localized(tree)
    if guild is not None:
        tree.copy_global_to(guild=guild)
    synced = await tree.sync(guild=guild)
    if store is not None:
        await store.state.set(keys.discord_commands(guild_id), await schema_hash(tree))
    return synced


async def sync_if_changed(
    tree: app_commands.CommandTree, guild_id: int | None, store: Store
) -> bool:
    """Sync when the schema differs from the last one synced to this scope; True if it did."""
    if await store.state.get(keys.discord_commands(guild_id)) == await schema_hash(tree):
        return False
    await sync(tree, guild_id, store)
    return True
