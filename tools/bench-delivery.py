#!/usr/bin/env python3
"""bench-delivery.py - the timed phase of tools/bench-delivery (python3 stdlib only).

    bench-delivery.py measure --n N --relay-pid PID --sink-pid P --sink-out F [--sink-pid P --sink-out F ...]
                              --sink-addr IP:PORT [...] [--drain-dir DIR ...] [--timeout SEC] -- TRIGGER COMMAND...

The relay's queue already holds N deferred messages and the sinks are listening.
This samples CPU counters, runs TRIGGER (`breakwater cli delivernow all` or
`postqueue -f`), then polls the sinks' `smtp-sink -c` output until together they
counted N messages, then until the relay's queue has drained (no file left under
any --drain-dir: Postfix's incoming/active/deferred/defer, Breakwater's spool, whose
body files are unlinked once the retirement is flushed), and samples the CPU
counters again, so the relay's work after the last 250 (removing the message from
its queue) is counted too. One process does all the polling (every 50 ms for the
counts, every 250 ms for the connection count), so the observer costs the same
for both relays.

Prints one line of key=value pairs:
  secs      trigger start -> the sinks have N messages
  rate      N / secs (msgs/s)
  drained   trigger start -> the queue is empty as well (s)
  first     trigger start -> first message at a sink (s)
  relay_ms  CPU (user+sys) of the relay per message, trigger -> drained: PID, its live
            children and the children it reaped during the phase (Postfix: master +
            all daemons; Breakwater: the one process, all threads)
  sink_ms   CPU of the sinks per message (trigger -> sinks have N)
  busy      machine CPU busy % during the phase (all cores, all processes)
  peak_conn most ESTABLISHED TCP connections to the sinks seen at one time (sampled)
  load      1-minute load average at the start
Exit 1 (with a message on stderr) when the trigger fails, a sink dies or time runs out.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
MESG = re.compile(rb"mesg=(\d+)")


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 = state)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2:].split()


def children(pid):
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if int(stat_fields(name)[1]) == pid:
                kids.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def ticks(pid, with_children=True):
    """utime+stime(+cutime+cstime) of pid, plus utime+stime of its live children."""
    total = 0
    if with_children:
        for k in children(pid):  # children first: a child reaped meanwhile is counted twice, not lost
            try:
                f = stat_fields(k)
                total += int(f[11]) + int(f[12])
            except (OSError, IndexError, ValueError):
                pass
    f = stat_fields(pid)
    total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total


def cpu_idle_total():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[3] + v[4], sum(v)


def alive(pid):
    try:
        return stat_fields(pid)[0] in (b"R", b"S", b"D", b"T")
    except OSError:
        return False


def hexaddr(addr):
    ip, port = addr.rsplit(":", 1)
    a = bytes(int(x) for x in ip.split("."))
    return "%08X:%04X" % (int.from_bytes(a, "little"), int(port))


def established(local_set):
    # /proc/net/tcp is read in several chunks while connections come and go, so the
    # same socket can be listed twice: count distinct (local, remote) pairs.
    seen = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split(None, 4)
            if p[3] == "01" and p[1] in local_set:
                seen.add((p[1], p[2]))
    return len(seen)


def files_left(dirs):
    n = 0
    for d in dirs:
        for _, _, files in os.walk(d):
            n += len(files)
    return n


class Counter:
    """Follows one `smtp-sink -c` output file: the last mesg=N it printed."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.tail = b""
        self.value = 0

    def poll(self):
        data = self.f.read()
        if data:
            buf = self.tail + data
            m = None
            for m in MESG.finditer(buf):
                pass
            if m:
                self.value = int(m.group(1))
            self.tail = buf[-64:]
        return self.value


def measure(a):
    if len(a.sink_pid) != len(a.sink_out):
        sys.exit("bench-delivery.py: one --sink-out per --sink-pid")
    counters = [Counter(p) for p in a.sink_out]
    base = sum(c.poll() for c in counters)
    if base:
        sys.exit(f"bench-delivery.py: the sinks already counted {base} messages before the trigger")
    local = {hexaddr(x) for x in a.sink_addr}
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    r0 = ticks(a.relay_pid)
    s0 = sum(ticks(p, False) for p in a.sink_pid)
    i0, c0 = cpu_idle_total()
    t0 = time.monotonic()
    proc = subprocess.run(a.trigger, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.stderr.write(f"bench-delivery.py: trigger failed (exit {proc.returncode}): {' '.join(a.trigger)}\n")
        sys.stderr.write(proc.stdout.decode(errors="replace"))
        sys.exit(1)
    out = proc.stdout.decode(errors="replace").strip().replace("\n", " | ")
    first = None
    peak = 0
    next_conn = 0.0
    deadline = t0 + a.timeout
    while True:
        now = time.monotonic()
        got = sum(c.poll() for c in counters)
        if got and first is None:
            first = now - t0
        if got >= a.n:
            break
        if now >= next_conn:
            peak = max(peak, established(local))
            next_conn = now + 0.25
            for p in a.sink_pid:
                if not alive(p):
                    sys.exit(f"bench-delivery.py: smtp-sink {p} died ({got} of {a.n} messages counted)")
            if not alive(a.relay_pid):
                sys.exit(f"bench-delivery.py: the relay ({a.relay_pid}) died ({got} of {a.n} messages counted)")
        if now >= deadline:
            sys.exit(f"bench-delivery.py: timeout after {a.timeout}s: the sinks counted {got} of {a.n} messages")
        time.sleep(0.05)
    t1 = time.monotonic()
    s1 = sum(ticks(p, False) for p in a.sink_pid)
    i1, c1 = cpu_idle_total()
    left = 0
    while a.drain_dir:
        left = files_left(a.drain_dir)
        if left == 0:
            break
        if time.monotonic() >= t1 + 30:
            sys.exit(f"bench-delivery.py: {left} queue files left 30 s after the sinks counted {a.n}")
        time.sleep(0.05)
    t2 = time.monotonic()
    r1 = ticks(a.relay_pid)
    secs = t1 - t0
    busy = 100.0 * (1 - (i1 - i0) / max(1, c1 - c0))
    ms = lambda t: 1000.0 * t / HZ / a.n
    print(f"secs={secs:.2f} rate={a.n / secs:.1f} drained={t2 - t0:.2f} first={first:.2f} relay_ms={ms(r1 - r0):.3f} "
          f"sink_ms={ms(s1 - s0):.3f} busy={busy:.0f} peak_conn={peak} load={load} got={got} "
          f"trigger=\"{out}\"")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--n", type=int, required=True)
    m.add_argument("--relay-pid", type=int, required=True)
    m.add_argument("--sink-pid", type=int, action="append", default=[])
    m.add_argument("--sink-out", action="append", default=[])
    m.add_argument("--sink-addr", action="append", default=[])
    m.add_argument("--drain-dir", action="append", default=[])
    m.add_argument("--timeout", type=float, default=300)
    m.add_argument("trigger", nargs="+")
    a = p.parse_args()
    if a.cmd == "measure":
        measure(a)


if __name__ == "__main__":
    main()
