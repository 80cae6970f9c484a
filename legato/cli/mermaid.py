"""Blueprints as Mermaid flowcharts."""

from __future__ import annotations

from collections.abc import Mapping

from legato.schemas import Blueprint, Edge

# Fill, stroke and text colours of each step status (legato graph --run).
STATUS_STYLES = {
    "completed": "fill:#d3f9d8,stroke:#2b8a3e,color:#1b4d26",
    "failed": "fill:#ffe3e3,stroke:#c92a2a,color:#7a1414",
    "skipped": "fill:#f1f3f5,stroke:#adb5bd,color:#868e96,stroke-dasharray:4 3",
    "running": "fill:#fff3bf,stroke:#e67700,color:#663c00",
    "pending": "fill:#ffffff,stroke:#ced4da,color:#495057",
}


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")


def _edge_label(e: Edge) -> str:
    parts = []
    if e.action:
        parts.append(e.action)
    if e.condition:
        parts.append(f"if {e.condition}")
    if e.loop is not None:
        parts.append(f"loop ≤{e.loop.max_iterations}")
    return _label(" / ".join(parts))


def mermaid(bp: Blueprint, statuses: Mapping[str, str] | None = None) -> str:
    """``flowchart TD`` text: loop back edges dotted, fallbacks as dotted links.

    With ``statuses`` (node id -> a key of ``STATUS_STYLES``), each node gets the
    class of its status: one ``classDef`` per status and one ``class`` line per
    status in use.
    """
    ids = {n.id: f"n{i}" for i, n in enumerate(bp.nodes)}
    lines = ["flowchart TD"]
    for n in bp.nodes:
        lines.append(f'    {ids[n.id]}["{_label(n.id)}<br/><small>{_label(n.uses)}</small>"]')
    for e in bp.edges:
        if e.source not in ids or e.target not in ids:
            continue
        label = _edge_label(e)
        arrow = "-.->" if e.loop is not None else "-->"
        text = f"|{label}|" if label else ""
        lines.append(f"    {ids[e.source]} {arrow}{text} {ids[e.target]}")
    for n in bp.nodes:
        fb = n.config.fallback
        if fb is not None and fb in ids:
            lines.append(f"    {ids[n.id]} -.->|fallback| {ids[fb]}")
    if statuses is not None:
        lines += [f"    classDef {name} {style}" for name, style in STATUS_STYLES.items()]
        for name in STATUS_STYLES:
            members = [ids[n.id] for n in bp.nodes if statuses.get(n.id) == name]
            if members:
                lines.append(f"    class {','.join(members)} {name}")
    return "\n".join(lines)
