"""The documentation cannot rot: the site builds in strict mode (a broken link, a page missing from the nav or an
unresolved API reference fails), and every code block marked runnable in README.md and docs/ runs.

A runnable block is a ```python fence directly after a line holding only ``<!-- runnable -->`` (at the fence's
indentation, so blocks inside content tabs count). The blocks of one page run in order in one namespace (as a
reader runs them), in an empty folder holding a tiny random checkpoint at ``microsoft/deberta-base/``: what the
text shows with deberta-base runs offline on the ``deberta-tiny`` preset."""

import os
import pathlib
import re
import subprocess
import sys
from typing import List, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MARKER = "<!-- runnable -->"
# The hub id the docs show; the runnable-docs folder holds a tiny checkpoint under this (relative) path, which
# from_pretrained resolves as a local folder before trying the hub.
HUB_ID = "microsoft/deberta-base"


def runnable_blocks(path: pathlib.Path) -> List[Tuple[int, str]]:
    """(first line number, code) of each runnable block of ``path``; a marker not followed by a ```python fence at
    its own indentation, or a fence left open, is an error (a marker that silently marks nothing would rot)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        indent = line[: len(line) - len(line.lstrip())]
        fence = lines[i + 1] if i + 1 < len(lines) else ""
        if fence.rstrip() != indent + "```python":
            raise ValueError(f"{path}:{i + 1}: {MARKER} must be followed by a ```python fence at the same "
                             f"indentation; the next line is {fence!r}")
        body = []
        for j in range(i + 2, len(lines)):
            if lines[j].rstrip() == indent + "```":
                break
            if lines[j].strip() and not lines[j].startswith(indent):
                raise ValueError(f"{path}:{j + 1}: line of a runnable block is indented less than its fence")
            body.append(lines[j][len(indent):])
        else:
            raise ValueError(f"{path}:{i + 2}: runnable block never closed")
        blocks.append((i + 3, "\n".join(body)))
    return blocks


PAGES = [p for p in DOC_FILES if runnable_blocks(p)]


# The runnable blocks each page has: a marker dropped (or a block left unmarked by mistake) changes a count.
EXPECTED_BLOCKS = {
    "README.md": 1,
    "docs/quickstart.md": 5,
    "docs/serving.md": 3,
    "docs/finetuning.md": 11,
    "docs/distributed.md": 2,
    "docs/mixed_precision.md": 4,
    "docs/lora.md": 7,
}


def test_markers_are_well_formed_and_used():
    """Parsing every page raises on a misplaced marker; each page of EXPECTED_BLOCKS has its runnable blocks (a
    broken parser that finds nothing would let every other test here pass, a lost marker would stop running a
    block without failing)."""
    counts = {p.relative_to(ROOT).as_posix(): len(runnable_blocks(p)) for p in DOC_FILES}
    assert {page: counts.get(page) for page in EXPECTED_BLOCKS} == EXPECTED_BLOCKS, counts


def test_site_builds_strict(tmp_path):
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    # The API reference is rendered from the docstrings (not an empty page), the tabs from the quickstart.
    api = (site / "api" / "torch" / "index.html").read_text(encoding="utf-8")
    assert "DebertaForSequenceClassification" in api and "from_pretrained" in api
    quick = (site / "quickstart" / "index.html").read_text(encoding="utf-8")
    assert "tabbed-set" in quick and "TFDebertaForSequenceClassification" in quick
    # Readable offline: no page loads a script, stylesheet or font from another host (the theme's are local).
    remote = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"(?:https?:)?//")
    online = [p.relative_to(site).as_posix() for p in site.rglob("*.html") if remote.search(p.read_text("utf-8"))]
    assert not online, online


@pytest.fixture(scope="module")
def tiny_hub_checkpoint(tmp_path_factory) -> pathlib.Path:
    """A deberta-tiny base checkpoint (embedded tokenizer's vocabulary) in both formats: model.safetensors and
    tf_model.h5, as the hub's microsoft/deberta-base has both."""
    import torch

    from deberta_core.presets import preset_config
    from deberta_tf import TFDebertaModel
    from deberta_torch import DebertaModel

    folder = tmp_path_factory.mktemp("hub") / HUB_ID
    torch.manual_seed(0)
    DebertaModel(preset_config("deberta-tiny")).save_pretrained(folder)
    TFDebertaModel.from_pretrained(folder, from_pt=True).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_runnable_blocks(page, tiny_hub_checkpoint, tmp_path, monkeypatch):
    (tmp_path / HUB_ID).parent.mkdir(parents=True)
    (tmp_path / HUB_ID).symlink_to(tiny_hub_checkpoint, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for line, code in runnable_blocks(page):
        # Padded to its line so that a traceback names the page and the line in it.
        exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
