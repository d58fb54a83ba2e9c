#!/usr/bin/python3
"""Plot bench/results/bridge-latency.csv into bench/results/bridge-latency.png.

Usage: plot-bridge-latency.py RESULTS_DIR
"""
import sys

from matplotlib.patches import Patch

from plotlib import num, plt, read

COLORS = {"c2e": "#9cc0f0", "dd": "#2aa876", "p50": "#3b7dd8", "p99": "#d8843b",
          "nominal": "#dddddd", "captured": "#bbbbbb", "encoded": "#3b7dd8",
          "drawn": "#2aa876"}
TREND_LIMIT = 20.0      # run-bridge-latency: TREND_LIMIT_MS_PER_S


def label(r, where=False):
    """encoder / size / rate, one per line (and host or vm first)."""
    parts = [r["encoder"], r["size"]]
    if r["fps_nominal"] != "30":
        parts.append(f'{r["fps_nominal"]} fps')
    return "\n".join(([r["where"]] if where else []) + parts)


def trend_text(r):
    t = num(r["g2g_trend_ms_per_s"])
    return f"(grows {t:.0f} ms/s)" if t > 0 else f"(shrinks {-t:.0f} ms/s)"


def steady(r):
    t = num(r["g2g_trend_ms_per_s"])
    return t is not None and abs(t) <= TREND_LIMIT


def latency_panel(ax, rows, title, log):
    x = range(len(rows))
    w = 0.2
    handles = []
    series = [("c2e_p50_ms", "capture -> encoded p50", COLORS["c2e"]),
              ("decode_draw_p50_ms", "viewer decode + draw p50", COLORS["dd"]),
              ("g2g_p50_ms", "glass-to-glass p50", COLORS["p50"]),
              ("g2g_p99_ms", "glass-to-glass p99", COLORS["p99"])]
    for k, (field, name, color) in enumerate(series):
        vals = [num(r[field]) or 0 for r in rows]
        bars = ax.bar([i + (k - 1.5) * w for i in x], vals, width=w, color=color)
        handles.append(Patch(color=color, label=name))  # a legend entry without hatching
        for b, r, v in zip(bars, rows, vals):
            if not steady(r):
                b.set_hatch("//")
                b.set_edgecolor("#444444")
            if field.startswith("g2g") and v:
                ax.text(b.get_x() + b.get_width() / 2, v * 1.08 if log else v,
                        f"{v:.0f}" if v >= 100 else f"{v:.1f}", ha="center", fontsize=7,
                        rotation=90, va="bottom")
    ax.set_xticks(list(x))
    ax.set_xticklabels([label(r) + ("" if steady(r) or num(r["g2g_trend_ms_per_s"]) is None
                                    else "\n" + trend_text(r)) for r in rows], fontsize=8)
    ax.set_ylabel("ms (the bridge's /stats)")
    ax.set_title(title, fontsize=10)
    return handles


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = [r for r in read(f"{out}/bridge-latency.csv") if num(r["g2g_p50_ms"]) is not None]
    host = [r for r in rows if r["where"] == "host"]
    vm = [r for r in rows if r["where"] == "vm"]

    fig = plt.figure(figsize=(17, 11))
    grid = fig.add_gridspec(2, 3)
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1:]),
            fig.add_subplot(grid[1, :])]
    ax = axes[0]
    if host:
        handles = latency_panel(ax, host, "desktop-bridge on the host, Chromium on the host\n"
                                "(--source test, 30 fps; one viewer)", log=False)
        handles += [
            ax.axhline(25, color="k", ls="--", lw=1, label="target p50 <= 25 ms (1280x720)"),
            ax.axhline(50, color="k", ls=":", lw=1, label="target p99 <= 50 ms (1280x720)"),
            ax.axhline(33, color="#aa00aa", ls="-.", lw=1,
                       label="QEMU-display streamer: 33 ms median (published)")]
        top = max([num(r["g2g_p99_ms"]) or 0 for r in host] + [60])
        ax.set_ylim(0, top * 1.5)
        ax.legend(handles=handles, loc="upper left", fontsize=7)

    ax = axes[1]
    if vm:
        ax.set_yscale("log")
        vals = [num(r[f]) for r in vm for f in ("c2e_p50_ms", "decode_draw_p50_ms", "g2g_p99_ms")]
        vals = [v for v in vals if v]
        ax.set_ylim(max(min(vals) / 2, 0.5), max(vals) * 40)
        handles = latency_panel(
            ax, vm, "desktop-bridge in the TCG guest, hfxd and Chromium on the host\n"
            "(hatched: latency still growing over the window, not a steady state)", log=True)
        handles.append(ax.axhline(200, color="#aa00aa", ls="-.", lw=1,
                                  label="WebRTC desktop streamer ~200 ms"))
        ax.legend(handles=handles, loc="upper left", fontsize=7, ncol=3)

    ax = axes[2]
    x = range(len(rows))
    w = 0.2
    for k, (field, name) in enumerate([("fps_nominal", "nominal (--fps)"),
                                       ("fps_captured", "captured"),
                                       ("fps_encoded", "encoded (/stats frames)"),
                                       ("fps_drawn", "drawn (viewer)")]):
        key = field.split("_")[1]
        ax.bar([i + (k - 1.5) * w for i in x], [num(r[field]) or 0 for r in rows], width=w,
               color=COLORS[key], label=name)
    ax.set_xticks(list(x))
    ax.set_xticklabels([label(r, where=True) for r in rows], fontsize=8)
    ax.set_ylabel("frames per second over the window")
    ax.set_ylim(0, 40)
    ax.set_title("Frame rates", fontsize=10)
    ax.legend(loc="upper center", fontsize=8, ncol=4)

    fig.tight_layout()
    fig.savefig(f"{out}/bridge-latency.png", dpi=100)


if __name__ == "__main__":
    main()
