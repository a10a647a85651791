"""Passwords and bearer tokens: generating, hashing and checking them.

Passwords are hashed with scrypt (stdlib `hashlib.scrypt`, RFC 7914) and a random 16-byte salt
per password; the stored form carries its parameters, `scrypt$<n>$<r>$<p>$<salt>$<hash>` (salt
and hash base64url), so the cost can rise later without breaking old hashes. n=2**14, r=8, p=1
is the cost OWASP lists for scrypt (about 16 MiB and 50 ms per check).

Tokens (session tokens and API keys) are 32 random bytes, base64url, behind a prefix saying what
they are (`weir_s_` session, `weir_k_` key) so a leaked one is recognisable by secret scanners.
They carry 256 bits of entropy, so a fast hash (SHA-256) is safe to store and to look them up
by: a slow hash adds nothing against guessing 2**256 values.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from typing import Final

__all__ = [
    "API_KEY_PREFIX",
    "SESSION_PREFIX",
    "dummy_hash",
    "hash_password",
    "new_password",
    "new_token",
    "token_digest",
    "verify_password",
]

SESSION_PREFIX: Final = "weir_s_"
API_KEY_PREFIX: Final = "weir_k_"

_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_KEY_BYTES: Final = 32
_SALT_BYTES: Final = 16
_MAX_PASSWORD_BYTES: Final = 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode()[:_MAX_PASSWORD_BYTES]
    # maxmem: scrypt needs 128 * n * r bytes; OpenSSL's default cap (32 MiB) is too tight at n=2**15.
    return hashlib.scrypt(
        secret, salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=256 * n * r + 2**20
    )


def hash_password(password: str) -> str:
    """Hash a password for storage.

    Args:
        password: the clear-text password (only its first 1,024 UTF-8 bytes count).

    Returns:
        `scrypt$n$r$p$salt$hash`, about 90 ASCII characters.
    """
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Check a password against a stored hash, in constant time for a given hash.

    Args:
        password: the clear-text password given at login.
        stored: a value from `hash_password`.

    Returns:
        True when they match; False when not, or when `stored` is not a hash this module wrote.
    """
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash that no password matches, made on first use (50 ms) rather than at import.

    Checked when a username is unknown, so the answer takes as long as for a known one.
    """
    return hash_password(secrets.token_urlsafe(16))


def new_token(prefix: str) -> str:
    """A fresh bearer token: `prefix` + 43 base64url characters (32 random bytes)."""
    return prefix + secrets.token_urlsafe(_KEY_BYTES)


def token_digest(token: str) -> str:
    """The SHA-256 of a token, hex (64 characters): what the database stores and looks up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    """A generated password: 24 base64url characters (18 random bytes, 144 bits)."""
    return secrets.token_urlsafe(18)
