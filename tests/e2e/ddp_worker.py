"""One rank of the DDP gradient check (run by test_distributed_torch.py, not collected by pytest).

argv: rank world_size init_file out_file. Every rank builds the same tiny model (same seed, dropout off),
takes its contiguous share of one fixed batch, runs forward/backward under DistributedDataParallel (gloo),
and rank 0 writes the averaged gradients.
"""

import sys
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

import deberta_torch
from deberta_core.presets import preset_config


def fixed_batch():
    config = preset_config("deberta-tiny", vocab_size=100, num_labels=3, hidden_dropout_prob=0.0,
                           attention_probs_dropout_prob=0.0)
    gen = torch.Generator().manual_seed(123)
    lengths = [9, 5, 7, 3]
    input_ids = torch.randint(1, config.vocab_size, (4, 9), generator=gen)
    mask = (torch.arange(9)[None, :] < torch.tensor(lengths)[:, None]).long()
    return config, {"input_ids": input_ids * mask, "attention_mask": mask, "labels": torch.tensor([0, 2, 1, 2])}


def build_model(config):
    torch.manual_seed(7)
    return deberta_torch.DebertaForSequenceClassification(config).train()


def gradients(model):
    return {name: p.grad.detach().numpy().copy() for name, p in model.named_parameters()}


def main(rank: int, world_size: int, init_file: str, out_file: str) -> None:
    # A bounded rendezvous: a rank that cannot reach its peer fails in a minute instead of waiting 30.
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=60))
    config, batch = fixed_batch()
    share = 4 // world_size
    local = {k: v[rank * share:(rank + 1) * share] for k, v in batch.items()}
    model = build_model(config)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    ddp(**local).loss.backward()
    if rank == 0:
        np.savez(out_file, **gradients(model))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
