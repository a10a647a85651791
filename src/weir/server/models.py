"""ORM tables of the server's users, API keys and sessions, in the metadata database.

They share `weir.runs.models.Base` so one Alembic history (`weir/runs/migrations`, revision
`0003`) owns the whole schema, and the schema-vs-models test sees them. Private to
`weir.server`: `weir.server.auth.AuthStore` is the only reader and writer, and hands out frozen
records. No secret is stored in clear: a password as its scrypt hash, a session token or API
key as the SHA-256 of the token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from weir.runs.models import Base, UTCDateTime

__all__ = ["ApiKey", "User", "UserSession"]


class User(Base):
    """A person (or service) who may call the API, with one role."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A long-lived bearer token of one user; shown once when created."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserSession(Base):
    """A login: a bearer token that expires."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
