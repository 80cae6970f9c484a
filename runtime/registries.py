"""Compiled registries by blueprint id and version, compiled on demand."""

from __future__ import annotations

from legato.runtime.compiler import compile_blueprint, compile_structure
from legato.runtime.errors import UnknownBlueprintError
from legato.runtime.nodes import NodeCatalog
from legato.runtime.ports import BlueprintStore
from legato.runtime.registry import Registry


class Registries:
    """Registries compiled from a ``BlueprintStore`` (with this process's node code)."""

    def __init__(self, blueprints: BlueprintStore, catalog: NodeCatalog | None = None) -> None:
        self._blueprints = blueprints
        self._catalog = catalog
        self._compiled: dict[tuple[str, str], Registry] = {}

    def add(self, registry: Registry) -> None:
        self._compiled[(registry.id, registry.version)] = registry

    async def get(self, blueprint_id: str, version: str) -> Registry:
        """The runnable registry; ``UnknownBlueprintError`` if it is not registered or
        does not compile here (its node code is missing)."""
        reg = self._compiled.get((blueprint_id, version))
        if reg is not None:
            return reg
        bp = await self._blueprints.get_blueprint(blueprint_id, version)
        if bp is None:
            raise UnknownBlueprintError(
                f"blueprint {blueprint_id!r} version {version!r} is not registered"
            )
        try:
            reg = compile_blueprint(bp, self._catalog)
        except Exception as exc:
            raise UnknownBlueprintError(
                f"blueprint {blueprint_id!r} version {version!r} does not compile here: {exc}"
            ) from exc
        self._compiled[(blueprint_id, version)] = reg
        return reg

    async def structure(self, blueprint_id: str, version: str) -> Registry:
        """The registry if it compiles here, else the blueprint's structure (for
        routing and reports without the node code)."""
        try:
            return await self.get(blueprint_id, version)
        except UnknownBlueprintError:
            bp = await self._blueprints.get_blueprint(blueprint_id, version)
            if bp is None:
                raise
            return compile_structure(bp)
