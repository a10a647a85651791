"""Password hashing and tokens."""

from __future__ import annotations

from weir.server.credentials import (
    API_KEY_PREFIX,
    SESSION_PREFIX,
    dummy_hash,
    hash_password,
    new_password,
    new_token,
    token_digest,
    verify_password,
)


def test_password_round_trip_and_salt() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second  # a salt per hash
    assert first.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in first
    assert verify_password("correct horse", first)
    assert verify_password("correct horse", second)
    assert not verify_password("correct hors", first)
    assert not verify_password("", first)


def test_malformed_or_foreign_hashes_never_match() -> None:
    for stored in ("", "plain", "bcrypt$x$y$z$a$b", "scrypt$a$b$c$d$e", "scrypt$16384$8$1$!!$!!"):
        assert not verify_password("anything", stored)
    assert not verify_password("anything", dummy_hash())


def test_tokens_are_prefixed_random_and_stored_as_sha256() -> None:
    tokens = {new_token(API_KEY_PREFIX) for _ in range(100)}
    assert len(tokens) == 100
    token = next(iter(tokens))
    assert token.startswith("weir_k_")
    assert len(token) == len("weir_k_") + 43
    assert new_token(SESSION_PREFIX).startswith("weir_s_")
    digest = token_digest(token)
    assert len(digest) == 64
    assert token not in digest
    assert digest == token_digest(token) != token_digest(token + "x")


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 24 for p in passwords)
