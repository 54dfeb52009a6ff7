"""`make mutation`: mutation testing of the modules that decide rules (issue 26), one module group at a time.

The groups and the tests that cover each live in pyproject.toml, ``[tool.sscard-mutation]``. For each group
this makes a scratch copy of the project under var/mutation/<group>/ whose pyproject.toml carries the
``[tool.mutmut]`` table of that group (the files to mutate, the test directories to run), then runs mutmut
there. mutmut records which of those tests reach each function and runs only those for each mutant, so a
group costs its own tests once plus a few seconds per mutant. Results are kept between runs (mutmut caches
each mutant's verdict in var/mutation/<group>/mutants/); `--fresh` starts a group over.

    .venv/bin/python scripts/mutation.py                 # every group, most important first
    .venv/bin/python scripts/mutation.py pin-rules card-states   # only these groups (names: --list)
    .venv/bin/python scripts/mutation.py --list          # the groups, their files and tests
    .venv/bin/python scripts/mutation.py --summary       # the figures of the groups already run
    .venv/bin/python scripts/mutation.py --recheck pin   # only the survivors again, with today's tests
    .venv/bin/python scripts/mutation.py audit --only '*x__entry_fault__*'   # these functions' mutants only

Not part of `make test` (docs/mutation-report.md: each group's time). MUTATION_JOBS (default 1) sets mutmut's
--max-children; the run is niced (the machine is shared). After each group it prints the group's figures
("killed by tests" and "with mypy's": mypy's catches are counted apart) and its wall clock and CPU time (m:ss;
the CPU of mutmut and every child: what the group costs whatever else runs on the machine).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "var" / "mutation"
# What the tests read besides src/ and tests/ (docs they compare with, the bench helpers).
ALSO_COPY = ["docs", "bench", "README.md", "Makefile"]


def _config() -> dict:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return data["tool"]["sscard-mutation"]


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _prepare(name: str, group: dict, common_args: list[str], fresh: bool) -> Path:
    work = SCRATCH / name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for sub in ["src", "tests", *ALSO_COPY]:
        source, target = ROOT / sub, work / sub
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target)
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    table = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = {_toml_list(group['mutate'])}",
            f"pytest_add_cli_args = {_toml_list(common_args)}",
            f"pytest_add_cli_args_test_selection = {_toml_list(group['tests'])}",
            f"also_copy = {_toml_list(ALSO_COPY)}",
            "use_git_change_detection = false",
            # The tests start threads (the PIN verify lane's event loop, group commit) and connections:
            # a child forked straight from a process that ran them crashes (reported as "segfault").
            'process_isolation = "forkserver"',
            # A mutant's run starts a pytest session of its own (databases, keystore, app): seconds that the
            # per-test durations mutmut measured do not hold. Without this, quick tests "time out".
            # mutmut stops a mutant after (tests' time + constant) x multiplier seconds of wall clock: with its
            # default multiplier (15) a mutant that loops (expire_loss_reports with its exit test inverted)
            # held the only child for 15 min; 2 gives 60 s plus twice the tests' time. A group may set its own.
            "timeout_constant = 30.0",
            f"timeout_multiplier = {float(group.get('timeout_multiplier', 2.0))}",
            "",
        ]
    )
    if group.get("type_check"):
        # mypy over the mutated files first (`make typecheck`'s checker): a mutant it refuses never runs a test
        # and is counted apart ("caught by type check"), not as killed. mutmut recognises mypy by the word
        # "mypy" in the command, hence ``python -m mypy``.
        # mypy takes paths, not globs (pin-rules mutates `rules/*`): expanded here, without the caches.
        files = sorted(str(p.relative_to(ROOT)) for g in group["mutate"] for p in ROOT.glob(g) if p.suffix == ".py")
        command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "mypy", *files, "--output", "json"]
        table += f"type_check_command = {_toml_list(command)}\n"
    (work / "pyproject.toml").write_text(pyproject + table, "utf-8")
    return work


def _stats(work: Path) -> dict | None:
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    subprocess.run([str(mutmut), "export-cicd-stats"], cwd=work, capture_output=True, check=False)  # noqa: S603
    path = work / "mutants" / "mutmut-cicd-stats.json"
    if not path.exists():
        return None
    stats = json.loads(path.read_text())
    # mutmut 3.8.1's export leaves out the mutants mypy caught: counted from ``mutmut results --all``.
    command = [str(mutmut), "results", "--all", "true"]
    out = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)  # noqa: S603  # noqa: S603
    stats["caught_by_type_check"] = sum(line.endswith(": caught by type check") for line in out.stdout.splitlines())
    return stats


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _children_cpu() -> float:
    """User + system seconds of the waited-for child processes so far (mutmut, its fork server and mutants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _not_checked(stats: dict) -> int:
    decided = ("killed", "survived", "timeout", "segfault", "no_tests", "suspicious", "skipped", "caught_by_type_check")
    return stats["total"] - sum(stats.get(k, 0) for k in decided)


def _undecided_or_surviving(work: Path) -> list[str]:
    """The mutants a new test may kill now: survived, or no test reached them (``mutmut results``)."""
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    out = subprocess.run([str(mutmut), "results"], cwd=work, capture_output=True, text=True, check=False)  # noqa: S603
    names = []
    for line in out.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if status in ("survived", "no tests"):
            names.append(name)
    return names


def _not_checked_matching(work: Path, patterns: list[str]) -> list[str]:
    """The mutants named by ``patterns`` (globs) that no run has decided yet (``mutmut results --all``)."""
    mutmut = ROOT / ".venv" / "bin" / "mutmut"
    command = [str(mutmut), "results", "--all", "true"]
    out = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)  # noqa: S603
    names = []
    for line in out.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if status == "not checked" and any(fnmatch.fnmatch(name, p) for p in patterns):
            names.append(name)
    return names


