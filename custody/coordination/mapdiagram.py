"""A map-like diagram of the sites and the receiving facility from their coordinates: inline SVG, no
tiles (the deployment has no internet), printable.

Equirectangular projection with the longitude scaled by cos(mean latitude), which keeps shapes right
over a region a few hundred kilometres wide; a graticule every degree gives the reader a frame.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

KIND_COLOUR = {"prison": "#a11d2b", "camp": "#a35200", "receiving": "#1f5f8b", "transit": "#5b6573", "hospital": "#2b7a3d", "court": "#7a3b8f"}


def site_map(sites: list[dict[str, Any]], *, width: int = 720, height: int = 460, title: str = "", legend: dict[str, str] | None = None) -> str:
    """`sites`: dicts with code, name, kind, lat, lon, n (people there) and optional danger (0..1).
    Circles' areas are proportional to n; lines join each site to the receiving facility. East stays on
    the right in Arabic pages too (the diagram is laid out left to right whatever the page's direction)."""
    placed = [s for s in sites if s.get("lat") is not None and s.get("lon") is not None]
    if not placed:
        return ""
    lats = [s["lat"] for s in placed]
    lons = [s["lon"] for s in placed]
    lat0, lat1 = min(lats) - 0.6, max(lats) + 0.6
    lon0, lon1 = min(lons) - 0.8, max(lons) + 0.8
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span_x, span_y = (lon1 - lon0) * kx, lat1 - lat0
    pad = 30
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad - 20) / span_y)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return pad + (lon - lon0) * kx * scale, pad + 20 + (lat1 - lat) * scale

    nmax = max([s.get("n", 0) for s in placed] + [1])
    parts = [f'<svg class="chart map" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px;background:#f3f6f9;direction:ltr" direction="ltr" xmlns="http://www.w3.org/2000/svg">']
    if title:
        parts.append(f'<text x="{pad}" y="18" font-weight="700">{escape(title)}</text>')
    for lat in range(math.ceil(lat0), math.floor(lat1) + 1):
        x0, y = xy(lat, lon0)
        x1, _ = xy(lat, lon1)
        parts.append(f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="#d8dde3"/>'
                     f'<text x="{x0 + 2:.1f}" y="{y - 2:.1f}" fill="#8a94a0" font-size="10">{lat}°N</text>')
    for lon in range(math.ceil(lon0), math.floor(lon1) + 1):
        x, y0 = xy(lat1, lon)
        _, y1 = xy(lat0, lon)
        parts.append(f'<line x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" stroke="#d8dde3"/>'
                     f'<text x="{x + 2:.1f}" y="{y1 - 2:.1f}" fill="#8a94a0" font-size="10">{lon}°E</text>')
    hubs = [s for s in placed if s.get("kind") == "receiving"]
    if hubs:
        hx, hy = xy(hubs[0]["lat"], hubs[0]["lon"])
        for s in placed:
            if s is hubs[0] or s.get("kind") not in ("prison", "transit"):
                continue
            x, y = xy(s["lat"], s["lon"])
            parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{hx:.1f}" y2="{hy:.1f}" stroke="#1f5f8b" stroke-dasharray="4 4" stroke-opacity=".5"/>')
    taken: list[tuple[float, float, float, float]] = []  # label boxes already drawn (x0, y0, x1, y1)
    for s in sorted(placed, key=lambda s: -s.get("n", 0)):
        x, y = xy(s["lat"], s["lon"])
        colour = KIND_COLOUR.get(s.get("kind", ""), "#5b6573")
        r = 4 + 26 * math.sqrt(s.get("n", 0) / nmax)
        label = f'{s["code"]} · {s.get("n", 0):,}'
        if s.get("danger") is not None:
            label += f' · p={s["danger"]:.2f}'
        if s.get("kind") == "receiving":
            parts.append(f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{colour}" fill-opacity=".35" stroke="{colour}"/>')
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity=".35" stroke="{colour}"/>')
        lx, ly = _free_spot(taken, x + r + 3, y + 4, 7.0 * len(label), 14)
        if abs(ly - (y + 4)) > 2:  # moved off its site: a leader line keeps it attached
            parts.append(f'<line x1="{x + r * 0.7:.1f}" y1="{y:.1f}" x2="{lx - 2:.1f}" y2="{ly - 4:.1f}" stroke="#8a94a0" stroke-width=".7"/>')
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="12" paint-order="stroke" stroke="#f3f6f9" stroke-width="3"><title>{escape(s.get("name", ""))}</title>{escape(label)}</text>')
    if legend:
        lx = pad
        for kind, text in legend.items():
            parts.append(f'<circle cx="{lx + 5}" cy="{height - 10}" r="5" fill="{KIND_COLOUR.get(kind, "#5b6573")}" fill-opacity=".6"/>'
                         f'<text x="{lx + 13}" y="{height - 6}" font-size="11">{escape(text)}</text>')
            lx += 20 + 7 * len(text)
    parts.append("</svg>")
    return "".join(parts)


def _free_spot(taken: list[tuple[float, float, float, float]], x: float, y: float, w: float, h: float) -> tuple[float, float]:
    """The nearest vertical offset of a label that overlaps no label already placed (sites a few
    kilometres apart would otherwise print on top of each other)."""
    for step in range(0, 12):
        dy = (step + 1) // 2 * h * (1 if step % 2 else -1) if step else 0.0
        box = (x, y + dy - h + 3, x + w, y + dy + 3)
        if not any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
            taken.append(box)
            return x, y + dy
    taken.append((x, y - h + 3, x + w, y + 3))
    return x, y
