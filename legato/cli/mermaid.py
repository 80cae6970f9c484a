"""Blueprints as Mermaid flowcharts."""

from __future__ import annotations

from legato.schemas import Blueprint, Edge


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


def mermaid(bp: Blueprint) -> str:
    """``flowchart TD`` text: loop back edges dotted, fallbacks as dotted links."""
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
    return "\n".join(lines)
