"""Pretrain a small DeBERTa as a masked language model from scratch, in PyTorch or Keras.

    python -m examples.pretrain_mlm --framework torch --enhanced-mask-decoder --output-dir runs/mlm-torch
    python -m examples.pretrain_mlm --framework keras --enhanced-mask-decoder --output-dir runs/mlm-keras
    python -m examples.train_seqcls --framework torch --model runs/mlm-torch ...   (fine-tune the encoder)

Default corpus: the text of examples/data/fortunes-topics (train.jsonl to train, test.jsonl held out; see its
PROVENANCE.md). Documents are packed into --max-length sequences and masked afresh in every batch (15 %,
80/10/10, optionally whole words); the held-out text is masked once with a fixed seed. Reports masked-token
accuracy, MLM loss and perplexity against a unigram baseline, writes checkpoints (--resume continues) and
metrics.json, and prints one RESULT line (examples/tasks/mlm.py). Same flags as the other example scripts.
"""

from __future__ import annotations

import sys

from . import entry
from .tasks import mlm

main = entry.main_for(mlm)

if __name__ == "__main__":
    main(sys.argv[1:])
