import pytest

from documents.server.runtime import current_registry


@pytest.fixture
async def shut_down_rooms():
    """Commit and close the test loop's rooms after the test, as a server would at exit."""
    yield
    registry = current_registry()
    if registry is not None:
        await registry.shutdown()
