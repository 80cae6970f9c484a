"""PNG plots of a load (matplotlib, the ``bench`` extra): throughput over time and
latency percentiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write(directory: str, name: str, ser: dict[str, list[float]], rep: dict[str, Any]) -> list[str]:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install -e '.[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    title = (
        f"{rep['shape']} ({rep['nodes']} nodes), {rep['mode']}, "
        f"{rep['workers']} worker process(es) + {rep['local_concurrency']} local"
    )
    written = []

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(ser["t"], ser["steps"], label="steps completed /s")
    ax.set_xlabel("seconds since the first run started")
    ax.set_ylabel("steps / s")
    if rep.get("floor_steps_per_s"):
        ax.axhline(rep["floor_steps_per_s"], color="grey", ls="--", label="floor (servers alone)")
    ax2 = ax.twinx()
    ax2.plot(ser["t"], ser["runs"], color="tab:orange", alpha=0.7, label="runs completed /s")
    ax2.set_ylabel("runs / s")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="lower center")
    ax.set_title(f"Throughput: {title}", fontsize=9)
    fig.tight_layout()
    path = out / f"{name}_throughput.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(str(path))

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(ser["t"], ser["hop_p50"], label="hop p50")
    left.plot(ser["t"], ser["hop_p99"], label="hop p99")
    left.set_xlabel("seconds since the first run started")
    left.set_ylabel("ms")
    left.set_yscale("log")
    left.legend()
    left.set_title("Hop latency per second (successor start - predecessor end)", fontsize=9)
    names = ["hop_p50_ms", "hop_p90_ms", "hop_p99_ms", "hop_max_ms", "run_p50_ms", "run_p99_ms"]
    values = [max(0.01, float(rep[n])) for n in names]
    bars = right.bar([n[:-3].replace("_", " ") for n in names], values)
    right.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("ms")
    right.set_title("Latency percentiles over the whole load", fontsize=9)
    right.tick_params(axis="x", labelsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = out / f"{name}_latency.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(str(path))
    return written
