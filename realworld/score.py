"""Score bgtask-lint on the real-world development corpus.

For every app of realworld/apps.json: run the real program (`python -m bgtask_lint check
--format json`) over the app's package roots, then compare its findings with

* the blind labels (realworld/labels/<app>.csv: path,line,code,expected yes/no), and
* the hand reviews of findings no label covers (realworld/reviews/<app>.csv:
  path,line,code,verdict real/noise,reason).

Per code: recall = labelled `yes` found / labelled `yes`; precision = (findings on a `yes`
label + reviewed `real`) / all findings, where a finding on a `no` label, one reviewed
`noise`, and one nobody has reviewed yet all count against it (a new finding must be
read before it can raise precision).

    python realworld/score.py                 # table for every app
    python realworld/score.py --unreviewed    # list the findings no label or review covers
    python realworld/score.py --record        # write realworld/baseline.json (the test's floor)
    python realworld/score.py --set generalization   # the apps of realworld/generalization/,
                                                     # reviewed once and never tuned on before

Stdlib only; loads scripts/fetch_corpus.py by path.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINE = HERE / "baseline.json"

Key = tuple[str, int, str]  # (path relative to the app's directory, line, code)


def _fetcher():
    spec = importlib.util.spec_from_file_location("fetch_corpus", REPO / "scripts" / "fetch_corpus.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules.setdefault("fetch_corpus", module)
    spec.loader.exec_module(module)
    return module


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# a set of apps: a directory holding apps.json, labels/ and reviews/
SETS = {"development": HERE, "generalization": HERE / "generalization"}


def labels_of(app: str, base: Path = HERE) -> dict[Key, bool]:
    return {(r["path"], int(r["line"]), r["code"]): r["expected"].strip() == "yes"
            for r in read_rows(base / "labels" / f"{app}.csv")}


def reviews_of(app: str, base: Path = HERE) -> dict[Key, bool]:
    return {(r["path"], int(r["line"]), r["code"]): r["verdict"].strip() == "real"
            for r in read_rows(base / "reviews" / f"{app}.csv")}


@dataclass
class AppRun:
    name: str
    findings: list[Key] = field(default_factory=list)
    messages: dict[Key, str] = field(default_factory=dict)
    directory: Path | None = None
    errors: list[str] = field(default_factory=list)  # stderr lines (one per unreadable file)
    crashed: str | None = None  # a traceback or an unexpected exit code


def run_app(name: str, directory: Path, roots: list[str]) -> AppRun:
    """The real command line over one app, from a directory outside any project of ours."""
    proc = subprocess.run(
        [sys.executable, "-m", "bgtask_lint", "check", "--no-cache", "--exit-zero", "--format", "json",
         *[str(directory / root) for root in roots]],
        capture_output=True, text=True, cwd=directory,
    )
    run = AppRun(name, directory=directory)
    if "Traceback" in proc.stderr or proc.returncode not in (0, 2):
        run.crashed = f"exit {proc.returncode}: {proc.stderr[-2000:]}"
        return run
    run.errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    for item in json.loads(proc.stdout or "[]"):
        path = Path(item["filename"])
        path = (directory / path).resolve() if not path.is_absolute() else path
        key = (path.relative_to(directory.resolve()).as_posix(), item["location"]["row"], item["code"])
        run.findings.append(key)
        run.messages[key] = item["message"]
    return run


@dataclass
class CodeScore:
    labelled_yes: int = 0
    found_yes: int = 0
    true: int = 0  # findings on a yes label, or reviewed real
    false: int = 0  # findings on a no label, or reviewed noise
    unreviewed: int = 0

    @property
    def findings(self) -> int:
        return self.true + self.false + self.unreviewed

    @property
    def recall(self) -> float | None:
        return self.found_yes / self.labelled_yes if self.labelled_yes else None

    @property
    def precision(self) -> float | None:
        return self.true / self.findings if self.findings else None


def score(runs: list[AppRun], base: Path = HERE
          ) -> tuple[dict[str, CodeScore], dict[str, list[Key]], dict[str, list[Key]]]:
    """Per-code scores; per app, the findings nobody has judged and the labelled bugs missed."""
    scores, unreviewed, missed, _ = score_all(runs, base)
    return scores, unreviewed, missed


def score_all(runs: list[AppRun], base: Path = HERE):
    """`score`, and per app the findings judged false (a no label or reviewed noise)."""
    scores: dict[str, CodeScore] = defaultdict(CodeScore)
    unreviewed: dict[str, list[Key]] = {}
    missed: dict[str, list[Key]] = {}
    false: dict[str, list[Key]] = {}
    for run in runs:
        labels, reviews = labels_of(run.name, base), reviews_of(run.name, base)
        found = set(run.findings)
        for key, expected in labels.items():
            if expected:
                scores[key[2]].labelled_yes += 1
                if key in found:
                    scores[key[2]].found_yes += 1
                else:
                    missed.setdefault(run.name, []).append(key)
        for key in sorted(found):
            verdict = labels.get(key, reviews.get(key))
            if verdict is None:
                scores[key[2]].unreviewed += 1
                unreviewed.setdefault(run.name, []).append(key)
            elif verdict:
                scores[key[2]].true += 1
            else:
                scores[key[2]].false += 1
                false.setdefault(run.name, []).append(key)
    return dict(scores), unreviewed, missed, false


def run_corpus(only: list[str] | None = None, base: Path = HERE) -> list[AppRun]:
    fetcher = _fetcher()
    apps = fetcher.select_apps(fetcher.load_apps(base / "apps.json"), only)
    directories = fetcher.fetch_all(apps, fetcher.corpus_dir())
    return [run_app(app["name"], directories[app["name"]], app["roots"]) for app in apps]


def table(scores: dict[str, CodeScore]) -> str:
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    lines = ["code     findings  true  false  unreviewed  precision  labelled-yes  found  recall"]
    for code in sorted(scores):
        s = scores[code]
        lines.append(f"{code:<8} {s.findings:>8} {s.true:>5} {s.false:>6} {s.unreviewed:>11}  {fmt(s.precision):>9}"
                     f"  {s.labelled_yes:>12} {s.found_yes:>6}  {fmt(s.recall):>6}")
    total_yes = sum(s.labelled_yes for s in scores.values())
    total_found = sum(s.found_yes for s in scores.values())
    if total_yes:
        lines.append(f"overall recall {total_found}/{total_yes} = {total_found / total_yes:.2f}")
    return "\n".join(lines)


def baseline_of(scores: dict[str, CodeScore]) -> dict[str, dict[str, float | None]]:
    return {code: {"precision": s.precision, "recall": s.recall} for code, s in sorted(scores.items())}


def _excerpt(path: Path, line: int, around: int) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    low, high = max(1, line - around), min(len(lines), line + around)
    return "\n".join(f"{'>' if n == line else ' '}{n:6d}  {lines[n - 1]}" for n in range(low, high + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated app names")
    parser.add_argument("--unreviewed", action="store_true", help="list findings no label or review covers")
    parser.add_argument("--context", type=int, default=0, metavar="N",
                        help="with --unreviewed/--missed/--false: show N lines of code around each one")
    parser.add_argument("--missed", action="store_true", help="list labelled bugs not found")
    parser.add_argument("--false", action="store_true", help="list findings judged false")
    parser.add_argument("--record", action="store_true", help="write realworld/baseline.json")
    parser.add_argument("--set", choices=sorted(SETS), default="development",
                        help="which apps: the development corpus (default) or the generalization set")
    args = parser.parse_args(argv)
    if args.record and args.set != "development":
        parser.error("--record writes the development corpus' floor only")
    base = SETS[args.set]
    runs = run_corpus(args.only.split(",") if args.only else None, base)
    for run in runs:
        if run.crashed:
            print(f"{run.name}: CRASHED {run.crashed}", file=sys.stderr)
        print(f"{run.name}: {len(run.findings)} findings, {len(run.errors)} unreadable files "
              f"({Counter(code for *_, code in run.findings).most_common()})")
    scores, unreviewed, missed, false = score_all(runs, base)
    print(table(scores))
    by_name = {run.name: run for run in runs}
    lists = {"unreviewed": unreviewed, "missed": missed, "false": false}
    for wanted, title in ((args.unreviewed, "unreviewed"), (args.missed, "missed"), (args.false, "false")):
        if not wanted:
            continue
        for app, keys in lists[title].items():
            run = by_name[app]
            for key in keys:
                path, line, code = key
                print(f"{title} {app} {path}:{line} {code} {run.messages.get(key, '')}")
                if args.context and run.directory is not None:
                    print(_excerpt(run.directory / path, line, args.context))
    if args.record:
        BASELINE.write_text(json.dumps(baseline_of(scores), indent=1, sort_keys=True) + "\n")
    return 1 if any(run.crashed for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
