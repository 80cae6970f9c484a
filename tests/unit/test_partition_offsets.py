"""PartitionOffsets: the committed offset never passes an unfinished job."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from legato.adapters.kafka.offsets import PartitionOffsets


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30).flatmap(lambda n: st.permutations(range(n))), st.integers(0, 1000))
def test_committable_is_the_lowest_unfinished_offset(order: list[int], base: int) -> None:
    offsets = PartitionOffsets()
    for i in range(len(order)):
        offsets.started(base + i)
    done: set[int] = set()
    for i in order:
        offsets.finished(base + i)
        done.add(i)
        lowest_open = min((j for j in range(len(order)) if j not in done), default=len(order))
        expected = base + lowest_open
        got = offsets.committable()
        assert got in (expected, None)
        if got is None:  # nothing new since the last commit
            assert offsets.committed == expected
        offsets.committed = expected
        assert offsets.in_flight() == len(order) - len(done)


def test_nothing_new_to_commit_unless_forced() -> None:
    offsets = PartitionOffsets()
    assert offsets.committable() is None  # nothing fetched yet
    offsets.started(7)
    assert offsets.committable() == 7  # the unfinished job itself is the commit point
    offsets.committed = 7
    assert offsets.committable() is None
    assert offsets.committable(force=True) == 7
    offsets.finished(7)
    assert offsets.committable() == 8
