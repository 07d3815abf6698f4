"""Fine-tune DeBERTa for sequence classification with Keras `model.fit`.

One device:       python -m examples.train_keras --epochs 2
Mirrored:         python -m examples.train_keras --replicas 2     (tf.distribute.MirroredStrategy over 2 GPUs,
                  or 2 logical CPU devices when there are fewer GPUs)
Multi-worker:     set TF_CONFIG on every worker (cluster + task, see the tf.distribute docs) and run the same
                  command on each: the script then uses tf.distribute.MultiWorkerMirroredStrategy; --batch-size
                  stays the global batch size.
XLA:              --compile (jit_compile=True; batches are padded to a multiple of 16 tokens to bound retracing)
Evaluate only:    python -m examples.train_keras --model runs/torch --eval-only   (either framework's checkpoint)

Same flags as examples/train_torch.py (see examples/common.py); the data code is examples/tasks/seqcls.py and
the fit setup examples/runner_keras.py. The model computes its own loss from the `labels` in each batch
(compile() has no loss), the learning rate warms up then decays linearly, accuracy is measured on the test file
after every epoch, and the result is written with save_pretrained (tf_model.h5 + config.json) plus the tokenizer
files, a resumable `checkpoint/model.keras` (weights + optimizer state) and metrics.json; one RESULT line.
"""

from __future__ import annotations

import sys

from . import entry
from .tasks import seqcls

main = entry.main_for(seqcls, "keras")

if __name__ == "__main__":
    main(sys.argv[1:])
