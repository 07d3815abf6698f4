"""Fine-tune DeBERTa for extractive question answering, in PyTorch or Keras.

    python -m examples.train_qa --framework torch --epochs 2
    python -m examples.train_qa --framework keras --epochs 2
    torchrun --nproc_per_node 2 -m examples.train_qa --framework torch     (DDP)
    python -m examples.train_qa --framework keras --model runs/qa-torch --eval-only

Default data: examples/data/squad-v1.1-slice (SQuAD v1.1 dev questions split by article, CC BY-SA 4.0; see its
PROVENANCE.md). Contexts are cut into --max-length windows overlapping by --stride tokens; answers are
extracted back to the context text (best span over all windows, at most --max-answer-length tokens, from the
--n-best start/end positions) and scored with the official SQuAD v1.1 exact match and F1
(examples/tasks/qa.py). Writes metrics.json beside the model in --output-dir and prints one RESULT line.
Same flags as the other example scripts (examples/common.py).
"""

from __future__ import annotations

import sys

from . import entry
from .tasks import qa

main = entry.main_for(qa)

if __name__ == "__main__":
    main(sys.argv[1:])
