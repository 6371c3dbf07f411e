"""TinyDB tables whose writes cost what changed, with in-memory indexes and undo.

Stock TinyDB rebuilds a table's whole dict twice on every insert or update and hands the
whole database to its storage to write (`Table._update_table`). `IncrementalTable` keeps
TinyDB's API and file format but changes one document at a time: each change goes through
`_apply`, which updates the table's indexes, remembers the document's first version in the
open transaction (`Changes`, for rollback) and marks it for the journal. TinyDB's own methods
(`insert`, `update`, `remove`, ...) work unchanged on top, through a tracking view.

Documents are never changed in place once stored: a write replaces the document with a new
dict. That is what makes the journal safe to encode in another thread, rollback a matter of
putting the old object back, and decoded caches checkable by identity (`doc is cached_doc`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar, cast

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

Doc = dict[str, Any]
WatcherT = TypeVar("WatcherT", bound="Watcher")
Listener = Callable[[list[tuple[int, "Doc | None"]]], None]


class Writes(Protocol):
    """What a repository needs of the store it belongs to (`TinyStore` provides it)."""

    def write(self) -> AbstractAsyncContextManager[None]:
        """A write: joins the caller's transaction, or is one of its own."""
        ...

    def on_commit(self, table: str, listener: Listener) -> None:
        """Call `listener` with a table's changed documents once their commit is durable."""
        ...


