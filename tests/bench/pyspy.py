"""Summarise a py-spy ``--format raw`` (collapsed stacks) profile: where the time goes, in percent.

    python -m tests.bench.pyspy PROFILE [--under FUNCTION] [--top 25]

Prints the share of samples spent inside each of the project's own functions (inclusive: the
function or anything it calls) and the leaf frames (self time), both as a percentage of the samples
under ``--under`` (default: every sample of the main thread).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
OWN = ("signals/", "positions/", "portfolio/", "core/", "reconciliation/", "recovery/")


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        out.append((match["func"], match["file"]) if match else (raw.strip(), ""))
    return out


def summarise(path: Path, *, under: str | None, top: int) -> str:
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = _frames(stack)
        if under:
            names = [f for f, _ in frames]
            if under not in names:
                continue
            frames = frames[names.index(under):]
        n = int(count)
        total += n
        seen = set()
        for func, file in frames:
            if file.startswith(OWN) and (func, file) not in seen:
                seen.add((func, file))
                inclusive[f"{file}:{func}"] += n
        func, file = frames[-1]
        leaf[f"{func} ({file})"] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples{f' under {under}' if under else ''}",
             "inclusive (own code):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines.append("self (leaf frames):")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in leaf.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--under", help="only samples whose stack passes through this function")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.profile, under=args.under, top=args.top))


if __name__ == "__main__":
    main()
