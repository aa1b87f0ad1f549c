"""Fixtures of the integration suite: one PostgreSQL and one S3 server per session."""

import pytest

from tests.integration.servers import BUCKET, new_database, postgres_server, s3_server

__all__ = ["BUCKET"]


@pytest.fixture(scope="session")
def postgres_server_url():
    with postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """A new, empty database on the session's server for each test."""
    return new_database(postgres_server_url)


@pytest.fixture(scope="session")
def s3_endpoint():
    with s3_server() as endpoint:
        yield endpoint
