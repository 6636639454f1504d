#!/usr/bin/env python3
"""bench-relay-report.py OUT_DIR - the table and the plot of `tools/bench-relay --matrix`.

Reads OUT_DIR/results.csv (one row per run, case and side: ceiling, postfix,
breakwater), takes the median of each figure over the runs, and writes:
  table.md   the markdown table (also printed): msgs/s of each side, the ratios
             Breakwater/Postfix and Breakwater/ceiling, relay CPU ms per message and
             its ratio, memory, flash wear, latency, allocations;
  plot.dat   msgs/s against sessions (10, 50, 500) for the three sides;
  plot.png   that, drawn by gnuplot (pngcairo, or png when cairo is missing).
"""

import csv
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

SIDES = ("ceiling", "postfix", "breakwater")
CASE_ORDER = ("c10", "c50", "c500", "100k", "keepalive", "domains20", "tls", "latency")
DESCRIPTION = {
    "c10": "10 sessions, 10 KB",
    "c50": "50 sessions, 10 KB",
    "c500": "500 sessions, 10 KB",
    "100k": "50 sessions, 100 KB",
    "keepalive": "50 sessions, keep-alive (smtp-source -d)",
    "domains20": "50 sessions, 20 domains (bench-smtp)",
    "tls": "50 sessions, STARTTLS both legs (bench-smtp)",
    "latency": "open loop at half of c50 (bench-smtp)",
}
PLOT_CASES = (("c10", 10), ("c50", 50), ("c500", 500))


def median(rows, field):
    """Median of a numeric column over rows, None when no row has it."""
    values = []
    for r in rows:
        try:
            values.append(float(r[field]))
        except (KeyError, ValueError):
            pass
    return statistics.median(values) if values else None


def fmt(v, digits=1):
    return "–" if v is None else f"{v:.{digits}f}"


def ratio(a, b):
    return None if a is None or not b else a / b


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"no rows in {out / 'results.csv'}")
    by = {}
    for r in rows:
        by.setdefault((r["case"], r["side"]), []).append(r)
    cases = [c for c in CASE_ORDER if any((c, s) in by for s in SIDES)]
    runs = len({r["run"] for r in rows})
    device = next((r["device"] for r in rows if r.get("device")), "?")

    def m(case, side, field):
        return median(by.get((case, side), []), field)

    lines = [
        f"Medians of {runs} run(s). msgs/s: N ÷ time until the sink has all N. "
        "CPU: the relay's processes (user+sys) per message. Memory: Breakwater's daemon "
        "VmHWM / PSS of supervisor+daemon; Postfix's PSS-sum (RSS-sum) of its processes. "
        f"Flash: bytes the relay's processes wrote (/proc/PID/io write_bytes) and bytes written "
        f"to {device} (/sys/dev/block stat: sectors written by everyone on the device) per message. "
        "Latency: end of DATA -> 250 at the client, 250 -> receipt at the sink (ms).",
        "",
        "| case | ceiling msgs/s | Postfix msgs/s | Breakwater msgs/s | **BW/PF** | BW/ceiling "
        "| CPU ms/msg PF | CPU ms/msg BW | **CPU BW/PF** | memory PF PSS (RSS) MiB | memory BW RSS / PSS MiB "
        "| flash BW bytes/msg (process / device) | flash PF bytes/msg (device) "
        "| DATA->250 p50/p99 ms BW (PF) | 250->sink p50/p99 ms BW (PF) | allocs/msg BW |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for c in cases:
        ce, pf, bw = (m(c, s, "msgs_per_s") for s in SIDES)
        cpf, cbw = m(c, "postfix", "relay_cpu_ms_per_msg"), m(c, "breakwater", "relay_cpu_ms_per_msg")

        def pair(side, a, b):
            x, y = m(c, side, a), m(c, side, b)
            return "–" if x is None and y is None else f"{fmt(x, 2)}/{fmt(y, 2)}"

        lat = f"{pair('breakwater', 'lat250_p50_ms', 'lat250_p99_ms')} ({pair('postfix', 'lat250_p50_ms', 'lat250_p99_ms')})"
        sink = f"{pair('breakwater', 'sink_p50_ms', 'sink_p99_ms')} ({pair('postfix', 'sink_p50_ms', 'sink_p99_ms')})"
        pf_mem = m(c, "postfix", "peak_pss_mib")
        pf_rss = m(c, "postfix", "peak_rss_mib")
        lines.append(
            f"| {c}: {DESCRIPTION.get(c, c)} | {fmt(ce)} | {fmt(pf)} | {fmt(bw)} | **{fmt(ratio(bw, pf), 2)}** "
            f"| {fmt(ratio(bw, ce), 2)} | {fmt(cpf, 2)} | {fmt(cbw, 2)} | **{fmt(ratio(cbw, cpf), 2)}** "
            f"| {fmt(pf_mem, 0)}{'' if pf_rss is None else f' ({pf_rss:.0f})'} "
            f"| {fmt(m(c, 'breakwater', 'peak_rss_mib'), 0)} / {fmt(m(c, 'breakwater', 'peak_pss_mib'), 0)} "
            f"| {fmt(m(c, 'breakwater', 'proc_write_bytes_per_msg'), 0)} / {fmt(m(c, 'breakwater', 'dev_write_bytes_per_msg'), 0)} "
            f"| {fmt(m(c, 'postfix', 'dev_write_bytes_per_msg'), 0)} | {lat} | {sink} "
            f"| {fmt(m(c, 'breakwater', 'allocs_per_msg'), 0)} |"
        )
    table = "\n".join(lines) + "\n"
    meta = out / "meta.txt"
    header = meta.read_text() + "\n" if meta.exists() else ""
    (out / "table.md").write_text(header + table)
    print()
    print(header + table)

    plot = [(n, [m(c, s, "msgs_per_s") for s in SIDES]) for c, n in PLOT_CASES]
    plot = [(n, v) for n, v in plot if any(x is not None for x in v)]
    if not plot:
        print("no c10/c50/c500 case: no plot")
        return
    with open(out / "plot.dat", "w") as f:
        f.write("# sessions ceiling postfix breakwater (msgs/s, medians)\n")
        for n, v in plot:
            f.write(f"{n} " + " ".join("NaN" if x is None else f"{x:.1f}" for x in v) + "\n")
    if not shutil.which("gnuplot"):
        sys.exit("gnuplot not found (apt-get install gnuplot-nox): plot.dat written, no plot.png")
    terminals = subprocess.run(
        ["gnuplot", "-e", "set terminal"], capture_output=True, text=True
    )
    term = "pngcairo" if "pngcairo" in terminals.stdout + terminals.stderr else "png"
    script = f"""
set terminal {term} size 900,540
set output '{out / "plot.png"}'
set title 'Relay throughput, 10 KB messages, one per connection ({runs} run(s), medians)'
set xlabel 'client sessions'
set ylabel 'messages per second'
set logscale x
set xtics (10, 50, 500)
set xrange [7:700]
set yrange [0:*]
set key top left
set grid
plot '{out / "plot.dat"}' using 1:2 with linespoints lw 2 pt 7 title 'ceiling (smtp-source -> smtp-sink)', \\
     '' using 1:3 with linespoints lw 2 pt 5 title 'Postfix', \\
     '' using 1:4 with linespoints lw 2 pt 9 title 'Breakwater'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"plot: {out / 'plot.png'}")


if __name__ == "__main__":
    main()
