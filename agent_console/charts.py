"""Charts drawn on the server as inline SVG: no JavaScript, no chart library, prints well.

Every function returns :class:`markupsafe.Markup`; all text put into the SVG is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#2f6fb3"
BAR_ALT = "#3d9a5b"
MUTED = "#c9d3df"
TEXT = "#1d2733"


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 x 10^n)."""
    if value <= 5:
        return max(value, 1)
    step = 1
    while True:
        for m in (1, 2, 5):
            if value <= m * step * 5:
                return m * step * 5
        step *= 10


def column_chart(values: Sequence[int], labels: Sequence[str], *, title: str,
                 width: int = 720, height: int = 220) -> Markup:
    """Vertical bars, e.g. calls per hour (labels under every other bar when crowded)."""
    left, right, top, bottom = 36, 8, 12, 28
    n = max(len(values), 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(values, default=0))
    bar_w = plot_w / n
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):
        v = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{MUTED}" stroke-width="0.5"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
                     f'fill="{TEXT}">{int(v) if v == int(v) else round(v, 1)}</text>')
    every = 1 if n <= 12 else 2
    for i, (value, label) in enumerate(zip(values, labels, strict=False)):
        h = plot_h * value / top_value if top_value else 0
        x = left + i * bar_w
        parts.append(f'<rect x="{x + 1.5:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{max(bar_w - 3, 1):.1f}" height="{h:.1f}" fill="{BAR}">'
                     f"<title>{escape(label)}: {value}</title></rect>")
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 10}" font-size="10" '
                         f'text-anchor="middle" fill="{TEXT}">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # all text escaped above


def bar_list(items: Sequence[tuple[str, int]], *, title: str, width: int = 520,
             color: str = BAR) -> Markup:
    """Horizontal bars with a label and a count per row, e.g. escalation reasons."""
    row_h, label_w = 24, 230
    height = max(len(items), 1) * row_h + 8
    top_value = max((v for _, v in items), default=0) or 1
    plot_w = width - label_w - 48
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]
    if not items:
        parts.append(f'<text x="4" y="18" font-size="12" fill="{TEXT}">нет данных</text>')
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        w = plot_w * value / top_value
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end" '
                     f'fill="{TEXT}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="16" '
                     f'fill="{color}"><title>{escape(label)}: {value}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" '
                     f'fill="{TEXT}">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # all text escaped above


def ratio_ring(rate: float | None, *, title: str, size: int = 140) -> Markup:
    """A ring showing a share (the self-service rate) with the percentage in the middle."""
    r = size / 2 - 12
    c = size / 2
    circumference = 2 * 3.141592653589793 * r
    share = max(0.0, min(1.0, rate or 0.0))
    text = "—" if rate is None else f"{round(share * 100)}%"
    return Markup(  # numbers and escaped text only
        f'<svg class="chart ring" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" aria-label="{escape(title)}: {text}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
        f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" stroke="{MUTED}" stroke-width="14"/>'
        f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" stroke="{BAR_ALT}" '
        f'stroke-width="14" stroke-dasharray="{circumference * share:.1f} {circumference:.1f}" '
        f'transform="rotate(-90 {c} {c})"/>'
        f'<text x="{c}" y="{c + 8}" font-size="24" font-weight="600" text-anchor="middle" '
        f'fill="{TEXT}">{text}</text></svg>'
    )
