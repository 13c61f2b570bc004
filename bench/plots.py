"""Latency distributions as PNG pictures, beside the benchmarks' tables (matplotlib).

Each picture is the cumulative distribution of one figure's latencies, one line per run being
compared (Kwebbel against the baseline, clean against hostile, ...), on a logarithmic time axis
so that a median of 10 ms and a tail of seconds both show. The percentiles the tables print are
marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here: draw to files only
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

MARKED = (50, 95, 99)


def latency_plot(
    path: Path,
    title: str,
    series: Mapping[str, Sequence[float]],
    *,
    unit: float = 1000.0,
    counted: str = "deliveries",
) -> Path:
    """Write the CDF of each series to ``path``: values in seconds (``unit=1000`` draws them in
    ms); pass ``unit=1`` for values already in ms."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=100)
    for name, values in series.items():
        ordered = sorted(v * unit for v in values if v is not None)
        if not ordered:
            continue
        share = [(n + 1) / len(ordered) * 100 for n in range(len(ordered))]
        (line,) = axis.step(ordered, share, where="post", label=f"{name} (n={len(ordered)})")
        for p in MARKED:
            at = ordered[max(0, -(-p * len(ordered) // 100) - 1)]
            axis.plot([at], [p], marker="o", color=line.get_color())
            axis.annotate(f"p{p} {at:.0f}", (at, p), textcoords="offset points", xytext=(4, -10),
                          fontsize=7, color=line.get_color())  # fmt: skip
    axis.set_xscale("log")
    plain = FuncFormatter(lambda value, _position: f"{value:g}")
    axis.xaxis.set_major_formatter(plain)
    axis.xaxis.set_minor_formatter(plain)
    axis.tick_params(axis="x", which="minor", labelsize=7)
    axis.set_xlabel("ms (log scale)")
    axis.set_ylabel(f"% of {counted} at or below")
    axis.set_ylim(0, 101)
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
