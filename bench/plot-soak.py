#!/usr/bin/python3
"""Plot bench/results/soak.csv (written by scripts/soak) into soak.png.

Usage: plot-soak.py RESULTS_DIR

Three panels over time: hfxd's memory (VmRSS, RssAnon), its descriptors
and threads against their value with no client, and the clients' frame
counters with the sessions connected. Idle windows (every session
disconnected) are shaded.
"""
import sys

from plotlib import num, plt, read


def spans(rows, phase):
    """[(t0, t1)] of consecutive rows in phase."""
    out, start, last = [], None, None
    for r in rows:
        t = num(r["t_s"])
        if r["phase"] == phase:
            if start is None:
                start = t
            last = t
        elif start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, last + 1))
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = read(f"{out}/soak.csv")
    run = [r for r in rows if r["phase"] != "baseline"]
    base = next((r for r in rows if r["phase"] == "baseline"), rows[0])
    t = [num(r["t_s"]) for r in run]

    fig, axes = plt.subplots(3, 1, figsize=(12, 10), sharex=True)
    for ax in axes:
        for a, b in spans(run, "idle"):
            ax.axvspan(a, b, color="#dddddd", lw=0)
        for a, b in spans(run, "end"):
            ax.axvspan(a, b, color="#eeeedd", lw=0)

    ax = axes[0]
    ax.plot(t, [num(r["rss_kb"]) / 1024 for r in run], label="VmRSS", color="#3b7dd8")
    anon = [num(r["rss_anon_kb"]) for r in run]
    if all(v is not None for v in anon):
        ax.plot(t, [v / 1024 for v in anon], label="RssAnon", color="#2aa876", lw=1)
    ax.axhline(num(base["rss_kb"]) / 1024, color="k", ls=":", lw=1,
               label="VmRSS with no client")
    # glibc's own figures with no client (gdb, malloc_stats()): what its
    # arenas hold from the system, and what is in use (live allocations).
    heap = [r for r in rows if num(r.get("heap_system_kb")) is not None]
    if heap:
        ax.plot([num(r["t_s"]) for r in heap], [num(r["heap_system_kb"]) / 1024 for r in heap],
                "s", color="#d8823b", ms=5, label="malloc arenas held, no client")
        ax.plot([num(r["t_s"]) for r in heap], [num(r["heap_in_use_kb"]) / 1024 for r in heap],
                "^", color="#d83b3b", ms=6, label="heap in use, no client")
        for r in heap:
            ax.annotate(f'{r["heap_in_use_kb"]} kB', (num(r["t_s"]), 0),
                        textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7,
                        color="#d83b3b")
    ax.set_ylabel("hfxd memory (MB)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    busy = [r for r in run if r["phase"] == "busy"]
    sessions = max((int(num(r["connected"])) for r in busy), default=0)
    ax.set_title(f"hfxd soak: {sessions} client sessions, reconnecting and reconfiguring "
                 "(grey: all disconnected)")

    ax = axes[1]
    ax.plot(t, [num(r["fds"]) for r in run], label="open descriptors", color="#d8823b")
    ax.plot(t, [num(r["threads"]) for r in run], label="threads", color="#8a3bd8")
    ax.axhline(num(base["fds"]), color="#d8823b", ls=":", lw=1,
               label=f"descriptors with no client ({base['fds']})")
    ax.axhline(num(base["threads"]), color="#8a3bd8", ls=":", lw=1,
               label=f"threads with no client ({base['threads']})")
    ax.set_ylabel("count")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8, ncol=2)

    ax = axes[2]
    for key, colour in (("submitted", "#3b7dd8"), ("encoded", "#2aa876")):
        ax.plot(t, [num(r[key]) / 1000 for r in run], label=key, color=colour)
    ax.set_ylabel("frames (thousands)")
    ax.set_xlabel("time since the first client started (s)")
    ax2 = ax.twinx()
    for key, colour in (("dropped", "#d8823b"), ("abandoned", "#8a3bd8"),
                        ("lost", "#d83b3b")):
        ax2.plot(t, [num(r[key]) for r in run], label=key, color=colour, lw=1)
    ax2.plot(t, [num(r["connected"]) for r in run], label="sessions connected",
             color="k", lw=0.8, ls="--")
    ax2.set_ylabel("frames dropped / abandoned / lost; sessions")
    ax2.set_ylim(bottom=0)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8, ncol=2)

    fig.tight_layout()
    fig.savefig(f"{out}/soak.png", dpi=100)


if __name__ == "__main__":
    main()
