"""docs/errors.md is what the bad_input tests declare (tests/error_catalogue.py), and every row ends in an error
or a report, never a silent result."""

from __future__ import annotations

import error_catalogue

# Issue 12's bar: at least this many distinct bad inputs detected and tested.
MIN_DISTINCT_BAD_INPUTS = 60


def test_docs_errors_md_is_generated_from_the_tests():
    rows = error_catalogue.collect_rows()
    expected = error_catalogue.render(rows)
    current = error_catalogue.DOC.read_text(encoding="utf-8") if error_catalogue.DOC.exists() else ""
    assert current == expected, "docs/errors.md is out of date: run `python tests/error_catalogue.py --write`"
    descriptions = [row["description"] for row in rows]
    duplicated = sorted({d for d in descriptions if descriptions.count(d) > 1})
    assert not duplicated, f"each bad input is catalogued once; described twice: {duplicated}"
    distinct = error_catalogue.distinct_inputs(rows)
    assert len(distinct) >= MIN_DISTINCT_BAD_INPUTS, f"{len(distinct)} distinct bad inputs catalogued"
