#!/usr/bin/env python3
"""Random 64 KiB preads of a file: prints the latencies' median, p99 and max in ms as JSON.

usage: random-pread.py FILE [COUNT] [SIZE] [SEED]
The offsets are the same for the same seed and file size, so two files of one size are
read at the same places.
"""
import json
import os
import random
import sys
import time

path = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
size = int(sys.argv[3]) if len(sys.argv) > 3 else 65536
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
fd = os.open(path, os.O_RDONLY)
total = os.fstat(fd).st_size
times = []
for _ in range(count):
    offset = rng.randrange(0, total - size)
    started = time.perf_counter_ns()
    got = os.pread(fd, size, offset)
    times.append((time.perf_counter_ns() - started) / 1e6)
    if len(got) != size:
        sys.exit(f"short read at {offset}: {len(got)} of {size}")
os.close(fd)
times.sort()
print(json.dumps({
    "count": count,
    "median_ms": times[len(times) // 2],
    "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    "max_ms": times[-1],
}))
