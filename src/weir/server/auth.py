"""Users, roles, sessions and API keys: `AuthStore`, the one reader and writer of their tables.

Roles (`Role`): an *owner* may do everything, including managing users and other users' API
keys; an *editor* may change pipelines, blocks, triggers and runs; a *viewer* may only read.
There is no default user and no default password: the first owner is made by
`weir users create` or generated once by `weir start` (see `weir.server.serve`).

A request proves who it is with `Authorization: Bearer <token>`, the token being either a
session token (from `login`, expires) or an API key (from `create_api_key`, lives until
deleted). Only their SHA-256 digests are stored (see `weir.server.credentials`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from weir.errors import ConflictError, NotFoundError
from weir.runs.database import WRITE_OPTION
from weir.server.credentials import (
    API_KEY_PREFIX,
    SESSION_PREFIX,
    dummy_hash,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from weir.server.models import ApiKey, User, UserSession

__all__ = [
    "AUTH_CACHE_SECONDS",
    "DEFAULT_SESSION_LIFETIME",
    "MIN_PASSWORD_LENGTH",
    "USERNAME_PATTERN",
    "ApiKeyRecord",
    "AuthStore",
    "IssuedSession",
    "Principal",
    "Role",
    "UserRecord",
]

DEFAULT_SESSION_LIFETIME: Final = timedelta(hours=12)
AUTH_CACHE_SECONDS: Final = 5.0
"""How long a checked token is trusted without asking the database again, in seconds.

Changes made through this store (logout, a key deleted, a user changed or deleted) clear the
cache at once; a change made by another process (`weir users`, another server) takes effect
within this time. It spares each request a query and a worker thread."""
_CACHE_LIMIT: Final = 10_000
MIN_PASSWORD_LENGTH: Final = 8
USERNAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,149}$"
_USERNAME = re.compile(USERNAME_PATTERN)


class Role(StrEnum):
    """What a user may do. Values are stored in `user_account.role`."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def can_write(self) -> bool:
        """Owners and editors may change things; viewers may not."""
        return self is not Role.VIEWER


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as stored, without the password hash."""

    id: int
    username: str
    role: Role
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: never the key itself, only its last characters (`hint`)."""

    id: int
    user_id: int
    name: str
    hint: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new login: the bearer `token` (shown once) and when it stops working (UTC)."""

    token: str
    expires_at: datetime
    user: UserRecord


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the user, and which credential (`session` or `api_key`, its id)."""

    user: UserRecord
    credential: Literal["session", "api_key"]
    credential_id: int


def _user(row: User) -> UserRecord:
    return UserRecord(
        id=row.id, username=row.username, role=Role(row.role), created_at=row.created_at
    )


def _key(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id, user_id=row.user_id, name=row.name, hint=row.hint, created_at=row.created_at
    )


def check_username(username: str) -> None:
    """Raise ValueError unless `username` matches `USERNAME_PATTERN` (1-150 characters)."""
    if not _USERNAME.fullmatch(username):
        raise ValueError(
            f"username {username!r} is not allowed: use 1-150 letters, digits, '_', '.', '@' "
            "or '-', starting with a letter or digit"
        )


