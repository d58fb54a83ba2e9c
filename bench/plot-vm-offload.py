#!/usr/bin/python3
"""Plot bench/results/vm-offload.csv into bench/results/vm-offload.png.

Usage: plot-vm-offload.py RESULTS_DIR
"""
import sys
import textwrap

from plotlib import num, plt, read

CASES = [("x264enc", "(a) x264enc\nin the guest", "#888888"),
         ("vsockenc-inline", "(b) vsockenc INLINE\nvirtio-serial", "#3b7dd8"),
         ("vsockenc-shm", "(c) vsockenc SHM\nivshmem", "#2aa876")]
# The targets given for 1920x1080 (fps).
TARGETS = {"1920x1080": [("vsockenc-inline", 45, "#3b7dd8"), ("vsockenc-shm", 60, "#2aa876")]}
PARTS = [("frame", "measured: 1000 / fps", "#444444"),
         ("guest_copy_ms", "guest copy", "#e0a030"),
         ("transport_ms", "transport (virtio-serial)", "#c05050"),
         ("host_encode_ms", "host encode, during the run", "#7a5cc0"),
         ("host_encode_idle_ms", "host encode, no guest", "#c0b0e8")]


def plot_row(axes, rows, cpu):
    """One row of the figure: the runs of one guest (architecture and CPU
    model, e.g. "aarch64 cortex-a72")."""
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    get = {(r["size"], r["case"]): r for r in rows}

    for ax, size in zip(axes, sizes):
        here = [(get.get((size, c)), label, color) for c, label, color in CASES]
        fps = [num(r["fps_median"]) if r else None for r, _, _ in here]
        top = max([v for v in fps if v] + [t for _, t, _ in TARGETS.get(size, [])] + [1])
        bars = ax.bar(range(len(here)), [v or 0 for v in fps], color=[c for _, _, c in here])
        for b, (r, _, _), v in zip(bars, here, fps):
            if v is None:
                why = (r["note"] if r else "not run").replace("not available: ", "")
                text = "not available:\n" + "\n".join(textwrap.wrap(why, 30)[:4])
                ax.text(b.get_x() + b.get_width() / 2, top * 0.05, text, ha="center", fontsize=7)
            else:
                ax.text(b.get_x() + b.get_width() / 2, v + top * 0.02,
                        f'{v:.1f} fps\n{float(r["ratio_to_x264enc"]):.2f}x (a)', ha="center",
                        fontsize=8)
        for case, t, color in TARGETS.get(size, []):
            ax.axhline(t, color=color, ls="--", lw=1, label=f"target {t} fps ({case})")
        ticks = []
        for r, label, _ in here:
            use = ""
            if r and r["fps_median"] != "n/a":
                use = f'\nQEMU {r["qemu_cpu_pct"]}%'
                if r["hfxd_cpu_pct"] not in ("", "n/a"):
                    use += f', hfxd {r["hfxd_cpu_pct"]}%'
                if r["other_cpu_pct"] not in ("", "n/a"):
                    use += f'\nother processes {r["other_cpu_pct"]}%'
            ticks.append(label + use)
        ax.set_xticks(range(len(here)))
        ax.set_xticklabels(ticks, fontsize=8)
        ax.set_ylim(0, top * 1.3)
        ax.set_ylabel("fps in the guest")
        title = f"{size} NV12 in a TCG guest ({cpu}), ultrafast zerolatency 8000 kbit/s"
        src = get.get((size, "source"))
        if src and src["fps_median"] != "n/a":
            title += f'\nsource alone (appsrc ! fakesink): {float(src["fps_median"]):.0f} fps'
        ax.set_title(title, fontsize=9)
        if TARGETS.get(size):
            ax.legend(loc="upper left", fontsize=7)

    # Where a frame's time goes, per offload case and size. The stages
    # overlap (frames in flight), so they do not add up to the measured time.
    ax = axes[-1]
    groups = [(size, c, label) for size in sizes for c, label, _ in CASES[1:]]
    width = 0.8 / len(PARTS)
    for k, (key, name, color) in enumerate(PARTS):
        vals = []
        for size, c, _ in groups:
            r = get.get((size, c))
            if not r:
                vals.append(0)
            elif key == "frame":
                f = num(r["fps_median"])
                vals.append(1000 / f if f else 0)
            else:
                vals.append(num(r[key]) or 0)
        ax.bar([i + (k - (len(PARTS) - 1) / 2) * width for i in range(len(groups))], vals, width,
               color=color, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{size}\n{label.split(chr(10))[0]}" for size, _, label in groups],
                       fontsize=7)
    ax.set_ylabel("ms per frame")
    ax.set_title(f"{cpu}: where the time goes (measured apart; the stages overlap)\n"
                 "(c): the pixels stay in the BAR, only offsets cross the port", fontsize=9)
    ax.legend(fontsize=7)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = read(f"{out}/vm-offload.csv")
    for r in rows:  # rows from before the arch column are x86_64's
        r["guest"] = f'{r.get("arch") or "x86_64"} {r.get("cpu", "max")}'
    cpus = list(dict.fromkeys(r["guest"] for r in rows))
    sizes = list(dict.fromkeys(r["size"] for r in rows))

    fig, axes = plt.subplots(len(cpus), len(sizes) + 1,
                             figsize=(6 * (len(sizes) + 1), 5.2 * len(cpus)), squeeze=False)
    for row_axes, cpu in zip(axes, cpus):
        plot_row(row_axes, [r for r in rows if r["guest"] == cpu], cpu)
    fig.text(0.5, 0.005, "Host CPU in % of one core over the counted frames. The guest's vCPUs "
             "(QEMU), hfxd and any other process share the host's 2 cores.", ha="center",
             fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(f"{out}/vm-offload.png", dpi=100)


if __name__ == "__main__":
    main()
