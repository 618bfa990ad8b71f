#!/usr/bin/env python3
"""Where the machine's CPU went while bench/run measured a scenario: the profile of who else ran.

    before=$(bench/cpu.py SERVER_PID $$)   # a snapshot (one line of numbers)
    ...                                    # the measurement (wrk, run by this shell)
    after=$(bench/cpu.py SERVER_PID $$)
    bench/cpu.py --diff "$before" "$after" # one line: cpu=server:48%,wrk:40%,...

The shares are of all cores' time between the two snapshots (from /proc/stat): the apinfer server;
wrk (the time of the bench shell's reaped children, which the kernel adds to the shell's own: wrk
has exited by the second snapshot; the first snapshot's own few milliseconds count here too);
PostgreSQL's processes (every backend and background worker: checkpointer, autovacuum, the WAL
writer); everything else that ran; the time the hypervisor took (steal) and idle. `preempted`
counts the times the server's threads were switched out while still runnable (the sum of their
nonvoluntary_ctxt_switches): each is a wait a request may have sat through, and what makes a tail
when the server shares the cores with others. Standard library only; Linux only.
"""

import os
import sys

FIELDS = ("total", "idle", "steal", "server", "wrk", "postgres", "preempted")


def ticks(pid, children=False):
    """utime + stime of one process (or of its reaped children), in clock ticks; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        first = 13 if children else 11
        return int(rest[first]) + int(rest[first + 1])
    except (OSError, IndexError, ValueError):
        return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def preempted(pid):
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("nonvoluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def snapshot(server, client):
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    total = sum(cpu[:8])
    idle = cpu[3] + cpu[4]
    steal = cpu[7] if len(cpu) > 7 else 0
    postgres = sum(ticks(name) for name in os.listdir("/proc") if name.isdigit() and comm(name) == "postgres")
    return (total, idle, steal, ticks(server), ticks(client, children=True), postgres, preempted(server))


def diff(before, after):
    b = dict(zip(FIELDS, map(int, before.split())))
    a = dict(zip(FIELDS, map(int, after.split())))
    d = {k: a[k] - b[k] for k in FIELDS}
    total = max(d["total"], 1)
    known = d["server"] + d["wrk"] + d["postgres"] + d["steal"] + d["idle"]
    share = {
        "server": d["server"],
        "wrk": d["wrk"],
        "postgres": d["postgres"],
        "other": max(total - known, 0),
        "steal": d["steal"],
        "idle": d["idle"],
    }
    parts = ",".join(f"{k}:{100 * v / total:.0f}%" for k, v in share.items())
    return f"cpu={parts} preempted={d['preempted']}"


if __name__ == "__main__":
    if sys.argv[1] == "--diff":
        print(diff(sys.argv[2], sys.argv[3]))
    else:
        print(" ".join(map(str, snapshot(int(sys.argv[1]), int(sys.argv[2])))))
