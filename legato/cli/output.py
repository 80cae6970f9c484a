"""What commands print: ``-o/--output table|json|jsonl``, tables.

JSON output goes through ``legato.cli.jsontext`` (always valid JSON, whatever a
node returned). Tables: on a terminal, drawn by rich with colour (``NO_COLOR``
turns colour off, ``FORCE_COLOR`` forces a terminal); to a pipe or file, plain
columns padded with spaces, without colour, one record a line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from legato.cli.jsontext import dumps, plain
from legato.cli.tables import short, table

FORMATS = ("table", "json", "jsonl")

# Words coloured in tables on a terminal (a status, or an event type that ends in one).
_STYLES = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "waiting": "cyan",
    "skipped": "dim",
    "created": "green",
    "exists": "dim",
}


def add_output_argument(
    parser: argparse.ArgumentParser, default: str, json_alias: str | None = None
) -> None:
    """``-o/--output`` (and ``--json``, an alias of ``-o json_alias``, where it existed)."""
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        default=default,
        help=f"table, json (one document) or jsonl (one record a line); default {default}",
    )
    if json_alias is not None:
        parser.add_argument(
            "--json",
            dest="output",
            action="store_const",
            const=json_alias,
            help=f"the same as -o {json_alias}",
        )


def emit(
    records: Any,
    fmt: str,
    *,
    many: bool = False,
    columns: Sequence[str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Print one record (a mapping or Struct) or, with ``many``, a list of records.

    ``table`` prints a record as ``key value`` lines (a mapping value as one line per
    key, ``outputs.a``), a list as columns (``columns``, or every key seen)."""
    out = out or sys.stdout
    if fmt == "json":
        print(dumps(list(records) if many else records), file=out)
    elif fmt == "jsonl":
        for record in records if many else [records]:
            print(dumps(record), file=out)
    elif many:
        rows = [plain(r) for r in records]
        heads = list(columns or dict.fromkeys(k for r in rows for k in r))
        show_table(
            [h.upper() for h in heads], [[_cell(r.get(h)) for h in heads] for r in rows], out=out
        )
    else:
        show_table(None, record_rows(plain(records)), out=out)


def record_rows(record: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for key, value in record.items():
        if isinstance(value, Mapping) and value:
            rows += [[f"{key}.{k}", _cell(v)] for k, v in value.items()]
        else:
            rows.append([key, _cell(value)])
    return rows


def _cell(value: Any) -> str:
    return "" if value is None else short(value)


def show_table(
    headers: Sequence[str] | None, rows: Iterable[Sequence[str]], out: TextIO | None = None
) -> None:
    """Columns: rich's on a terminal (coloured unless NO_COLOR), plain text otherwise."""
    from rich.console import Console

    out = out or sys.stdout
    console = Console(file=out, highlight=False, soft_wrap=False)
    body = [list(r) for r in rows]
    if not console.is_terminal:
        print(table(headers, body), file=out)
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    grid = Table(
        box=box.SIMPLE_HEAD if headers else None,
        show_header=headers is not None,
        header_style="bold",
        pad_edge=False,
    )
    for head in headers or [""] * (len(body[0]) if body else 0):
        grid.add_column(head, overflow="fold")
    for row in body:
        grid.add_row(*(Text(cell, style=_style(cell)) for cell in row))
    console.print(grid)


def _style(cell: str) -> str:
    word = cell.rsplit("_", 1)[-1]
    return _STYLES.get(word, "") if word == cell or cell.startswith(("run_", "step_")) else ""
