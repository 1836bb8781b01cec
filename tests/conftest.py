"""Shared fixtures: a PostgreSQL URL for the tests that need a real server.

On a developer's laptop without PostgreSQL those tests skip. CI sets
INTERBANK_REQUIRE_PG=1, which turns an unreachable server into a failure instead.
"""

from __future__ import annotations

import os

import pytest

PG_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/interbank_test"


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("INTERBANK_TEST_PG", PG_URL_DEFAULT)
    required = os.environ.get("INTERBANK_REQUIRE_PG") == "1"
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except Exception as error:  # no driver, no server, no database: all the same here
        if required:
            pytest.fail(f"PostgreSQL required (INTERBANK_REQUIRE_PG=1) but {url} fails: {error}")
        pytest.skip(f"no PostgreSQL at {url}: {error}")
    return url
