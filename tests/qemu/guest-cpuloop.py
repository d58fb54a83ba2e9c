#!/usr/bin/python3
"""A guest CPU loop (run inside the test guest): how many blocks of 10000
empty Python iterations one vCPU gets through per second, the median of
SECONDS one-second windows, and the longest time one block took, in ms. A
vCPU that QEMU holds still (waiting for something under its big lock)
shows as a long block; a slower host only as a lower rate.

    guest-cpuloop.py SECONDS        prints "RATE LONGEST_MS"
"""
import statistics
import sys
import time


def window():
    n = 0
    longest = 0.0
    last = time.monotonic()
    end = last + 1.0
    while last < end:
        for _ in range(10000):
            pass
        now = time.monotonic()
        longest = max(longest, now - last)
        last = now
        n += 1
    return n, longest


runs = [window() for _ in range(int(sys.argv[1]))]
print(statistics.median(n for n, _ in runs), round(1000 * max(g for _, g in runs)))
