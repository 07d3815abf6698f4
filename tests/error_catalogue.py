"""docs/errors.md, generated from the tests: every test marked ``bad_input`` (see tests/conftest.py) is one row.

    python tests/error_catalogue.py            # print the catalogue
    python tests/error_catalogue.py --write    # rewrite docs/errors.md

tests/test_error_catalogue.py fails when docs/errors.md differs from what the tests declare, so the catalogue
cannot drift from the checks that prove it.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
from typing import Dict, List

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"
AREAS = {  # tests/<folder> -> section title, in this order
    "core": "Configuration, tokenizer and checkpoint files (deberta_core)",
    "torch": "PyTorch models (deberta_torch)",
    "tf": "Keras models (deberta_tf)",
    "twins": "Model inputs and labels, both twins (deberta_torch and deberta_tf)",
    "conversion": "Conversion and the deberta-convert CLI",
    "e2e": "Training scripts and examples",
    "": "Other",
}
HEADER = """# Errors the package detects

Every row is a bad input that the package refuses with a clear error, or accepts and reports, and the test
that proves it: the test runs the input and asserts the exception (or warning, or log line) and a fragment of
its message, exactly as listed here. This page is generated from the tests (`python tests/error_catalogue.py
--write`) and `make test` fails when it is out of date, so it cannot drift from what the code does.

Columns: *error* is the exception class (a `Warning` class is warned, `log:LEVEL` is logged at that level and
the input is accepted); *message contains* is a literal fragment of the message.
"""


def collect_rows() -> List[Dict[str, str]]:
    """The bad_input rows of the whole suite, from a pytest --collect-only run in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rows.json")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
             f"--error-catalogue={out}"],
            cwd=ROOT, capture_output=True, text=True, env=env,
        )
        if proc.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"test collection failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        with open(out, encoding="utf-8") as handle:
            return json.load(handle)


# A rule both twins enforce is one row per twin, its description ending in " (torch)" / " (Keras)".
TWIN_SUFFIXES = (" (torch)", " (Keras)")


def distinct_inputs(rows: List[Dict[str, str]]) -> List[str]:
    """The distinct bad inputs: each row's description without its twin suffix."""
    out = set()
    for row in rows:
        description = row["description"]
        for suffix in TWIN_SUFFIXES:
            if description.endswith(suffix):
                description = description[: -len(suffix)]
        out.add(description)
    return sorted(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: List[Dict[str, str]]) -> str:
    by_area: Dict[str, List[Dict[str, str]]] = {area: [] for area in AREAS}
    for row in rows:
        parts = row["test"].split("/")
        area = parts[1] if len(parts) > 2 and parts[1] in AREAS else ""
        by_area[area].append(row)
    lines = [HEADER, f"{len(distinct_inputs(rows))} distinct bad inputs in {len(rows)} rows (a rule both twins "
                     f"enforce has a row per twin).", ""]
    for area, title in AREAS.items():
        if not by_area[area]:
            continue
        lines += [f"## {title}", "", "| bad input | error | message contains | test |", "|---|---|---|---|"]
        for row in by_area[area]:
            lines.append(f"| {_cell(row['description'])} | `{row['error']}` | `{_cell(row['fragment'])}` | "
                         f"`{_cell(row['test'])}` |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render(collect_rows())
    if "--write" in argv:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