def check_password(password: str) -> None:
    """Raise ValueError if `password` is shorter than `MIN_PASSWORD_LENGTH` characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


class AuthStore:
    """Users, sessions and API keys in the metadata database.

    Thread-safe: one short session per call, as `weir.runs.RunStore`.

    Args:
        engine: the metadata database's engine, schema at head (from `weir.runs.connect` or
            `RunStore.engine`); shared, not disposed here.
        clock: the current time, timezone-aware; tests pass a fake one.
        session_lifetime: how long a login's token works.
        cache_seconds: how long `authenticate` trusts a token it checked (see
            `AUTH_CACHE_SECONDS`); 0 asks the database every time.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        session_lifetime: timedelta = DEFAULT_SESSION_LIFETIME,
        cache_seconds: float = AUTH_CACHE_SECONDS,
    ) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._lock_rows = engine.dialect.name == "postgresql"
        self._clock = clock
        self._session_lifetime = session_lifetime
        self._cache_seconds = cache_seconds
        # token digest -> (monotonic time checked, principal, session expiry or None)
        self._cache: dict[str, tuple[float, Principal, datetime | None]] = {}

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        # Any change may revoke a credential or a role: forget what was checked.
        self._cache.clear()
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session
        self._cache.clear()

    # -- users ----------------------------------------------------------------------------

    def create_user(self, username: str, password: str, role: Role) -> UserRecord:
        """Add a user.

        Args:
            username: 1-150 characters (see `USERNAME_PATTERN`); unique.
            password: at least `MIN_PASSWORD_LENGTH` characters; stored as a scrypt hash.
            role: the user's role.

        Returns:
            The new user.

        Raises:
            ValueError: the username or password breaks the rules above.
            ConflictError: the username is taken.
        """
        check_username(username)
        check_password(password)
        row = User(
            username=username,
            role=Role(role).value,
            password_hash=hash_password(password),
            created_at=self._clock(),
        )
        try:
            with self._writing() as session:
                session.add(row)
                session.flush()
                return _user(row)
        except IntegrityError:
            raise ConflictError(f"a user named '{username}' exists already") from None

    def list_users(self) -> list[UserRecord]:
        """Every user, by id."""
        with self._reading() as session:
            return [_user(row) for row in session.scalars(select(User).order_by(User.id))]

    def count_owners(self) -> int:
        """How many users have the owner role."""
        with self._reading() as session:
            query = select(func.count()).select_from(User).where(User.role == Role.OWNER.value)
            return session.scalar(query) or 0

    def get_user(self, user_id: int) -> UserRecord:
        """The user `user_id`.

        Raises:
            NotFoundError: no such user.
        """
        with self._reading() as session:
            return _user(self._find_user(session, user_id))

    def _find_user(self, session: Session, user_id: int) -> User:
        query = select(User).where(User.id == user_id)
        if self._lock_rows:
            query = query.with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None:
            raise NotFoundError(f"no user with id {user_id}")
        return row

    def _other_owners(self, session: Session, user_id: int) -> int:
        query = select(User.id).where(User.role == Role.OWNER.value, User.id != user_id)
        if self._lock_rows:
            query = query.with_for_update()
        return len(session.scalars(query).all())

    def update_user(
        self, user_id: int, *, role: Role | None = None, password: str | None = None
    ) -> UserRecord:
        """Change a user's role and/or password.

        Raises:
            NotFoundError: no such user.
            ValueError: the new password is too short.
            ConflictError: the change would leave the project without an owner.
        """
        if password is not None:
            check_password(password)
        with self._writing() as session:
            row = self._find_user(session, user_id)
            if role is not None and Role(role) is not Role.OWNER and row.role == Role.OWNER.value:
                self._keep_an_owner(session, row)
                row.role = Role(role).value
            elif role is not None:
                row.role = Role(role).value
            if password is not None:
                row.password_hash = hash_password(password)
                # A new password ends every login made with the old one.
                session.execute(delete(UserSession).where(UserSession.user_id == user_id))
            session.flush()
            return _user(row)

    def _keep_an_owner(self, session: Session, row: User) -> None:
        if self._other_owners(session, row.id) == 0:
            raise ConflictError(
                f"'{row.username}' is the last owner; make another user owner first"
            )

    def delete_user(self, user_id: int) -> None:
        """Remove a user with their sessions and API keys.

        Raises:
            NotFoundError: no such user.
            ConflictError: the user is the last owner.
        """
        with self._writing() as session:
            row = self._find_user(session, user_id)
            if row.role == Role.OWNER.value:
                self._keep_an_owner(session, row)
            session.execute(delete(UserSession).where(UserSession.user_id == user_id))
            session.execute(delete(ApiKey).where(ApiKey.user_id == user_id))
            session.delete(row)

    # -- sessions -------------------------------------------------------------------------

    def login(self, username: str, password: str) -> IssuedSession | None:
        """Check a username and password and, if they match, open a session.

        Takes as long for an unknown username as for a wrong password (one scrypt check
        either way), so the answer does not tell which usernames exist.

        Returns:
            The session's token (shown once) and expiry, or None when the credentials are wrong.
        """
        with self._reading() as session:
            row = session.scalars(select(User).where(User.username == username)).one_or_none()
            stored = row.password_hash if row is not None else dummy_hash()
            user = _user(row) if row is not None else None
        if not verify_password(password, stored) or user is None:
            return None
        token = new_token(SESSION_PREFIX)
        now = self._clock()
        expires_at = now + self._session_lifetime
        with self._writing() as session:
            session.execute(delete(UserSession).where(UserSession.expires_at <= now))
            session.add(
                UserSession(
                    user_id=user.id,
                    token_hash=token_digest(token),
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return IssuedSession(token=token, expires_at=expires_at.astimezone(UTC), user=user)

    def logout(self, session_id: int) -> None:
        """End a session (its token stops working at once); nothing happens if it is gone."""
        with self._writing() as session:
            session.execute(delete(UserSession).where(UserSession.id == session_id))

    # -- API keys -------------------------------------------------------------------------

    def create_api_key(self, user_id: int, name: str) -> tuple[str, ApiKeyRecord]:
        """Make an API key for a user.

        Args:
            user_id: whose key it is; the key acts with that user's role.
            name: what the key is for (shown in listings), 1-255 characters.

        Returns:
            The key itself (shown this once, never stored) and its record.

        Raises:
            NotFoundError: no such user.
        """
        token = new_token(API_KEY_PREFIX)
        with self._writing() as session:
            self._find_user(session, user_id)
            row = ApiKey(
                user_id=user_id,
                name=name,
                token_hash=token_digest(token),
                hint=token[-4:],
                created_at=self._clock(),
            )
            session.add(row)
            session.flush()
            return token, _key(row)

    def list_api_keys(self, user_id: int | None = None) -> list[ApiKeyRecord]:
        """API keys by id: every key, or only `user_id`'s."""
        query = select(ApiKey).order_by(ApiKey.id)
        if user_id is not None:
            query = query.where(ApiKey.user_id == user_id)
        with self._reading() as session:
            return [_key(row) for row in session.scalars(query)]

    def get_api_key(self, key_id: int) -> ApiKeyRecord:
        """The API key `key_id`.

        Raises:
            NotFoundError: no such key.
        """
        with self._reading() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            return _key(row)

    def delete_api_key(self, key_id: int) -> None:
        """Revoke an API key (it stops working at once).

        Raises:
            NotFoundError: no such key.
        """
        with self._writing() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"no API key with id {key_id}")
            session.delete(row)

    # -- requests -------------------------------------------------------------------------

    def cached(self, token: str) -> Principal | None:
        """The principal of a token checked less than `cache_seconds` ago, without a query.

        Returns:
            The principal, or None when the token was not checked recently (ask
            `authenticate`) or its session has expired since.
        """
        entry = self._cache.get(token_digest(token))
        if entry is None:
            return None
        checked, principal, expires_at = entry
        if time.monotonic() - checked >= self._cache_seconds:
            return None
        if expires_at is not None and expires_at <= self._clock():
            return None
        return principal

    def authenticate(self, token: str) -> Principal | None:
        """Who a bearer token belongs to (from the cache when checked recently, see `cached`).

        Args:
            token: the token from `Authorization: Bearer <token>`.

        Returns:
            The user and credential, or None for an unknown, revoked or expired token.
        """
        principal = self.cached(token)
        if principal is not None:
            return principal
        found = self._lookup(token)
        if found is None:
            return None
        principal, expires_at = found
        if self._cache_seconds > 0:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[token_digest(token)] = (time.monotonic(), principal, expires_at)
        return principal

    def _lookup(self, token: str) -> tuple[Principal, datetime | None] | None:
        digest = token_digest(token)
        with self._reading() as session:
            if token.startswith(SESSION_PREFIX):
                login = session.execute(
                    select(User, UserSession.id, UserSession.expires_at)
                    .join(UserSession, UserSession.user_id == User.id)
                    .where(UserSession.token_hash == digest, UserSession.expires_at > self._clock())
                ).one_or_none()
                if login is None:
                    return None
                user, session_id, expires_at = login
                return Principal(_user(user), "session", session_id), expires_at
            if token.startswith(API_KEY_PREFIX):
                key = session.execute(
                    select(User, ApiKey.id)
                    .join(ApiKey, ApiKey.user_id == User.id)
                    .where(ApiKey.token_hash == digest)
                ).one_or_none()
                if key is None:
                    return None
                return Principal(_user(key[0]), "api_key", key[1]), None
            return None
