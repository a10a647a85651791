"""`AuthStore` on SQLite: users, roles, sessions and API keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from weir.errors import ConflictError, NotFoundError
from weir.runs.database import connect
from weir.server.auth import AuthStore, Role
from weir.server.models import ApiKey, User, UserSession


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = connect(f"sqlite:///{tmp_path / 'weir.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(engine: Engine, clock: Clock) -> AuthStore:
    return AuthStore(engine, clock=clock, session_lifetime=timedelta(hours=1))


def test_create_and_list_users(store: AuthStore, engine: Engine) -> None:
    owner = store.create_user("ada", "s3cret-pass", Role.OWNER)
    store.create_user("bob.b@example.org", "another-pass", Role.VIEWER)
    assert [(u.username, u.role) for u in store.list_users()] == [
        ("ada", Role.OWNER),
        ("bob.b@example.org", Role.VIEWER),
    ]
    assert store.get_user(owner.id) == owner
    assert store.count_owners() == 1
    with engine.connect() as connection:
        stored = connection.execute(select(User.password_hash)).scalars().all()
    assert all(h.startswith("scrypt$") and "pass" not in h for h in stored)


@pytest.mark.parametrize("username", ["", "-lead", "has space", "x" * 151, "semi;colon"])
def test_bad_usernames_are_refused(store: AuthStore, username: str) -> None:
    with pytest.raises(ValueError, match="username"):
        store.create_user(username, "long-enough", Role.VIEWER)


def test_short_passwords_and_taken_names_are_refused(store: AuthStore) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        store.create_user("ada", "short", Role.VIEWER)
    store.create_user("ada", "long-enough", Role.VIEWER)
    with pytest.raises(ConflictError, match="'ada' exists"):
        store.create_user("ada", "long-enough", Role.EDITOR)


def test_login_session_and_expiry(store: AuthStore, clock: Clock) -> None:
    user = store.create_user("ada", "s3cret-pass", Role.EDITOR)
    assert store.login("ada", "wrong-pass") is None
    assert store.login("nobody", "s3cret-pass") is None
    issued = store.login("ada", "s3cret-pass")
    assert issued is not None
    assert issued.token.startswith("weir_s_")
    assert issued.expires_at == clock.now + timedelta(hours=1)
    principal = store.authenticate(issued.token)
    assert principal is not None
    assert (principal.user, principal.credential) == (user, "session")
    clock.now += timedelta(minutes=59)
    assert store.authenticate(issued.token) is not None
    clock.now += timedelta(minutes=1)
    assert store.authenticate(issued.token) is None


def test_expired_sessions_are_purged_at_the_next_login(
    store: AuthStore, clock: Clock, engine: Engine
) -> None:
    store.create_user("ada", "s3cret-pass", Role.EDITOR)
    store.login("ada", "s3cret-pass")
    clock.now += timedelta(hours=2)
    store.login("ada", "s3cret-pass")
    with engine.connect() as connection:
        assert len(connection.execute(select(UserSession.id)).all()) == 1


def test_logout_ends_only_that_session(store: AuthStore) -> None:
    store.create_user("ada", "s3cret-pass", Role.EDITOR)
    first, second = store.login("ada", "s3cret-pass"), store.login("ada", "s3cret-pass")
    assert first is not None
    assert second is not None
    principal = store.authenticate(first.token)
    assert principal is not None
    store.logout(principal.credential_id)
    assert store.authenticate(first.token) is None
    assert store.authenticate(second.token) is not None


def test_api_keys(store: AuthStore, engine: Engine) -> None:
    ada = store.create_user("ada", "s3cret-pass", Role.EDITOR)
    bob = store.create_user("bob", "s3cret-pass", Role.VIEWER)
    key, record = store.create_api_key(ada.id, "ci")
    store.create_api_key(bob.id, "grafana")
    assert key.startswith("weir_k_")
    assert record.hint == key[-4:]
    principal = store.authenticate(key)
    assert principal is not None
    assert (principal.user.username, principal.credential, principal.credential_id) == (
        "ada",
        "api_key",
        record.id,
    )
    assert [k.name for k in store.list_api_keys(ada.id)] == ["ci"]
    assert [k.name for k in store.list_api_keys()] == ["ci", "grafana"]
    with engine.connect() as connection:
        assert key not in str(connection.execute(select(ApiKey.token_hash, ApiKey.hint)).all())
    store.delete_api_key(record.id)
    assert store.authenticate(key) is None
    with pytest.raises(NotFoundError):
        store.delete_api_key(record.id)
    with pytest.raises(NotFoundError):
        store.create_api_key(9999, "nobody's")


@pytest.mark.parametrize("token", ["", "weir_k_", "weir_s_x", "random", "weir_x_abc"])
def test_unknown_tokens(store: AuthStore, token: str) -> None:
    store.create_user("ada", "s3cret-pass", Role.OWNER)
    assert store.authenticate(token) is None


def test_a_new_password_ends_sessions_but_not_api_keys(store: AuthStore) -> None:
    ada = store.create_user("ada", "s3cret-pass", Role.EDITOR)
    issued = store.login("ada", "s3cret-pass")
    key, _record = store.create_api_key(ada.id, "ci")
    assert issued is not None
    store.update_user(ada.id, password="new-s3cret-pass")
    assert store.authenticate(issued.token) is None
    assert store.authenticate(key) is not None
    assert store.login("ada", "s3cret-pass") is None
    assert store.login("ada", "new-s3cret-pass") is not None


def test_the_last_owner_cannot_be_demoted_or_deleted(store: AuthStore) -> None:
    ada = store.create_user("ada", "s3cret-pass", Role.OWNER)
    with pytest.raises(ConflictError, match="last owner"):
        store.update_user(ada.id, role=Role.EDITOR)
    with pytest.raises(ConflictError, match="last owner"):
        store.delete_user(ada.id)
    bob = store.create_user("bob", "s3cret-pass", Role.OWNER)
    assert store.update_user(ada.id, role=Role.VIEWER).role is Role.VIEWER
    with pytest.raises(ConflictError):
        store.delete_user(bob.id)
    assert store.update_user(ada.id, role=Role.OWNER).role is Role.OWNER
    store.delete_user(bob.id)
    with pytest.raises(NotFoundError):
        store.get_user(bob.id)


def test_deleting_a_user_revokes_their_credentials(store: AuthStore) -> None:
    store.create_user("ada", "s3cret-pass", Role.OWNER)
    bob = store.create_user("bob", "s3cret-pass", Role.EDITOR)
    key, _record = store.create_api_key(bob.id, "ci")
    issued = store.login("bob", "s3cret-pass")
    assert issued is not None
    store.delete_user(bob.id)
    assert store.authenticate(key) is None
    assert store.authenticate(issued.token) is None
    assert store.list_api_keys() == []


def test_checked_tokens_are_cached_briefly(engine: Engine, clock: Clock) -> None:
    here = AuthStore(engine, clock=clock, cache_seconds=0.3)
    elsewhere = AuthStore(engine, clock=clock)  # another process sharing the database
    ada = here.create_user("ada", "s3cret-pass", Role.EDITOR)
    key, record = here.create_api_key(ada.id, "ci")
    assert here.cached(key) is None
    assert here.authenticate(key) is not None
    assert here.cached(key) is not None
    elsewhere.delete_api_key(record.id)
    assert here.authenticate(key) is not None  # not seen yet: the cache still trusts it
    time.sleep(0.35)
    assert here.authenticate(key) is None


def test_changes_through_the_store_clear_the_cache_at_once(engine: Engine, clock: Clock) -> None:
    store = AuthStore(engine, clock=clock, cache_seconds=60)
    ada = store.create_user("ada", "s3cret-pass", Role.OWNER)
    store.create_user("bob", "s3cret-pass", Role.OWNER)
    key, record = store.create_api_key(ada.id, "ci")
    assert store.authenticate(key) is not None
    store.update_user(ada.id, role=Role.VIEWER)
    principal = store.authenticate(key)
    assert principal is not None
    assert principal.user.role is Role.VIEWER
    store.delete_api_key(record.id)
    assert store.authenticate(key) is None


def test_a_cached_session_still_expires(store: AuthStore, clock: Clock) -> None:
    store.create_user("ada", "s3cret-pass", Role.EDITOR)
    issued = store.login("ada", "s3cret-pass")
    assert issued is not None
    assert store.authenticate(issued.token) is not None
    clock.now += timedelta(hours=1)
    assert store.cached(issued.token) is None
    assert store.authenticate(issued.token) is None
