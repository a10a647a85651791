"""Fixtures shared by every test; the real-service ones live in `tests/services.py`."""

from tests.services import mysql_database, postgres_database, postgres_url

__all__ = ["mysql_database", "postgres_database", "postgres_url"]
