"""Log output for long-running commands: JSON lines or text, secrets masked.

JSON: one object per line with ``ts``, ``level``, ``logger``, ``message`` and,
when known, ``run_id``, ``step_id``, ``node``, ``attempt`` (the job being
handled, from ``legato.runtime.logcontext``), ``trace_id`` and ``span_id``
(the current OpenTelemetry span), ``exc`` (a traceback). Text: the usual line,
with ``[run=... step=... attempt=...]`` when a job is known.

Every line goes through ``redact_text`` last: URL passwords
(``user:pass@host`` → ``user:***@host``) and values of secret-looking keys
(``password=...``, ``"token": "..."``) are masked, whatever logged them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from opentelemetry import trace

from legato.config import ConfigError, redact
from legato.runtime.logcontext import current_job
from legato.runtime.outages import DRIVER_LOGGERS

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_USERINFO = re.compile(r"(?<![\w.+-])([\w.%+-]*):([^\s@/:'\"]+)@(?=[\w\[])")
_SECRET_KEYS = (
    r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?"
)
_SECRET_VALUE = re.compile(
    rf"""(?ix)
    ((?:[\w.-]*[._-])?(?:{_SECRET_KEYS})["']?\s*[:=]\s*)   # key, quote, separator
    (["']?)                                               # opening quote, if any
    ([^\s"',;&}}\]]+)                                    # the value
    """
)


def redact_text(text: str) -> str:
    """``text`` with URL passwords and secret-looking key values replaced by ``***``."""
    if "@" in text:
        text = _URL.sub(lambda m: redact(m.group(0)), text)
        text = _USERINFO.sub(lambda m: f"{m.group(1)}:***@", text)
    return _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


def _context() -> dict[str, Any]:
    out: dict[str, Any] = {}
    job = current_job()
    if job is not None:
        out.update(run_id=job.run_id, step_id=job.step_id, node=job.node, attempt=job.attempt)
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        out.update(trace_id=f"{span.trace_id:032x}", span_id=f"{span.span_id:016x}")
    return out


class ContextFilter(logging.Filter):
    """Copies the job and trace fields onto the record while still in the logging
    call's context (a handler may format it elsewhere)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.legato = _context()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        entry.update(getattr(record, "legato", None) or _context())
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "legato", None) or _context()
        if "run_id" in fields:
            where = (
                f" [run={fields['run_id']} step={fields['step_id']} attempt={fields['attempt']}]"
            )
            head, sep, rest = line.partition("\n")
            line = head + where + sep + rest
        return redact_text(line)


def _not_a_driver(record: logging.LogRecord) -> bool:
    """False for the drivers' own records (reconnect tracebacks and the like): below
    debug level an outage is Legato's one warning (``legato.runtime.outages``)."""
    return not any(record.name == d or record.name.startswith(d + ".") for d in DRIVER_LOGGERS)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler ``configure`` installs (and a second call replaces)."""

    legato = True  # how tests and embedders tell it from their own handlers


def configure(fmt: str = "text", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) as ``fmt`` lines at ``level`` and
    above (a second call replaces the first one's handler)."""
    if fmt not in FORMATS:
        raise ConfigError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if level.upper() not in LEVELS:
        raise ConfigError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    handler = _Handler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    if level.upper() != "DEBUG":
        handler.addFilter(_not_a_driver)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _Handler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def add_arguments(parser: argparse.ArgumentParser, default_level: str = "INFO") -> None:
    """``--log-format`` and ``--log-level`` (defaults: LEGATO_LOG_FORMAT, LEGATO_LOG_LEVEL;
    give ``configure_from_cli`` the same ``default_level``)."""
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None,
        help="log lines as text or JSON objects (default: LEGATO_LOG_FORMAT or text)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default=None,
        help=f"least severe level logged (default: LEGATO_LOG_LEVEL or {default_level})",
    )


def configure_from_cli(
    args: argparse.Namespace, environ: Mapping[str, str], default_level: str = "INFO"
) -> None:
    """``configure`` from ``add_arguments``' flags, else the environment."""
    fmt = args.log_format or environ.get("LEGATO_LOG_FORMAT", "text").strip().lower()
    level = args.log_level or environ.get("LEGATO_LOG_LEVEL", default_level).strip().upper()
    if fmt not in FORMATS:
        raise ConfigError(f"LEGATO_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if level not in LEVELS:
        raise ConfigError(f"LEGATO_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    configure(fmt, level)
