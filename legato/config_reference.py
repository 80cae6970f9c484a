"""docs/configuration.md, generated from the settings classes and the command options.

The meaning of each setting is the ``Attributes:`` section of its class's
docstring (the server settings re-exported by ``legato.config``, and
``Limits``); the URL query keys are the mappings that ``from_url`` itself uses;
the options of `legato worker` and `legato reconcile` come from their argument
parsers. ``legato config reference`` prints the page;
tests/unit/test_config_reference.py fails when the committed file differs.
"""

from __future__ import annotations

import argparse
import inspect
import re
from dataclasses import MISSING, Field, fields
from typing import Any

from legato import config

COMMAND = "legato config reference > docs/configuration.md"

# Settings set by a part of the URL other than its query: {class: {field: how}}.
# Fields in neither this nor the class's query keys can be set only in the TOML file.
URL_PARTS: dict[type, dict[str, str]] = {
    config.KafkaSettings: {
        "bootstrap": "`kafka://HOST:PORT,HOST:PORT`",
        "options": "any other query key; `kafka+ssl://` sets `security.protocol`, "
        "`USER:PASS@` SASL PLAIN",
    },
    config.CassandraSettings: {
        "hosts": "`cassandra://HOST,HOST`",
        "port": "`:PORT` (the same for every host)",
        "keyspace": "`/KEYSPACE`",
        "username": "`USER:PASS@`",
        "password": "`USER:PASS@`",
    },
    config.RedisSettings: {"url": "the whole URL"},
}
URL_KEYS: dict[type, dict[str, str]] = {
    config.KafkaSettings: config.KAFKA_URL_KEYS,
    config.CassandraSettings: config.CASSANDRA_URL_KEYS,
    config.RedisSettings: {},
}
SECTIONS = [
    ("kafka", config.KafkaSettings, config.ENV_KAFKA),
    ("cassandra", config.CassandraSettings, config.ENV_CASSANDRA),
    ("redis", config.RedisSettings, config.ENV_REDIS),
]
COMMANDS = ["worker", "reconcile", "server"]


def attribute_docs(cls: type) -> dict[str, str]:
    """``{name: text}`` from the ``Attributes:`` section of ``cls``'s docstring."""
    doc = inspect.getdoc(cls) or ""
    _, found, section = doc.partition("\nAttributes:\n")
    docs: dict[str, str] = {}
    name = None
    for line in section.splitlines() if found else []:
        m = re.match(r"    (\w+): (.*)", line)
        if m:
            name, docs[m.group(1)] = m.group(1), m.group(2)
        elif line.startswith("        ") and name:
            docs[name] += " " + line.strip()
        elif line.strip():
            break
    return docs


def _intro(doc: str | None) -> str:
    """The docstring up to its Attributes/Args section, paragraphs on one line each."""
    text = re.split(r"\n(?:Attributes|Args|Raises|Returns):\n", inspect.cleandoc(doc or ""))[0]
    return "\n\n".join(_md(p) for p in text.split("\n\n") if p.strip())


def _md(text: str) -> str:
    """One line of Markdown from reST-ish docstring text."""
    return " ".join(text.split()).replace("``", "`")


def _default(f: Field[Any]) -> str:
    value = f.default_factory() if f.default_factory is not MISSING else f.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _section(name: str, cls: type, env: str) -> list[str]:
    docs = attribute_docs(cls)
    by_field = {f: k for k, f in URL_KEYS[cls].items()}
    from_url = getattr(cls, "from_url")  # noqa: B009 - every settings class has one
    lines = [
        f"## {cls.__name__}: `[{name}]`, `{env}`",
        "",
        _intro(cls.__doc__),
        "",
        f"URL (`{env}`, or `url` in `[{name}]`): {_intro(from_url.__doc__)}",
        "",
        "| TOML key | in the URL | default | meaning |",
        "|---|---|---|---|",
    ]
    if "url" not in docs:
        lines.append(f"| `url` | | | A URL as in `{env}`; the section's other keys override it. |")
    for f in fields(cls):
        key = f"`{f.name}`" + (f" (table `[{name}.{f.name}]`)" if f.name == "options" else "")
        if f.name in by_field:
            where = f"`?{by_field[f.name]}=`"
        else:
            where = URL_PARTS[cls].get(f.name, "(TOML only)")
        lines.append(f"| {key} | {_cell(where)} | {_default(f)} | {_cell(_md(docs[f.name]))} |")
    return [*lines, ""]