class Watcher:
    """Told every change of one table's documents as it is made (`IncrementalTable._apply`),
    rollbacks included: indexes are watchers, and so are the in-memory views a repository
    keeps up to date document by document instead of rebuilding them from the table."""

    def update(
        self, doc_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        """Document `doc_id` went from `old` to `new` (None: absent before, or removed)."""
        raise NotImplementedError


class Index(Watcher):
    """Documents grouped by a value computed from each (`None`: not indexed)."""

    def __init__(self, key: Callable[[Mapping[str, Any]], Hashable | None]) -> None:
        self._key = key
        self.groups: dict[Hashable, dict[int, None]] = {}

    def update(
        self, doc_id: int, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> None:
        if old is None:  # an insert: the common case, kept short
            if new is not None and (after := self._key(new)) is not None:
                group = self.groups.get(after)
                if group is None:
                    self.groups[after] = {doc_id: None}
                else:
                    group[doc_id] = None
            return
        before = self._key(old)
        after = self._key(new) if new is not None else None
        if before == after:
            return
        if before is not None:
            group = self.groups[before]
            del group[doc_id]
            if not group:
                del self.groups[before]
        if after is not None:
            self.groups.setdefault(after, {})[doc_id] = None

    def ids(self, value: Hashable) -> list[int]:
        """The ids with this value, in id order (= insertion order of the table)."""
        return sorted(self.groups.get(value, ()))

    def first(self, value: Hashable) -> int | None:
        group = self.groups.get(value)
        return min(group) if group else None


class UniqueIndex(Index):
    """An index whose every value names one document (a key)."""

    def get(self, value: Hashable) -> int | None:
        group = self.groups.get(value)
        return next(iter(group)) if group else None


class IncrementalTable(Table):
    """A TinyDB table over the storage's in-memory data, written document by document."""

    _storage: JournalStorage

    def __init__(self, storage: Storage, name: str, **kwargs: Any) -> None:
        super().__init__(storage, name, **kwargs)
        self._raw = self._storage.table_data(name)
        self._watchers: list[Watcher] = []
        self._last_id: int | None = None
        self.version = 0
        """Counts changes (rollbacks included): caches derived from the whole table check it."""

    @property
    def raw(self) -> dict[str, Doc]:
        """The table's documents as stored (string ids); do not mutate them."""
        return self._raw

    def add_index(self, watcher: WatcherT) -> WatcherT:
        """Start `watcher` (an index, a view) on the documents there are, then tell it every
        change."""
        for key, doc in self.raw.items():
            watcher.update(int(key), None, doc)
        self._watchers.append(watcher)
        return watcher

    def doc(self, doc_id: int) -> Doc | None:
        return self._raw.get(str(doc_id))

    def put(self, doc_id: int, doc: Doc) -> None:
        self._apply(doc_id, doc)

    def add(self, doc: Doc) -> int:
        doc_id = self._get_next_id()
        self._apply(doc_id, doc)
        return doc_id

    def alike(self, fields: tuple[str, ...], same: Mapping[str, Any]) -> Alike:
        """New documents that differ only in `fields` (`Alike.add`), the rest `same`: a
        fan-out's posts. Inside a transaction; the journal writes them as one line."""
        changes = self._storage.open
        if changes is None:
            raise RuntimeError("a store write outside a transaction (a bug in a repository)")
        return changes.alike(self, fields, same)

    def delete(self, doc_id: int) -> None:
        self._apply(doc_id, None)

    def _apply(self, doc_id: int, new: Doc | None, *, record: bool = True) -> None:
        raw = self._raw
        key = str(doc_id)
        old = raw.get(key)
        if old is new:
            return
        self.version += 1
        if record:
            changes = self._storage.open
            if changes is None:
                raise RuntimeError("a store write outside a transaction (a bug in a repository)")
            changes.touch(self, doc_id, old)
        if new is None:
            del raw[key]
        else:
            raw[key] = new
        for watcher in self._watchers:
            watcher.update(doc_id, old, new)

    def restore(self, doc_id: int, doc: Doc | None) -> None:
        """Put back a document's earlier version (rollback): indexes follow, nothing is
        recorded."""
        self._apply(doc_id, doc, record=False)

    # --- TinyDB's write path, one document at a time ----------------------------------------

    def _update_table(self, updater: Callable[[dict[int, Mapping[str, Any]]], None]) -> None:
        updater(cast(dict[int, Mapping[str, Any]], _Tracked(self)))  # TinyDB uses it as one
        self.clear_cache()

    def _get_next_id(self) -> int:
        if self._last_id is None:
            self._last_id = max((int(k) for k in self.raw), default=0)
        self._last_id += 1
        return self._last_id


class _Tracked(MutableMapping[int, Doc]):
    """The `{id: document}` view TinyDB's updaters change, turned into `_apply` calls.

    TinyDB reads a document from it only to change it (`table[id].update(fields)`), so a read
    hands out a fresh copy that replaces the stored one: the stored version stays untouched.
    """

    def __init__(self, table: IncrementalTable) -> None:
        self._table = table

    def __getitem__(self, doc_id: int) -> Doc:
        current = self._table.raw[str(doc_id)]
        copy = dict(current)
        self._table._apply(doc_id, copy)
        return copy

    def __setitem__(self, doc_id: int, doc: Doc) -> None:
        self._table._apply(doc_id, dict(doc))

    def __delitem__(self, doc_id: int) -> None:
        if str(doc_id) not in self._table.raw:
            raise KeyError(doc_id)
        self._table._apply(doc_id, None)

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self._table.raw

    def __iter__(self) -> Iterator[int]:
        return iter([int(k) for k in self._table.raw])

    def __len__(self) -> int:
        return len(self._table.raw)


class Alike:
    """New documents of one table, added in one transaction, that differ only in a few
    fields: the posts of one fan-out (key and channel their own; state, time and body the
    same). The journal writes them as one line with the shared fields once
    (`bot.store.tinydb.journal`), instead of one line per document: a busy poll's 9,000
    posts cost ~6 ms to encode instead of ~27 ms, and a third of the bytes.

    A document added here and changed again in the same transaction is also written on its
    own, after this line (it wins on replay); a rollback removes them all.
    """

    __slots__ = ("_changes", "_size", "docs", "fields", "ids", "same", "table")

    def __init__(
        self,
        table: IncrementalTable,
        fields: tuple[str, ...],
        same: Mapping[str, Any],
        changes: Changes,
    ) -> None:
        self.table = table
        self.fields = fields
        self.same = dict(same)
        self.ids: list[int] = []
        self.docs: list[Doc] = []
        self._changes = changes
        self._size = len(fields) + len(self.same)

    def add(self, doc: Doc) -> int:
        """A new document, its id. `doc` holds `fields` and then `same`'s fields: built by
        the caller as a dict display (`{"key": k, "channel": c, **same}`), which costs a
        fifth of building it here from values (once per post of a busy poll)."""
        table = self.table
        if table._storage.open is not self._changes:
            raise RuntimeError("documents added after their transaction ended (a bug)")
        if len(doc) != self._size:
            raise ValueError(f"not alike: {sorted(doc)} for {self.fields} + {sorted(self.same)}")
        doc_id = table._get_next_id()
        table._apply(doc_id, doc, record=False)  # recorded here, not one by one
        self.ids.append(doc_id)
        self.docs.append(doc)
        return doc_id

    def rows(self) -> list[list[Any]]:
        """[id, *values of `fields`] per document, as added (the journal thread's line)."""
        fields = self.fields
        out = []
        for doc_id, doc in zip(self.ids, self.docs, strict=True):
            row = [doc_id]
            row.extend(map(doc.__getitem__, fields))
            out.append(row)
        return out

    def entries(self) -> list[tuple[int, Doc | None]]:
        """(id, document) of each, as added (commit listeners)."""
        return list(zip(self.ids, self.docs, strict=True))


Op = tuple[str, int, Doc | None] | Alike
"""One journal entry: (table, document id, the document, or None when it was removed), or
several new documents alike (`Alike`)."""


class Changes:
    """One open transaction: each changed document's version before it, in change order."""

    def __init__(self) -> None:
        self._before: dict[tuple[str, int], tuple[IncrementalTable, Doc | None] | Alike] = {}

    def touch(self, table: IncrementalTable, doc_id: int, old: Doc | None) -> None:
        key = (table.name, doc_id)
        if key not in self._before:
            self._before[key] = (table, old)

    def alike(
        self, table: IncrementalTable, fields: tuple[str, ...], same: Mapping[str, Any]
    ) -> Alike:
        run = Alike(table, fields, same, self)
        # a key no document has (ids are positive), in change order with the others
        self._before[(table.name, -len(self._before) - 1)] = run
        return run

    def ops(self) -> list[Op]:
        """The journal entries: each changed document as it is now (None: removed). Taken at
        commit, so a document changed twice is written once."""
        out: list[Op] = []
        for (name, doc_id), change in self._before.items():
            if isinstance(change, Alike):
                if change.ids:
                    out.append(change)
                continue
            table, old = change
            new = table._raw.get(str(doc_id))
            if new is not old:
                out.append((name, doc_id, new))
        return out

    def rollback(self) -> None:
        for (_, doc_id), change in reversed(list(self._before.items())):
            if isinstance(change, Alike):
                for added in reversed(change.ids):
                    change.table.restore(added, None)
            else:
                table, old = change
                table.restore(doc_id, old)
        self._before.clear()


class JournalStorage(Storage):
    """TinyDB's storage interface over the data held in memory.

    TinyDB asks the storage for the whole database (`read`) and, in stock tables, writes it
    all back (`write`). Here `read` hands out the live data and whole writes are refused:
    every change comes through `IncrementalTable`, into the open transaction, and reaches the
    disk as journal entries (`bot.store.tinydb.journal`).
    """

    def __init__(self, data: dict[str, dict[str, Doc]]) -> None:
        self.data = data
        self.open: Changes | None = None

    def read(self) -> dict[str, dict[str, Doc]]:
        return self.data

    def write(self, data: dict[str, dict[str, Doc]]) -> None:
        raise NotImplementedError("rankbot's store changes documents one at a time")

    def table_data(self, name: str) -> dict[str, Doc]:
        table = self.data.get(name)
        if table is None:
            table = self.data[name] = {}
        return table


class Database(TinyDB):
    """TinyDB with incremental tables (`db.table(name)` returns an `IncrementalTable`)."""

    table_class: type[Table] = IncrementalTable

    def incremental(self, name: str) -> IncrementalTable:
        table = self.table(name)
        assert isinstance(table, IncrementalTable)
        return table
