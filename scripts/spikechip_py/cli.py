"""Command-line values shared by the Python tools (scripts/*): argparse types under which a bad
number or path is a usage error naming its option (exit 2, before any work), as the binary's
options are, instead of a traceback later (`--batch 0`), a silently wrong result (`--limit -3`
took all but the last three images; `eval_fashion_mnist --sample -2` wrote "images 0..-3" into
the shipped model's sample.json) or a corrupt output (`spikechip-export --std 0` wrote Infinity
into graph.json)."""
import argparse
import math
import os

from .files import name_length_error, under_dev_or_proc


def int_range(lo, hi=None):
    """argparse type: an integer in lo..hi (hi None: no upper bound)."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, got {v}" if hi is not None else
                                             f"must be >= {lo}, got {v}")
        return v
    return parse


def float_range(lo=-math.inf, positive=False):
    """argparse type: a finite number >= lo (> 0 with positive)."""
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not math.isfinite(v) or v < lo or (positive and v <= 0):
            bound = " > 0" if positive else "" if lo == -math.inf else f" >= {lo:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number{bound}, got {text}")
        return v
    return parse


def int_list(count, lo=1):
    """argparse type: `count` comma-separated integers >= lo ("16,32,64,64")."""
    def parse(text):
        try:
            vals = [int(v) for v in text.split(",")]
        except ValueError:
            vals = []
        if len(vals) != count or min(vals) < lo:
            raise argparse.ArgumentTypeError(f"expected {count} comma-separated integers >= {lo}, got '{text}'")
        return vals
    return parse


def output_dir(text):
    """argparse type: a directory to write into (made when missing): not an existing file, and not
    under /dev or /proc, where nothing is made, and no name in it too long for the file system."""
    if why := name_length_error(text):
        raise argparse.ArgumentTypeError(why)
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a directory; choose another path or move the file")
    if under_dev_or_proc(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: no directory is made under /dev or /proc; give a path elsewhere")
    return text


def output_file(text):
    """argparse type: a file to write (its directory made when missing), checked before the work as
    the binary checks `-o`: not a directory, not a missing path under /dev or /proc, and no file
    where a directory of its path has to be, and no name in it too long for the file system."""
    if why := name_length_error(text):
        raise argparse.ArgumentTypeError(why)
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text}: is a directory; give a file name")
    if under_dev_or_proc(text) and not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"{text}: no such device; nothing is made under /dev or /proc")
    parent = os.path.dirname(os.path.normpath(os.path.abspath(text)))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, not a directory")
    return text