def _limits() -> list[str]:
    cls = config.Limits
    docs = attribute_docs(cls)
    lines = [
        "## Limits: `[limits]`, `LEGATO_LIMITS_*`, `--limit-*`",
        "",
        _intro(cls.__doc__),
        "",
        "Each is a positive integer: the config file's `[limits]` table sets it, its",
        "variable overrides the file and its option (on `legato run`; the run and step",
        "limits also on `legato worker`, the document limits on `legato validate`)",
        "overrides both. `legato run` applies all of them",
        "embedded as distributed; a worker applies the input limit to the `start_run`",
        "commands it consumes and the output limit to every step it runs; a client",
        "(`legato start`, `legato.Client.connect(settings)`) applies the input limit.",
        "",
        "| TOML key | variable | option | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for f in fields(cls):
        lines.append(
            f"| `{f.name}` | `{config.LIMIT_VARIABLES[f.name]}` | "
            f"`{config.LIMIT_OPTIONS[f.name]}` | {_default(f)} | {_cell(_md(docs[f.name]))} |"
        )
    return [*lines, ""]


def _command(parser: argparse.ArgumentParser, name: str) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    command = sub.choices[name]
    lines = [
        f"## `legato {name}`",
        "",
        _md(command.description or ""),
        "",
        "| option | default | meaning |",
        "|---|---|---|",
    ]
    for action in command._actions:
        if action.dest in ("help", "config"):
            continue
        flag = action.option_strings[-1] + (f" {action.metavar}" if action.metavar else "")
        default = "" if action.default in (None, False, []) else f"`{action.default}`"
        lines.append(f"| `{flag}` | {default} | {_cell(action.help or '')} |")
    return [*lines, ""]


def render() -> str:
    """The whole page, as Markdown."""
    from legato.cli import build_parser
    from legato.cli.dev import ENV_DEV_DIR

    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated by `{COMMAND}`",
        "from legato/config.py and the commands' options; do not edit by hand:",
        "tests/unit/test_config_reference.py fails when this file is stale. -->",
        "",
        "Every command that connects reads a TOML file given with `--config FILE` (or",
        f"`${config.ENV_CONFIG}`) and the URL variables below; a variable replaces the file's",
        "whole section. Distributed mode needs all three of Kafka, Cassandra and Redis;",
        "with none of them, `legato run` runs embedded. Unknown keys are errors, with a",
        '"did you mean"; passwords never appear in `repr`, `str` or logs.',
        "",
        "## Environment variables",
        "",
        "| variable | meaning |",
        "|---|---|",
        *(f"| `{k}` | {_cell(_md(v))} |" for k, v in config.ENVIRONMENT.items()),
        f"| `{ENV_DEV_DIR}` | Data folder of `legato dev` (development servers); "
        "`--data-dir` overrides it. |",
        "| `LEGATO_EVENT_LOOP` | `uvloop` (the default where it is installed) or `asyncio`: "
        "the event loop of `legato worker` and `legato reconcile`. |",
        "",
        "`LEGATO_LOG_FORMAT` and `LEGATO_LOG_LEVEL` are the defaults of `--log-format` and",
        "`--log-level` (below).",
        "",
    ]
    for name, cls, env in SECTIONS:
        lines += _section(name, cls, env)
    lines += _limits()
    parser = build_parser()
    for name in COMMANDS:
        lines += _command(parser, name)
    return "\n".join(lines).rstrip() + "\n"
