"""Chart geometry for the dashboard: plain numbers that the template draws as inline SVG
(no script, no chart library to download). Every bar carries a title with its figure."""

from __future__ import annotations

from dataclasses import dataclass

PALETTE = ["#1f6feb", "#d29922", "#cf222e", "#2da44e", "#8250df", "#6e7781", "#bf3989"]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, float, str]]
    """(x, y, text) of axis and value labels."""
    legend: list[tuple[str, str]]
    """(color, name)."""
    anchor: str = "middle"


def stacked_columns(columns: list[tuple[str, dict[str, int]]], keys: list[str], names: dict[str, str],
                    width: int = 520, height: int = 220) -> Chart:
    """One column per period, stacked by key (e.g. cases per month by category)."""
    top, bottom, left = 16, 28, 36
    plot_h = height - top - bottom
    biggest = max([sum(c.values()) for _, c in columns] + [1])
    slot = (width - left) / max(len(columns), 1)
    bars, labels = [], []
    for i, (period, counts) in enumerate(columns):
        x = left + i * slot + slot * 0.2
        y = top + plot_h
        for j, key in enumerate(keys):
            n = counts.get(key, 0)
            if not n:
                continue
            h = plot_h * n / biggest
            y -= h
            bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.6, 1), round(h, 1),
                            PALETTE[j % len(PALETTE)], f"{period} {names.get(key, key)}: {n}"))
        total = sum(counts.values())
        labels.append((round(x + slot * 0.3, 1), height - 10, period))
        labels.append((round(x + slot * 0.3, 1), round(y - 4, 1), str(total)))
    labels.append((left - 6, top + 8, str(biggest)))
    legend = [(PALETTE[j % len(PALETTE)], names.get(k, k)) for j, k in enumerate(keys)]
    return Chart(width, height, bars, labels, legend)


def compliance_bars(rows: list[tuple[str, float | None, int, int]], width: int = 520) -> Chart:
    """One horizontal bar per SLA clock: compliance against the 100 % target."""
    left, row_h = 190, 26
    height = max(len(rows), 1) * row_h + 12
    plot_w = width - left - 60
    bars, labels = [], []
    for i, (name, share, cases, breached) in enumerate(rows):
        y = 6 + i * row_h
        value = share if share is not None else 0.0
        color = PALETTE[3] if value >= 1.0 else PALETTE[1] if value >= 0.9 else PALETTE[2]
        bars.append(Bar(left, y, round(plot_w * value, 1), row_h - 8, color,
                        f"{name}: {value:.0%}（{cases} 件，超时 {breached} 件）"))
        labels.append((4, y + row_h - 12, name if len(name) <= 12 else name[:11] + "…"))
        labels.append((left + plot_w + 6, y + row_h - 12, "—" if share is None else f"{share:.0%}"))
    return Chart(width, height, bars, labels, [], anchor="start")


def share_bars(rows: list[tuple[str, float | None, float | None, str, str]], width: int = 520) -> Chart:
    """One horizontal bar per row: a share (of suggestions kept) against a reference (the model
    card's held-out accuracy), drawn as a dark tick. `state`: "ok", "drop" (below the reference
    by more than the margin) or "few" (too few reviews to judge); `title` says the figures."""
    left, row_h = 190, 26
    height = max(len(rows), 1) * row_h + 12
    plot_w = width - left - 60
    colors = {"ok": PALETTE[3], "drop": PALETTE[2], "few": PALETTE[5]}
    bars, labels = [], []
    for i, (name, share, reference, state, title) in enumerate(rows):
        y = 6 + i * row_h
        bars.append(Bar(left, y, round(plot_w * (share or 0.0), 1), row_h - 8, colors[state], title))
        if reference is not None:
            bars.append(Bar(round(left + plot_w * reference - 1, 1), y - 2, 2, row_h - 4, "#24292f",
                            f"{name}: 模型卡 {reference:.1%}"))
        labels.append((4, y + row_h - 12, name if len(name) <= 24 else name[:23] + "…"))
        labels.append((left + plot_w + 6, y + row_h - 12, "—" if share is None else f"{share:.0%}"))
    return Chart(width, height, bars, labels, [(PALETTE[3], "保留率"), (PALETTE[2], "低于模型卡超过容差"),
                                               (PALETTE[5], "复核数不足"), ("#24292f", "模型卡准确率")],
                 anchor="start")
