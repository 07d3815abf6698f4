"""Fine-tune DeBERTa for token classification (part-of-speech tags), in PyTorch or Keras.

    python -m examples.train_tokcls --framework torch --epochs 2
    python -m examples.train_tokcls --framework keras --epochs 2
    torchrun --nproc_per_node 2 -m examples.train_tokcls --framework torch     (DDP)
    python -m examples.train_tokcls --framework keras --model runs/tokcls-torch --eval-only

Default data: examples/data/ud-ewt-pos (UD English EWT, 17 UPOS tags, CC BY-SA 4.0; see its PROVENANCE.md).
Words are split into sub-tokens with is_split_into_words=True; a word's tag sits on its first sub-token and -100
on the rest (examples/tasks/tokcls.py). Reports per-word accuracy and macro-F1 on the test file against the
majority-tag baseline, writes metrics.json beside the model in --output-dir and prints one RESULT line.
Same flags as the other example scripts (examples/common.py).
"""

from __future__ import annotations

import sys

from . import entry
from .tasks import tokcls

main = entry.main_for(tokcls)

if __name__ == "__main__":
    main(sys.argv[1:])
