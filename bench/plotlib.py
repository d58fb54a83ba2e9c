"""What every bench/plot-*.py needs: matplotlib without a display, the CSV
rows, numbers that may be missing."""
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401 - re-exported for the plot scripts


def read(path):
    """The CSV at path as a list of dicts, one per row."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def num(text):
    """float(text), or None for an empty or non-numeric cell ('n/a')."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
