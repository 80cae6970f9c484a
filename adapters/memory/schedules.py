"""In-process schedules (part of ``MemoryRunStore``)."""

from __future__ import annotations

import msgspec

from legato.schemas.schedules import Schedule

_enc = msgspec.msgpack.Encoder()
_dec_schedule = msgspec.msgpack.Decoder(Schedule)


class MemorySchedules:
    """The schedules part of ``MemoryRunStore`` (mixed in)."""

    _schedules: dict[str, tuple[bytes, float | None]]

    async def put_schedule(self, schedule: Schedule) -> None:
        armed = self._schedules.get(schedule.name, (b"", None))[1]
        self._schedules[schedule.name] = (_enc.encode(schedule), armed)

    async def get_schedule(self, name: str) -> tuple[Schedule, float | None] | None:
        kept = self._schedules.get(name)
        return (_dec_schedule.decode(kept[0]), kept[1]) if kept is not None else None

    async def list_schedules(self) -> list[tuple[Schedule, float | None]]:
        return [(_dec_schedule.decode(b), a) for _, (b, a) in sorted(self._schedules.items())]

    async def delete_schedule(self, name: str) -> bool:
        return self._schedules.pop(name, None) is not None

    async def arm_schedule(self, name: str, expected: float | None, tick: float) -> bool:
        kept = self._schedules.get(name)
        if kept is None or kept[1] != expected:
            return False
        self._schedules[name] = (kept[0], tick)
        return True
