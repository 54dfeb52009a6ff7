"""The package keeps version ranges and the lock file pins them (make and CI install from the lock).

A range in pyproject.toml lets sscard install beside other software; requirements.lock makes every
install of this repository the tested one. Both drift silently unless something checks them together.
"""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def _locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"requirements.lock: not an exact pin: {raw!r}"
        pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def test_pyproject_keeps_ranges_not_exact_pins() -> None:
    pinned = [str(req) for req in _direct_requirements() if any(spec.operator == "==" for spec in req.specifier)]
    assert pinned == [], f"exact pins belong in requirements.lock, ranges in pyproject.toml: {pinned}"


def test_every_dependency_is_locked_inside_its_range() -> None:
    locked = _locked()
    problems = []
    for req in _direct_requirements():
        version = locked.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: missing from requirements.lock (run make lock)")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: locked {version} is outside {req.specifier}")
    assert problems == []
