"""Enumerate every URL pattern of custody.urls and turn each into concrete URLs.

Generic on purpose: a pattern added later by another app is found here without a change. A pattern
whose parameters cannot be filled from the test world is still returned (with placeholder values) so
that at least its refusal of anonymous callers is proven.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import LocalePrefixPattern, RegexPattern, RoutePattern


@dataclass(frozen=True)
class Route:
    name: str          # "namespace:name", or "<unnamed>:<route>" for unnamed patterns
    route: str         # the concatenated pattern text, without the language prefix
    params: tuple[str, ...]
    i18n: bool         # under i18n_patterns: also served at /ar/...
    api: bool          # under /api/: answers 401/403, never a login redirect

    @property
    def app(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else ""


def _piece(pattern: Any) -> str:
    if isinstance(pattern, LocalePrefixPattern):
        return ""
    return str(pattern)


def all_routes() -> list[Route]:
    out: list[Route] = []

    def walk(patterns: list[Any], prefix: str, ns: str | None, i18n: bool, params: tuple[str, ...]) -> None:
        for p in patterns:
            groups = tuple(p.pattern.regex.groupindex) if not isinstance(p.pattern, LocalePrefixPattern) else ()
            if isinstance(p, URLResolver):
                sub_ns = p.namespace
                full_ns = f"{ns}:{sub_ns}" if ns and sub_ns else (sub_ns or ns)
                walk(p.url_patterns, prefix + _piece(p.pattern), full_ns,
                     i18n or isinstance(p.pattern, LocalePrefixPattern), params + groups)
            elif isinstance(p, URLPattern):
                route = prefix + _piece(p.pattern)
                if p.name:
                    name = f"{ns}:{p.name}" if ns else p.name
                else:
                    name = f"<unnamed>:{route}"
                out.append(Route(name, route, params + groups, i18n, route.startswith("api/")))

    walk(get_resolver().url_patterns, "", None, False, ())
    return out


_ROUTE_PARAM = re.compile(r"<(?:(?P<conv>[^:>]+):)?(?P<name>[^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


def fill(route: Route, values: dict[str, str], language: str = "") -> str | None:
    """A concrete path for the route with these parameter values; None if it does not resolve back to
    the same pattern (the values do not fit the pattern)."""
    text = route.route
    # Regex groups first: their "(?P<name>" would otherwise look like a path converter.
    text = _REGEX_GROUP.sub(lambda m: values.get(m.group("name"), "\0"), text)
    text = _ROUTE_PARAM.sub(lambda m: _converted(m.group("conv"), values.get(m.group("name"), "\0")), text)
    text = text.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "")
    if "\0" in text or "(" in text or "\\" in text:
        return None
    path = "/" + (f"{language}/" if language and route.i18n else "") + text
    try:
        match = resolve(path)
    except Exception:  # noqa: BLE001 - Resolver404 or a converter refusing the value
        return None
    if route.name.startswith("<unnamed>:"):
        same = _bare(match.route) == _bare(route.route)
    else:
        same = match.view_name == route.name and set(match.kwargs) >= set(route.params)
    return path if same else None


def _converted(conv: str | None, value: str) -> str:
    # DRF's format suffix converter carries its own dot.
    return "." + value if conv == "drf_format_suffix" and value != "\0" else value


def _bare(route: str) -> str:
    return route.replace("^", "").replace("$", "")


__all__ = ["Route", "all_routes", "fill", "RegexPattern", "RoutePattern"]
