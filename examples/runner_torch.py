"""The PyTorch runner: trains and evaluates any `common.Task` with a plain training loop.

Single process, or DistributedDataParallel under torchrun (gloo on CPU, nccl on GPU; DistributedSampler shards
the training data, each rank predicts its share of the eval set and rank 0 gathers them). AdamW without decay
on biases/LayerNorm, linear warmup then decay, gradient clipping at 1.0, optional autocast (bf16/fp16) and
torch.compile. After every epoch: evaluation and a resumable checkpoint (model + optimizer + scheduler + step)
in --output-dir/checkpoint. At the end: the model (save_pretrained), the tokenizer and metrics.json in
--output-dir, and one RESULT line. With --eval-only: the evaluation of --model only.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

import deberta_torch

from . import common

CHECKPOINT_DIR = "checkpoint"
TRAINER_STATE = "trainer_state.pt"
TORCH_FORMATS = ("safetensors", "safetensors_sharded", "pytorch", "pytorch_sharded")


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


def load_model(task: common.Task, args, checkpoint: str) -> torch.nn.Module:
    """--resume: the last checkpoint; a folder: its weights (torch's, else tf_model.h5); a preset: a fresh model."""
    cls = getattr(deberta_torch, task.model_class)
    if args.resume:
        if not os.path.isdir(checkpoint):
            raise SystemExit(f"--resume: no checkpoint at {checkpoint}")
        return cls.from_pretrained(checkpoint)
    config = common.make_config(args, task.config_overrides)
    if config is not None:
        return cls(config)
    from_tf = not any(fmt in TORCH_FORMATS for fmt in common.checkpoint_formats(args.model))
    # --eval-only keeps the checkpoint's own head (labels); training sets the task's (e.g. id2label of the data).
    return cls.from_pretrained(args.model, from_tf=from_tf, **({} if args.eval_only else task.config_overrides))


@torch.no_grad()
def evaluate(model, task: common.Task, batch_size: int, device, rank: int, world_size: int,
             autocast_dtype: Optional[torch.dtype]) -> Tuple[Dict[str, float], List[Any]]:
    """(metrics, one prediction record per eval row): each rank predicts its share, all ranks gather them."""
    model.eval()
    pieces = []
    for positions, batch in common.predict_batches(task, batch_size, rank, world_size):
        inputs = {k: torch.from_numpy(batch[k]).to(device) for k in common.MODEL_INPUTS if k in batch}
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            outputs = model(**inputs)
        numpy_outputs = {name: outputs[name].float().cpu().numpy() for name in task.output_names}
        pieces.append((positions, task.predictions(batch, numpy_outputs)))
    if world_size > 1:
        gathered: List[list] = [None] * world_size  # type: ignore[list-item]
        dist.all_gather_object(gathered, pieces)
        pieces = [piece for part in gathered for piece in part]
    return common.evaluate_pieces(task, pieces)


def run(task: common.Task, args, tokenizer) -> dict:
    rank, world_size, device = setup_distributed()
    if args.replicas is not None and args.replicas != world_size:
        raise SystemExit(f"--replicas {args.replicas} but this run has {world_size} process(es): "
                         f"launch with torchrun --nproc_per_node {args.replicas}")
    is_main = rank == 0
    common.seed_everything(args.seed)
    torch.manual_seed(args.seed)
    checkpoint = os.path.join(args.output_dir, CHECKPOINT_DIR)
    model = load_model(task, args, checkpoint).to(device)
    per_replica = max(1, args.batch_size // world_size)
    autocast_dtype = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.mixed_precision]

    def run_eval() -> Tuple[Dict[str, float], List[Any]]:
        return evaluate(model, task, per_replica, device, rank, world_size, autocast_dtype)

    started = time.time()
    if args.eval_only:
        scores, predictions = run_eval()
        metrics = common.final_metrics(task, "torch", 0, scores, [], time.time() - started, world_size=world_size)
        return _finish(metrics, args, task, predictions, is_main, world_size)

    train_model = model
    if world_size > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if args.compile:
        train_model = torch.compile(train_model)
    sampler = DistributedSampler(task.train, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed) \
        if world_size > 1 else None
    generator = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(task.train, batch_size=per_replica, shuffle=sampler is None, sampler=sampler,
                              collate_fn=task.collate, generator=generator)
    train_keys = (*common.MODEL_INPUTS, *task.label_names)

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
    scaler = torch.amp.GradScaler(device.type, enabled=args.mixed_precision == "fp16")

    from tqdm.auto import tqdm

    history, last_eval = [], None
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
            batch = {k: torch.from_numpy(batch[k]).to(device) for k in train_keys if k in batch}
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
        last_eval = run_eval()
        history.append(common.epoch_record(epoch + 1, step, float(np.mean(losses)) if losses else None, last_eval[0]))
        if is_main:
            print(common.describe_epoch(history[-1]), flush=True)
            model.save_pretrained(checkpoint)
            torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "epoch": epoch + 1, "step": step, "rng": torch.get_rng_state()},
                       os.path.join(checkpoint, TRAINER_STATE))
        if args.max_steps and step >= args.max_steps:
            break

    scores, predictions = last_eval if last_eval is not None else run_eval()  # resumed after the last epoch
    metrics = common.final_metrics(task, "torch", step, scores, history, time.time() - started, world_size=world_size)
    if is_main:
        model.save_pretrained(args.output_dir)
        tokenizer.save_pretrained(args.output_dir)
    return _finish(metrics, args, task, predictions, is_main, world_size)


def _finish(metrics: dict, args, task: common.Task, predictions: List[Any], is_main: bool, world_size: int) -> dict:
    if is_main:
        common.finish(metrics, args.output_dir, task, predictions)
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return metrics
