import pytest

from tests.e2e.portal import start_portal


@pytest.fixture(scope="session")
def portal(real_servers, tmp_path_factory):
    """The whole portal on the real servers, started once for the end-to-end and browser tests."""
    running = start_portal(real_servers, tmp_path_factory.mktemp("portal"))
    yield running
    running.group.stop_all()
