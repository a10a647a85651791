"""The curated surface of `weir.server`."""

from __future__ import annotations

import weir.server


def test_all_names_the_public_surface() -> None:
    assert weir.server.__all__ == ["AuthStore", "Principal", "Role", "UserRecord", "create_app"]
    for name in weir.server.__all__:
        assert getattr(weir.server, name).__module__.startswith("weir.server.")
