"""Small server-rendered SVG charts: no JavaScript library, no external assets, printable, RTL-aware."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ["#1f5f8b", "#a35200", "#2b7a3d", "#7a3b8f", "#a11d2b", "#5b6573", "#0f7f7f", "#8a6d00"]


def bar_chart(rows: Sequence[tuple[str, float]], *, width: int = 520, bar_height: int = 20, rtl: bool = False,
              title: str = "", value_format: str = "{:,.0f}") -> str:
    """Horizontal bars, label on the reading-start side, value at the bar's end."""
    if not rows:
        return ""
    label_w = 170
    gap = 6
    top = 22 if title else 4
    height = top + len(rows) * (bar_height + gap) + 4
    vmax = max((v for _, v in rows), default=0) or 1
    plot_w = width - label_w - 70
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg" direction="ltr" style="direction:ltr">']
    if title:
        x = width - 4 if rtl else 4
        anchor = "end" if rtl else "start"
        parts.append(f'<text x="{x}" y="14" font-weight="700" text-anchor="{anchor}">{escape(title)}</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_height + gap)
        w = max(1.0, plot_w * value / vmax)
        color = PALETTE[i % len(PALETTE)]
        if rtl:
            lx, la = width - 4, "end"
            bx = width - label_w - w
            vx, va = bx - 4, "end"
        else:
            lx, la = label_w - 6, "end"
            bx = label_w
            vx, va = bx + w + 4, "start"
        short = label if len(label) <= 26 else label[:25] + "…"
        parts.append(f'<text x="{lx}" y="{y + bar_height * 0.72}" text-anchor="{la}"><title>{escape(label)}</title>{escape(short)}</text>')
        parts.append(f'<rect x="{bx:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{color}" rx="2"/>')
        parts.append(f'<text x="{vx:.1f}" y="{y + bar_height * 0.72}" text-anchor="{va}">{escape(value_format.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(series: dict[str, Sequence[float]], *, x_labels: Sequence[str] = (), width: int = 640, height: int = 240,
               title: str = "", rtl: bool = False) -> str:
    """Several lines over a shared x axis (days); the axis reads right-to-left in Arabic."""
    if not series:
        return ""
    n = max(len(v) for v in series.values())
    vmax = max((max(v) for v in series.values() if len(v)), default=0) or 1
    left, right, top, bottom = 50, 10, 24, 28
    pw, ph = width - left - right, height - top - bottom

    def px(i: int) -> float:
        frac = i / max(1, n - 1)
        return left + (pw * (1 - frac) if rtl else pw * frac)

    def py(v: float) -> float:
        return top + ph * (1 - v / vmax)

    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg" direction="ltr" style="direction:ltr">']
    if title:
        tx, ta = (width - right, "end") if rtl else (left, "start")
        parts.append(f'<text x="{tx}" y="14" font-weight="700" text-anchor="{ta}">{escape(title)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>')
    for frac in (0, 0.5, 1):
        parts.append(f'<text x="{left - 4}" y="{py(vmax * frac) + 4:.1f}" text-anchor="end">{vmax * frac:,.0f}</text>')
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        parts.append(f'<text x="{left + 8 + 150 * k}" y="{height - 6}" fill="{color}">■ {escape(name)}</text>')
    if x_labels:
        for i in (0, n - 1):
            if i < len(x_labels):
                # The first and last labels sit at the plot's edges: anchor them inwards so neither is clipped.
                at_left = (i == 0) != rtl
                anchor = "start" if at_left else "end"
                parts.append(f'<text x="{px(i):.1f}" y="{top + ph + 14}" text-anchor="{anchor}">{escape(x_labels[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)
