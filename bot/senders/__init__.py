"""Senders: what turns an outbox item into a post on one platform (see `bot.chat.Sender`)."""
