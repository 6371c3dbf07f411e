"""rankbot's errors: one base class, and the one table of exit codes.

Why one base: the command line (`bot.cli.main`) turns every `RankbotError` into one line on
stderr and the exit code the error carries, so a failure a user can cause never ends in a
traceback, and a new error class only has to pick its code here. Foreign errors are translated
at the boundary where they happen into the most specific class (the store turns a full disk
into `StoreIOError`, the Slack adapter an unreachable server into `SlackStartError` with
`ExitCode.NETWORK`); what is left (a bare network error, a closed pipe, Ctrl-C) is mapped by
the CLI itself. Anything else is a bug: "internal error", exit 1.

Pure standard library, so the core may import it too.

    RankbotError                        exit code: its own, else the class's
    ├── UsageError                      2  bad argument, missing environment variable
    │   ├── ConfigError                 2  a config key (the message names it)
    │   ├── HistoryError                2  a history file line (names file and line)
    │   ├── SnapshotError (core.model)          2  a reading that must not be stored
    │   ├── ScheduleError (core.local_time)     2  a time, zone or duration
    │   ├── ParseError (commands.parse)         2  a chat command line (answered, not raised)
    │   ├── AdminError (ops.admin)              2  an admin operation as asked cannot be done
    │   ├── TemplateTooLong (render.templates)  2  a template override that prints too much
    │   └── ChartError (render.charts)          2  a chart that cannot be drawn
    │       ├── NotEnoughHistory
    │       └── ChartUnavailable (render.chart_pool)  the chart worker died or hung
    ├── StoreError
    │   ├── StoreBusy                   3  the database is in use by another rankbot process
    │   ├── StoreCorrupt                4  unreadable: not JSON, wrong shape, unknown schema
    │   │   └── JournalGap (store.tinydb.journal)  4  the journal does not continue the base
    │   ├── StoreNotMigrated            4  a PostgreSQL database before `rankbot db upgrade`
    │   ├── StoreConflict               3  another process wrote the same rows first (PostgreSQL)
    │   ├── StoreIOError                5  disk full, read-only, permission denied
    │   └── StoreReadOnly               5  a write to a database opened read-only
    ├── SourceError                     8  the ranking source failed (`poll --once`, fetch)
    │   ├── SuspectPayload (sources.openrouter.rows)
    │   ├── BudgetExhausted (sources.openrouter.limiter)
    │   └── OpenRouterError (sources.openrouter.api)
    │       └── AuthError (7), RequestRejected, Unavailable (6 when unreachable), BadResponse
    ├── SlackStartError (platforms.slack.runtime)      2, 6 or 7 per instance
    └── DiscordUnavailable (platforms.discord.runtime) 2, 6 or 7 per instance

    not RankbotErrors, mapped by the CLI: a network error no adapter translated (6), a broken
    template (2), Ctrl-C (130), a closed output pipe (141); anything else is a bug (1).

The numbers are documented for users in docs/exit-codes.md; keep both in step (a test does).
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """What `rankbot` exits with. Numbers never change meaning; new rows get new numbers."""

    OK = 0
    INTERNAL = 1
    """An unexpected exception: a bug (run with --debug for the traceback and report it)."""
    USAGE = 2
    """Usage or configuration: a bad argument, config key, missing environment variable,
    bad history file or bad template."""
    STORE_BUSY = 3
    """The database is in use by another rankbot process."""
    STORE_UNREADABLE = 4
    """The database is unreadable: corrupt, wrong shape, unknown schema version."""
    STORE_IO = 5
    """The database cannot be written or read: disk full, read-only, permission denied."""
    NETWORK = 6
    """The network, the source or a platform is unreachable at start-up."""
    CREDENTIALS = 7
    """A platform or the source refused the credentials."""
    SOURCE_FAILED = 8
    """`poll --once`: the source failed (the posts planned before still went out)."""
    POSTS_FAILED = 10
    """`poll --once`: some posts failed permanently (`send-test`: the post was refused)."""
    POSTS_WAITING = 11
    """`poll --once`: some posts are still waiting (a paused channel, a retry's backoff);
    `send-test`: a temporary failure, try again."""
    INTERRUPTED = 130
    """Ctrl-C in a one-shot command."""
    PIPE_CLOSED = 141
    """The output pipe was closed (`rankbot top | head`): quiet, no message."""


class RankbotError(Exception):
    """A failure a user can cause and fix; its message is the one line the CLI prints.

    `exit_code` may be given per instance when one class covers several causes (a platform
    that is unreachable, or that refused the token).
    """

    exit_code: ClassVar[ExitCode] = ExitCode.USAGE

    def __init__(self, *args: object, exit_code: ExitCode | None = None) -> None:
        super().__init__(*args)
        self.code: ExitCode = exit_code if exit_code is not None else type(self).exit_code


class UsageError(RankbotError):
    """A command used in a way it cannot work (a bad argument, a missing variable)."""


class ConfigError(UsageError, ValueError):
    """A config value that cannot be used; the message names the key."""


class HistoryError(UsageError, ValueError):
    """A line of a history file that is not a valid snapshot; names the file and line."""


class StoreError(RankbotError):
    """The database file cannot be used."""


class StoreBusy(StoreError):
    """Another process holds the database open for writing."""

    exit_code = ExitCode.STORE_BUSY


class StoreCorrupt(StoreError):
    """The file exists but is not a database this program can read."""

    exit_code = ExitCode.STORE_UNREADABLE


class StoreConflict(StoreError):
    """Another process stored the same rows first (a unique key, a deadlock): the whole
    transaction was rolled back; running it again sees what the other one stored."""

    exit_code = ExitCode.STORE_BUSY


class StoreNotMigrated(StoreError):
    """A PostgreSQL database whose schema is older than this rankbot's: `rankbot db upgrade`
    migrates it (the bot never migrates by itself, so several processes never race to)."""

    exit_code = ExitCode.STORE_UNREADABLE


class StoreIOError(StoreError):
    """The operating system refused to read or write the database (disk full, read-only
    file system, permissions); the message names the file and the fix."""

    exit_code = ExitCode.STORE_IO


class StoreReadOnly(StoreError):
    """A write to a database opened read-only (`rankbot top`, `rankbot chart`): a bug."""

    exit_code = ExitCode.STORE_IO


class SourceError(RankbotError):
    """A poll that produced nothing usable; the message is the operator-readable reason."""

    exit_code = ExitCode.SOURCE_FAILED
