"""Fine-tune DeBERTa for sequence classification with a PyTorch training loop.

Single process:   python -m examples.train_torch --epochs 2
Distributed:      torchrun --nproc_per_node 2 -m examples.train_torch --epochs 2
                  (DistributedDataParallel: gloo on CPU, nccl on GPU; DistributedSampler shards the data)
Resume:           python -m examples.train_torch --output-dir runs/torch --resume

Same flags as examples/train_keras.py (see examples/common.py). Writes the fine-tuned model with
save_pretrained to --output-dir, a resumable checkpoint (model + optimizer + scheduler + step) to
--output-dir/checkpoint after each epoch, and metrics.json.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from deberta_core.console import quiet_startup
from deberta_torch import DebertaForSequenceClassification

from . import common

CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE = "trainer_state.pt"


class ClassificationData(torch.utils.data.Dataset):
    def __init__(self, data: common.Dataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self.data.input_ids[index], self.data.token_type_ids[index], int(self.data.labels[index])


def make_collate(pad_id: int):
    def collate(items) -> Dict[str, torch.Tensor]:
        ids, types, labels = zip(*items)
        batch = {k: torch.from_numpy(v) for k, v in common.pad_batch(ids, types, pad_id).items()}
        batch["labels"] = torch.tensor(labels, dtype=torch.long)
        return batch

    return collate


def setup_distributed() -> tuple:
    """(rank, world_size, device). torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; otherwise one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return dist.get_rank(), world_size, torch.device("cuda", local_rank)
    dist.init_process_group("gloo")
    return dist.get_rank(), world_size, torch.device("cpu")


def param_groups(model: torch.nn.Module, weight_decay: float) -> List[dict]:
    """No weight decay on biases and LayerNorm weights (the usual BERT-family convention)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim < 2 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(model, loader, device, world_size: int, autocast_dtype: Optional[torch.dtype]) -> float:
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = torch.zeros((), dtype=torch.long, device=device)
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(**batch).logits
        correct += (logits.argmax(-1) == labels).sum()
        count += labels.numel()
    if world_size > 1:
        dist.all_reduce(correct)
        dist.all_reduce(count)
    return float(correct) / max(1, int(count))


def main(argv: Optional[List[str]] = None) -> dict:
    args = common.build_arg_parser("torch").parse_args(argv)
    quiet_startup(args.verbose)
    common.validate_args(args)
    rank, world_size, device = setup_distributed()
    if args.replicas is not None and args.replicas != world_size:
        raise SystemExit(f"--replicas {args.replicas} but this run has {world_size} process(es): "
                         f"launch with torchrun --nproc_per_node {args.replicas}")
    is_main = rank == 0
    common.seed_everything(args.seed)
    torch.manual_seed(args.seed)

    tokenizer = common.load_tokenizer(args)
    id2label, label2id = common.label_maps(args.train_file, args.label_column)
    train = common.load_split(args.train_file, tokenizer, label2id, args, args.max_train_samples)
    test = common.load_split(args.test_file, tokenizer, label2id, args, args.max_eval_samples)

    config = common.make_config(args, id2label)
    checkpoint = os.path.join(args.output_dir, CHECKPOINT_DIR)
    if args.resume:
        if not os.path.isdir(checkpoint):
            raise SystemExit(f"--resume: no checkpoint at {checkpoint}")
        model = DebertaForSequenceClassification.from_pretrained(checkpoint)
    elif config is None:
        model = DebertaForSequenceClassification.from_pretrained(args.model, id2label=id2label)
    else:
        model = DebertaForSequenceClassification(config)
    model.to(device)
    train_model = model
    if world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:
        train_model = torch.compile(train_model)

    per_replica = max(1, args.batch_size // world_size)
    collate = make_collate(tokenizer.pad_token_id)
    sampler = DistributedSampler(ClassificationData(train), num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed) \
        if world_size > 1 else None
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(ClassificationData(train), batch_size=per_replica, shuffle=sampler is None,
                              sampler=sampler, collate_fn=collate, generator=generator)
    test_sampler = DistributedSampler(ClassificationData(test), num_replicas=world_size, rank=rank, shuffle=False) \
        if world_size > 1 else None
    test_loader = DataLoader(ClassificationData(test), batch_size=per_replica, sampler=test_sampler, collate_fn=collate)

    steps = common.total_steps(len(train_loader) * per_replica, per_replica, args.epochs, args.max_steps)
    warmup = int(steps * args.warmup_ratio)
    optimizer = torch.optim.AdamW(param_groups(model, args.weight_decay), lr=args.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: common.lr_multiplier(step, steps, warmup))
    start_epoch, step = 0, 0
    if args.resume:
        state = torch.load(os.path.join(checkpoint, TRAINER_STATE), map_location="cpu", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, step = state["epoch"], state["step"]
        torch.set_rng_state(state["rng"])
    autocast_dtype = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.mixed_precision]
    scaler = torch.amp.GradScaler(device.type, enabled=args.mixed_precision == "fp16")

    from tqdm.auto import tqdm

    history = []
    started = time.time()
    for epoch in range(start_epoch, args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        train_model.train()
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{args.epochs}", disable=args.quiet or not is_main, leave=False)
        losses = []
        for batch in bar:
            if args.max_steps and step >= args.max_steps:
                break
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                loss = train_model(**batch).loss
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
        accuracy = evaluate(model, test_loader, device, world_size, autocast_dtype)
        history.append({"epoch": epoch + 1, "step": step, "train_loss": float(np.mean(losses)) if losses else None,
                        "eval_accuracy": accuracy})
        if is_main:
            print(f"epoch {epoch + 1}: train loss {history[-1]['train_loss']}, eval accuracy {accuracy:.4f}", flush=True)
            model.save_pretrained(checkpoint)
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "epoch": epoch + 1, "step": step, "rng": torch.get_rng_state()},
                       os.path.join(checkpoint, TRAINER_STATE))
        if args.max_steps and step >= args.max_steps:
            break

    metrics = {
        "framework": "torch",
        "world_size": world_size,
        "steps": step,
        "eval_accuracy": history[-1]["eval_accuracy"] if history else evaluate(model, test_loader, device, world_size, autocast_dtype),
        "majority_baseline": common.majority_baseline(test.labels),
        "history": history,
        "seconds": time.time() - started,
    }
    if is_main:
        model.save_pretrained(args.output_dir)
        tokenizer.save_pretrained(args.output_dir)
        common.write_metrics(os.path.join(args.output_dir, "metrics.json"), metrics)
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
