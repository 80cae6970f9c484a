"""The contract suite of each port: every implementation passes it unchanged.

Each suite is a class of pytest tests; subclass it in a ``Test...`` class and
give the fixture it names (see each class), e.g. for your own RunStore::

    from legato.testing.contract import RunStoreContract

    class TestMyStore(RunStoreContract):
        @pytest.fixture
        async def store(self):
            yield await MyStore.open(...)

The tests are async (``pytest-asyncio`` in auto mode runs them).
"""

from legato.testing.contract.coordinator import CoordinatorContract, count_cases, join_cases
from legato.testing.contract.jobbus import JobBusContract
from legato.testing.contract.runstore import RunStoreContract
from legato.testing.contract.timers import TimerHarness, TimersContract

__all__ = [
    "CoordinatorContract",
    "JobBusContract",
    "RunStoreContract",
    "TimerHarness",
    "TimersContract",
    "count_cases",
    "join_cases",
]
