"""URL parsing shared by the adapters' settings; every problem is a ``ConfigError``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from legato.runtime.errors import ConfigError


def unknown_keys(keys: Iterable[Any], known: list[str], where: str) -> None:
    for key in keys:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; known: {', '.join(known)}"
            raise ConfigError(f"{where}: unknown key {key!r}{extra}")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def split_url(url: str, what: str) -> Any:
    try:
        parts = urlsplit(url)
        parts.password  # noqa: B018 - parsing the user info may fail too
    except ValueError as exc:
        raise ConfigError(f"{what} URL {redact(url)!r}: {exc}") from None
    return parts


def url_hosts(netloc: str, default_port: int, what: str) -> tuple[tuple[str, int], ...]:
    hosts = []
    for item in netloc.rsplit("@", 1)[-1].split(","):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, ""
        if not port.isdigit() and port:
            raise ConfigError(f"{what} URL: bad port in {item!r}")
        hosts.append((host, int(port) if port else default_port))
    if not hosts or not all(h for h, _ in hosts):
        raise ConfigError(f"{what} URL: no host given")
    return tuple(hosts)


def url_int(value: str, key: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{what} URL: {key} must be an integer >= 1, got {value!r}")
    return int(value)


def url_bool(value: str, where: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{where} must be true or false, got {value!r}")