def _line(name: str, stats: dict | None) -> str:
    if not stats or not stats.get("total"):
        return f"{name:16} not run"
    killed, total = stats["killed"], stats["total"]
    typed = stats.get("caught_by_type_check", 0)
    return (
        f"{name:16} mutants {total:4}  killed {killed:4}  caught by mypy {typed:3}  survived {stats['survived']:4}  "
        f"timeout {stats.get('timeout', 0):3}  crashed {stats.get('segfault', 0):3}  no tests {stats['no_tests']:3}  "
        f"not checked {_not_checked(stats):3}  killed by tests {100 * killed / total:5.1f} %, "
        f"with mypy's {100 * (killed + typed) / total:5.1f} %"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="*", help="groups to run (default: all, in pyproject order)")
    parser.add_argument("--list", action="store_true", help="list the groups and stop")
    parser.add_argument("--summary", action="store_true", help="print the figures of groups already run")
    parser.add_argument("--fresh", action="store_true", help="forget earlier verdicts of these groups")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="run only the mutants that survived (or had no test) again, with the tests as they are now",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="GLOB",
        help="only the mutants whose names match these globs (e.g. '*x__entry_fault__*'), those not yet decided; "
        "with --recheck, those that survived",
    )
    args = parser.parse_args()

    config = _config()
    groups: dict[str, dict] = config["groups"]
    unknown = [g for g in args.groups if g not in groups]
    if unknown:
        parser.error(f"unknown group(s) {unknown}; known: {list(groups)}")
    selected = args.groups or list(groups)

    if args.list:
        for name in selected:
            print(f"{name}: mutate {groups[name]['mutate']} with {groups[name]['tests']}")
        return 0
    if args.summary:
        for name in selected:
            work = SCRATCH / name
            print(_line(name, _stats(work) if (work / "mutants").exists() else None))
        return 0

    jobs = os.environ.get("MUTATION_JOBS", "1")
    rc = 0
    for name in selected:
        # A group may select its own tests (`-k`): one whose module has a PostgreSQL-only path runs those there too.
        pytest_args = [*config.get("pytest_args", []), "-k", groups[name].get("select", config["select"])]
        # mypy over the mutated files first, unless the group says otherwise (pyproject's common `type_check`).
        group = {"type_check": config.get("type_check", False), **groups[name]}
        work = _prepare(name, group, pytest_args, args.fresh)
        # mutmut keeps each verdict; named mutants are run again (new tests are found and mapped first).
        again = _undecided_or_surviving(work) if args.recheck and (work / "mutants").exists() else []
        if args.recheck and not again:
            print(f"== {name}: nothing to recheck", flush=True)
            continue
        if args.only:
            # mutmut reruns every mutant it is given by name: give it only those still to decide (or recheck).
            if args.recheck:
                again = [m for m in again if any(fnmatch.fnmatch(m, p) for p in args.only)]
            elif (work / "mutants").exists():
                again = _not_checked_matching(work, args.only)
            else:
                again = list(args.only)  # first run: mutmut generates the mutants, then runs those matching
            if not again:
                print(f"== {name}: nothing left to run among {args.only}", flush=True)
                continue
        # No PYTHONPATH here: mutmut puts mutants/src first itself (with it set, no test reaches a mutant).
        # Servers and CLIs that tests start as subprocesses run the unmutated code: they kill nothing.
        # No CI either: under CI=true a PostgreSQL test fails (not skips) when the server does not answer in time,
        # and mutmut would count that failure of the set-up as a kill.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
        # tests/conftest.py: the fork server's collection run builds the SQLite template and the app once,
        # so that each mutant's pytest session (a fork of it) does not (seconds per mutant).
        env["SSCARD_MUTATION_WARMUP"] = "1"
        print(f"== {name}: {groups[name]['mutate']} with {groups[name]['tests']}", flush=True)
        started, cpu_before = time.monotonic(), _children_cpu()
        done = subprocess.run(  # noqa: S603
            ["nice", "-n", "10", str(ROOT / ".venv" / "bin" / "mutmut"), "run", "--max-children", jobs, *again],  # noqa: S607
            cwd=work,
            env=env,
            check=False,
        )
        rc = rc or done.returncode
        print(_line(name, _stats(work)), flush=True)
        # CPU is what the group costs whatever else runs; the wall clock says how long it took beside it.
        wall, cpu = time.monotonic() - started, _children_cpu() - cpu_before
        load = os.getloadavg()[0]
        print(f"{name:16} wall {_clock(wall)}  CPU {_clock(cpu)} (mutmut and its children)  load now {load:.1f}")
    print("\nSummary (`mutmut results --all true` in var/mutation/<group>/ lists each mutant):")
    for name in selected:
        work = SCRATCH / name
        print(_line(name, _stats(work) if (work / "mutants").exists() else None))
    return rc


if __name__ == "__main__":
    sys.exit(main())
