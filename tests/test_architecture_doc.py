"""docs/architecture.md names every file of the packages, one line each, and names no file that is not there.

The list is the code block under "## Files, one line each". A line at indentation 0 names a top-level path (or
twin folders, ``deberta_torch/ | deberta_tf/``) and opens that folder; a line indented by two spaces names paths
inside the open folder(s) (several with ``, ``); a deeper-indented line continues a description. Reads text
only: no package is imported.
"""

import pathlib
import re
from typing import Dict, List, Set, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
SECTION = "## Files, one line each"
# The folders whose every .py file must have its line.
PACKAGES = ("deberta_core", "deberta_torch", "deberta_tf", "conversion", "examples", "benchmarks")
# The name column ends at the first run of two spaces (or at the end of the line).
NAME_COLUMN = re.compile(r"^(\S(?:\S| (?! ))*)")


def files_block(text: str) -> List[str]:
    """The lines of the first code block after the SECTION heading."""
    if SECTION not in text:
        raise ValueError(f"{DOC.name} has no {SECTION!r} section")
    lines = text.split(SECTION, 1)[1].splitlines()
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    if len(fences) < 2:
        raise ValueError(f"the {SECTION!r} section of {DOC.name} has no closed code block")
    return lines[fences[0] + 1:fences[1]]


def named_paths(lines: List[str]) -> Tuple[Dict[str, int], List[str]]:
    """({repository-relative path: line in the block}, errors of form)."""
    named: Dict[str, int] = {}
    errors: List[str] = []
    folders: List[str] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent > 2:
            continue  # a description continued
        match = NAME_COLUMN.match(line[indent:])
        names = [name.strip() for name in match.group(1).replace(" | ", ", ").split(", ")]
        if indent == 0:
            paths = names
            folders = [name.rstrip("/") for name in names if name.endswith("/")]
        elif folders:
            paths = [f"{folder}/{name}" for folder in folders for name in names]
        else:
            errors.append(f"line {number}: {line.strip()!r} is indented but no folder is open above it")
            continue
        for path in paths:
            named.setdefault(path.rstrip("/"), number)
    return named, errors


def package_files() -> Set[str]:
    return {p.relative_to(ROOT).as_posix() for top in PACKAGES for p in (ROOT / top).rglob("*.py")
            if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def named():
    paths, errors = named_paths(files_block(DOC.read_text(encoding="utf-8")))
    assert not errors, errors
    return paths


def test_every_package_file_has_its_line(named):
    missing = sorted(package_files() - set(named))
    assert not missing, (f"{len(missing)} package file(s) missing from the {SECTION!r} list of "
                         f"docs/architecture.md (one line each, under their folder): {missing}")


def test_every_named_file_exists(named):
    absent = sorted(f"{path} (block line {line})" for path, line in named.items() if not (ROOT / path).exists())
    assert not absent, f"docs/architecture.md names files that do not exist: {absent}"


def test_the_parser_reads_folders_twins_and_continuations():
    lines = ["pyproject.toml    the distribution",
             "a/ | b/           twins",
             "  x.py, y.py      two files",
             "                  a description continued",
             "c/                one folder",
             "  sub/z.py        a file in a sub-folder"]
    paths, errors = named_paths(lines)
    assert errors == []
    assert set(paths) == {"pyproject.toml", "a", "b", "a/x.py", "a/y.py", "b/x.py", "b/y.py", "c", "c/sub/z.py"}
    assert named_paths(["  orphan.py   no folder above"])[1] != []
