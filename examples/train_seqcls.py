"""Fine-tune DeBERTa for sequence (text) classification, in PyTorch or Keras.

    python -m examples.train_seqcls --framework torch --epochs 2
    python -m examples.train_seqcls --framework keras --epochs 2
    torchrun --nproc_per_node 2 -m examples.train_seqcls --framework torch      (DDP: gloo on CPU, nccl on GPU;
                                                                                 DistributedSampler shards the data)
    python -m examples.train_seqcls --framework keras --replicas 2    (MirroredStrategy over 2 GPUs, or 2 logical
                                                                       CPU devices when there are fewer GPUs)
    TF_CONFIG=... python -m examples.train_seqcls --framework keras   (MultiWorkerMirroredStrategy: the same command
                                                                       on every worker; --batch-size stays global)
    python -m examples.train_seqcls --framework torch --output-dir runs/seqcls-torch --resume
    python -m examples.train_seqcls --framework keras --model runs/seqcls-torch --eval-only   (either framework's
                                                                                               checkpoint)

Default data: examples/data/fortunes-topics (see its PROVENANCE.md); rows are `text` (+ optional `text_pair`) ->
`label`, scored by accuracy against the test file's majority class (examples/tasks/seqcls.py). torch trains in
the loop of examples/runner_torch.py, Keras with `model.fit` in examples/runner_keras.py (--compile:
jit_compile=True, batches padded to a multiple of 16 tokens to bound retracing); the model computes its own loss
from the `labels` of each batch, the learning rate warms up then decays linearly, and accuracy is measured on the
test file after every epoch. Writes the model with save_pretrained plus the tokenizer files to --output-dir, a
resumable checkpoint/ after each epoch (torch: model + optimizer + scheduler + step; Keras: model.keras with its
optimizer state) and metrics.json, and prints one RESULT line. Same flags as the other example scripts
(examples/common.py).
"""

from __future__ import annotations

import sys

from . import entry
from .tasks import seqcls

main = entry.main_for(seqcls)

if __name__ == "__main__":
    main(sys.argv[1:])
