"""Fine-tune DeBERTa for sequence classification with a PyTorch training loop.

Single process:   python -m examples.train_torch --epochs 2
Distributed:      torchrun --nproc_per_node 2 -m examples.train_torch --epochs 2
                  (DistributedDataParallel: gloo on CPU, nccl on GPU; DistributedSampler shards the data)
Resume:           python -m examples.train_torch --output-dir runs/torch --resume
Evaluate only:    python -m examples.train_torch --model runs/keras --eval-only   (either framework's checkpoint)

Same flags as examples/train_keras.py (see examples/common.py); the data code is examples/tasks/seqcls.py and
the loop examples/runner_torch.py. Writes the fine-tuned model with save_pretrained to --output-dir, a resumable
checkpoint (model + optimizer + scheduler + step) to --output-dir/checkpoint after each epoch, and metrics.json;
prints one RESULT line (the metrics as JSON).
"""

from __future__ import annotations

import sys

from . import entry
from .tasks import seqcls

main = entry.main_for(seqcls, "torch")

if __name__ == "__main__":
    main(sys.argv[1:])
