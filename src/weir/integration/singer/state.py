"""Singer state: `{"bookmarks": {stream: {...}}, ...}`, as an immutable value.

Only `bookmarks` is interpreted; every other top-level key (`currently_syncing`, a tap's own
keys) is kept verbatim so a state passes through Weir unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["State"]


@dataclass(frozen=True, slots=True)
class State:
    """A Singer state.

    Attributes:
        bookmarks: stream name -> that stream's bookmark object.
        extra: the other top-level keys of the state object.
    """

    bookmarks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def bookmark(self, stream: str) -> Mapping[str, Any] | None:
        """Return the bookmark of `stream`, or None when it has none."""
        return self.bookmarks.get(stream)

    def with_bookmark(self, stream: str, bookmark: Mapping[str, Any] | None) -> State:
        """Return a state with the bookmark of `stream` replaced (removed when None)."""
        bookmarks = {k: v for k, v in self.bookmarks.items() if k != stream}
        if bookmark is not None:
            bookmarks[stream] = dict(bookmark)
        return State(bookmarks=bookmarks, extra=self.extra)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> State:
        """Build a state from its JSON object (None or `{}` give an empty state).

        Raises:
            ValueError: `bookmarks` is not an object of objects.
        """
        if not data:
            return cls()
        bookmarks = data.get("bookmarks") or {}
        if not isinstance(bookmarks, Mapping) or not all(
            isinstance(v, Mapping) for v in bookmarks.values()
        ):
            raise ValueError("state 'bookmarks' must map each stream name to an object")
        extra = {k: v for k, v in data.items() if k != "bookmarks"}
        return cls(bookmarks={str(k): dict(v) for k, v in bookmarks.items()}, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """Return the state's JSON object."""
        return {**self.extra, "bookmarks": {k: dict(v) for k, v in self.bookmarks.items()}}
