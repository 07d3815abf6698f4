"""``deberta-convert``: a thin argparse layer over ``conversion.convert``, ``.parity``, ``.training`` and ``.inspection``.

Exit codes: 0 success, 1 parity check failed, 2 bad input (unreadable or mismatched checkpoint, bad option,
output that exists without --force), 3 internal error (a bug: please report it), 130 interrupted. Errors print one
message naming the file or flag; the traceback only with --verbose.
torch and TensorFlow are imported only by the commands that need them (``--help``, ``dump-map`` and
``inspect`` of safetensors/h5 import neither).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import traceback
from typing import Callable, Dict, Optional, Sequence

from deberta_core.console import quiet_startup

EXIT_OK = 0
EXIT_PARITY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130

PROG = "deberta-convert"
COMMANDS = ("convert", "check", "dump-map", "inspect")
_TASK_HELP = ("model head when config.json has no 'architectures' (or to override it): model, mlm, seqcls, tokcls, "
              "qa, or a class name such as DebertaForMaskedLM")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _prepare_tensorflow_env() -> None:
    """Settings that only take effect before TensorFlow is imported (the CLI owns its process; its log level is
    main's quiet_startup)."""
    if "tensorflow" not in sys.modules:
        # oneDNN custom ops reorder fp32 reductions; the parity check wants the plain kernels.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# ---------------------------------------------------------------------------------------------------- parsers
def _convert_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description=textwrap.dedent("""\
            Convert a DeBERTa (v1) checkpoint between PyTorch and Keras/TensorFlow formats, then check that both
            compute the same outputs.

            SRC is a checkpoint folder (config.json + weights) or one weights file; its format is detected:
            model.safetensors (or model.safetensors.index.json shards), pytorch_model.bin (loaded with
            torch.load(weights_only=True)), tf_model.h5 (the reference TF layout) or a Keras 3 .keras file.
            DST is a folder; config.json and tokenizer files are copied along. Nothing is written unless every
            weight converts (missing, unexpected and mis-shaped weights are listed together), and files in DST
            are never replaced without --force.

            other commands (each has --help):
              deberta-convert check A B        parity between two existing checkpoints (any formats);
                                               --train-steps N adds training parity (loss curves, final weights)
              deberta-convert dump-map         print the torch <-> Keras weight table for a config
              deberta-convert inspect PATH     config summary, format, parameter count, dtype, size
            """),
        epilog=textwrap.dedent("""\
            examples:
              deberta-convert ./deberta-base ./deberta-base-tf --to tf
              deberta-convert ./my-tf-model ./my-torch-model --to torch --atol 1e-4
              deberta-convert ./model ./model --to tf,keras          # add TF files next to the torch ones
              deberta-convert ./weights-only ./out --to tf --task seqcls --no-check

            exit codes: 0 ok, 1 parity check failed (nothing written), 2 bad input or usage, 3 internal error,
            130 interrupted (nothing written)"""),
    )
    parser.add_argument("src", metavar="SRC", help="source checkpoint folder or weights file")
    parser.add_argument("dst", metavar="DST", help="output folder (created if missing)")
    fmt = parser.add_argument_group("formats")
    fmt.add_argument("--to", required=True, metavar="FORMAT[,FORMAT]",
                     help="target format(s): torch (model.safetensors), tf (tf_model.h5, the reference TF layout), "
                          "keras (model.keras, Keras 3 native); comma-separated for several")
    fmt.add_argument("--from", dest="src_format", default=None,
                     choices=["safetensors", "safetensors_sharded", "pytorch", "pytorch_sharded", "tf_h5", "keras"],
                     help="read this format when the SRC folder holds several (default: the first one not of the "
                          "target's framework, in the loaders' order)")
    fmt.add_argument("--task", default=None, help=_TASK_HELP)
    chk = parser.add_argument_group("parity check")
    chk.add_argument("--check", dest="check", action="store_true", default=True,
                     help="load source and result in their frameworks and compare every output before writing")
    chk.add_argument("--no-check", dest="check", action="store_false", help="skip the parity check")
    _add_check_options(chk)
    out = parser.add_argument_group("output")
    out.add_argument("--force", action="store_true", help="replace files that already exist in DST")
    out.add_argument("-q", "--quiet", action="store_true", help="no progress bars, only errors and the verdict")
    out.add_argument("-v", "--verbose", action="store_true",
                     help="list every compared output in the report; show TensorFlow's own log lines")
    return parser


def _add_check_options(group) -> None:
    from_parity = "conversion.parity"  # the defaults are named constants there; kept in sync by a test
    group.add_argument("--atol", type=_tolerance, default=1e-5,
                       help=f"max |a - b| allowed for every output (fp32; see {from_parity}.ATOL_FP32)")
    group.add_argument("--gradients", action="store_true",
                       help="also compare the gradient of the loss for every weight")
    group.add_argument("--grad-atol", type=_tolerance, default=None,
                       help="max |a - b| for gradients (default: conversion.parity.GRAD_ATOL_FP32, 1e-4)")
    group.add_argument("--seq-len", type=_positive_int, default=None,
                       help="sequence length of the generated batch (default 12; 2 to the config's "
                            "max_position_embeddings)")
    group.add_argument("--seed", type=int, default=0, help="seed of the generated batch")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _tolerance(text: str) -> float:
    """A tolerance: a finite number >= 0 (a negative or NaN one would fail, or pass, every comparison)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} check",
        formatter_class=_Formatter,
        description=textwrap.dedent("""\
            Parity between two existing checkpoints, any formats (torch vs TF, or the same framework twice).
            Both run on one generated batch (padding, token types where the config has them, labels for the
            loss); the report gives max |a - b| for every hidden state, attention map, logits and the loss."""),
        epilog=textwrap.dedent("""\
            training parity (--train-steps N): after the output check, both models train for N steps side by
            side, from their checkpoints' weights, dropout off, on the same generated batches in the same order
            (seeds SEED, SEED+1, ...), each with its own framework's optimizer set up to the same update formula:
            sgd = torch.optim.SGD vs keras.optimizers.SGD (weight decay: torch's L2 and Keras' decoupled decay
            agree only without momentum, so momentum + weight decay is refused); adamw = torch.optim.AdamW vs
            keras.optimizers.AdamW with torch's epsilon convention (--epsilon-convention keras runs the stock
            Keras epsilon instead, which differs). The report gives both loss curves' max relative difference
            per step (--train-rtol) and the final weights' max |diff| (--weight-atol), and names the first step
            over tolerance.

            examples:
              deberta-convert check ./model-pt ./model-tf
              deberta-convert check ./model-pt/model.safetensors ./model-tf/tf_model.h5 --gradients -v
              deberta-convert check ./model-pt ./model-tf --train-steps 50 --optimizer adamw --learning-rate 1e-3
              deberta-convert check ./model-pt ./model-tf --train-steps 50 --optimizer sgd --momentum 0.9 -v

            exit codes: 0 parity holds, 1 some output (or training step / final weight) differs by more than
            its tolerance, 2 bad input"""),
    )
    parser.add_argument("a", metavar="A", help="first checkpoint (folder or weights file)")
    parser.add_argument("b", metavar="B", help="second checkpoint (folder or weights file)")
    parser.add_argument("--task", default=None, help=_TASK_HELP)
    _add_check_options(parser)
    train = parser.add_argument_group("training parity")
    train.add_argument("--train-steps", type=_positive_int, default=None, metavar="N",
                       help="also train both models N steps side by side and compare loss curves and final weights")
    train.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="optimizer of both frameworks")
    train.add_argument("--learning-rate", type=float, default=None,
                       help="learning rate; None means 0.05 for sgd, 1e-3 for adamw ("
                            "conversion.training.DEFAULT_LEARNING_RATES)")
    train.add_argument("--momentum", type=float, default=0.0, help="sgd momentum")
    train.add_argument("--weight-decay", type=float, default=0.0,
                       help="weight decay (adamw: decoupled, lr*wd*w in both; sgd: only without momentum)")
    train.add_argument("--adam-epsilon", type=float, default=1e-8, help="adamw epsilon, in torch's meaning")
    train.add_argument("--epsilon-convention", choices=["torch", "keras"], default="torch",
                       help="adamw: torch = the Keras side adds epsilon where torch does (same update); keras = "
                            "stock keras.optimizers.AdamW(epsilon=...), which differs from torch")
    train.add_argument("--train-batch-size", type=_positive_int, default=2, help="rows per training batch")
    train.add_argument("--train-rtol", type=_tolerance, default=1e-4,
                       help="max relative loss difference per step (conversion.training.TRAIN_RTOL)")
    train.add_argument("--weight-atol", type=_tolerance, default=1e-4,
                       help="max |a - b| of the final weights (conversion.training.TRAIN_WEIGHT_ATOL)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list every compared output; show TensorFlow's own log lines")
    return parser


def _dump_map_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} dump-map",
        formatter_class=_Formatter,
        description="Print the expanded torch <-> Keras weight table (torch key, op, Keras name, shapes) for a config.",
        epilog=textwrap.dedent("""\
            examples:
              deberta-convert dump-map                                  # deberta-base defaults, DebertaModel
              deberta-convert dump-map --config ./my-model --task mlm"""),
    )
    parser.add_argument("--config", default=None,
                        help="config.json, or a folder holding one (default: the deberta-base defaults)")
    parser.add_argument("--task", default=None, help=_TASK_HELP + " (default: the config's, else model)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the traceback of an error")
    return parser


def _inspect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} inspect",
        formatter_class=_Formatter,
        description="Summarise a checkpoint: architecture, config, weights format, parameter count, dtypes, size.",
        epilog="example:\n  deberta-convert inspect ./deberta-base\n  deberta-convert inspect ./model/tf_model.h5 --json",
    )
    parser.add_argument("path", metavar="PATH", help="checkpoint folder or weights file")
    parser.add_argument("--task", default=None, help=_TASK_HELP)
    parser.add_argument("--json", action="store_true", help="print as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the traceback of an error")
    return parser


# ---------------------------------------------------------------------------------------------------- commands
def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024.0
    return str(nbytes)


def _run_convert(args) -> int:
    from .convert import convert

    _prepare_tensorflow_env()
    result = convert(
        args.src, args.dst, to=args.to, src_format=args.src_format, task=args.task, force=args.force,
        check=args.check, atol=args.atol, gradients=args.gradients, grad_atol=args.grad_atol, seed=args.seed,
        seq_len=args.seq_len, progress=not args.quiet,
    )
    source = result.source
    if result.parity is not None:
        print(result.parity.to_text(verbose=args.verbose))
    if not result.ok:
        print(f"{PROG}: parity check failed: nothing was written to {result.dst}", file=sys.stderr)
        return EXIT_PARITY_FAILED
    print(f"converted {source.path} ({source.fmt}, {source.architecture}, {result.tensors} weights, "
          f"{_size(result.bytes_read)}) -> {result.dst}")
    print("  wrote: " + ", ".join(os.path.basename(p) for p in result.written))
    if result.ignored:
        print("  dropped (tolerated extras, see dump-map): " + ", ".join(result.ignored))
    if result.parity is None:
        print("  parity not checked (--no-check)")
    return EXIT_OK


def _run_check(args) -> int:
    from .parity import check_checkpoints

    if args.train_steps is not None:
        return _run_check_with_training(args)
    _prepare_tensorflow_env()
    report = check_checkpoints(args.a, args.b, task=args.task, atol=args.atol, grad_atol=args.grad_atol,
                               gradients=args.gradients, seed=args.seed, seq_len=args.seq_len,
                               progress=not args.quiet)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.to_text(verbose=args.verbose))
    return EXIT_OK if report.passed else EXIT_PARITY_FAILED


def _run_check_with_training(args) -> int:
    """The output check, then ``compare_training`` on the same two models (loaded once). JSON:
    ``{"parity": ..., "training": ...}``."""
    from .parity import compare_models
    from .training import OptimizerSpec, compare_training
    from .twins import framework_of, load_checkpoint_model

    spec = OptimizerSpec(args.optimizer, learning_rate=args.learning_rate, momentum=args.momentum,
                         weight_decay=args.weight_decay, eps=args.adam_epsilon,
                         epsilon_convention=args.epsilon_convention)  # bad settings fail before anything loads
    for name in ("train_rtol", "weight_atol"):
        if not getattr(args, name) > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    _prepare_tensorflow_env()
    model_a = load_checkpoint_model(args.a, task=args.task)
    model_b = load_checkpoint_model(args.b, task=args.task)
    label_a = f"{os.fspath(args.a)} ({framework_of(model_a)})"
    label_b = f"{os.fspath(args.b)} ({framework_of(model_b)})"
    parity = compare_models(model_a, model_b, atol=args.atol, grad_atol=args.grad_atol, gradients=args.gradients,
                            seed=args.seed, seq_len=args.seq_len, label_a=label_a, label_b=label_b,
                            progress=not args.quiet)
    training = compare_training(model_a, model_b, steps=args.train_steps, optimizer=spec, rtol=args.train_rtol,
                                weight_atol=args.weight_atol, seed=args.seed, batch_size=args.train_batch_size,
                                seq_len=args.seq_len, label_a=label_a, label_b=label_b, progress=not args.quiet)
    if args.json:
        print(json.dumps({"passed": parity.passed and training.passed, "parity": parity.as_dict(),
                          "training": training.as_dict()}, indent=2))
    else:
        print(parity.to_text(verbose=args.verbose))
        print(training.to_text(verbose=args.verbose))
    return EXIT_OK if parity.passed and training.passed else EXIT_PARITY_FAILED


def _run_dump_map(args) -> int:
    from deberta_core import DebertaConfig
    from deberta_core.weight_map import dump

    from .sources import ConversionError, architecture_of

    if args.config is None:
        config = DebertaConfig()
    else:
        try:
            config = DebertaConfig.from_pretrained(args.config)
        except (ValueError, TypeError) as err:
            raise ConversionError(f"{args.config!r} is not a valid DeBERTa config: {err}") from None
    arch = architecture_of(config, args.task if args.task or config.architectures else "model",
                           where=args.config or "the default config")
    sys.stdout.write(dump(config, arch))
    return EXIT_OK


def _run_inspect(args) -> int:
    from .inspection import inspect_checkpoint

    info = inspect_checkpoint(args.path, task=args.task)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return EXIT_OK
    cfg = info["config"]
    print(f"{info['path']}")
    print(f"  architecture: {info['architecture'] or 'unknown (config.json has no architectures; use --task)'}")
    print(f"  format:       {info['format']} ({info['weights_file']})"
          + (f"; also {', '.join(info['other_formats'])}" if info["other_formats"] else ""))
    print(f"  config:       hidden {cfg['hidden_size']}, layers {cfg['num_hidden_layers']}, heads "
          f"{cfg['num_attention_heads']}, intermediate {cfg['intermediate_size']}, vocab {cfg['vocab_size']}, "
          f"embedding {cfg['embedding_size']}, positions {cfg['max_position_embeddings']}, token types "
          f"{cfg['type_vocab_size']}, relative attention {cfg['relative_attention']} {cfg['pos_att_type'] or ''}".rstrip())
    print(f"  parameters:   {info['parameters']:,} in {info['tensors']} tensors"
          + (f" (+ tolerated extras: {', '.join(info['ignored_extras'])})" if info["ignored_extras"] else ""))
    print("  dtypes:       " + ", ".join(f"{d} x{n}" for d, n in info["dtypes"].items()))
    print(f"  size:         {_size(info['size_bytes'])} on disk")
    return EXIT_OK


PARSERS: Dict[str, Callable[[], argparse.ArgumentParser]] = {
    "convert": _convert_parser, "check": _check_parser, "dump-map": _dump_map_parser, "inspect": _inspect_parser,
}
HANDLERS: Dict[str, Callable] = {
    "convert": _run_convert, "check": _run_check, "dump-map": _run_dump_map, "inspect": _run_inspect,
}


MAX_LISTED = 8  # names shown per category in a CLI error; the exception carries the full lists


def _one_paragraph(err: BaseException) -> str:
    """The error as one block; a WeightMapError's name lists cut to MAX_LISTED each (a 12-layer model would
    otherwise print hundreds of lines)."""
    from deberta_core.weight_map import WeightMapError

    message = str(err).strip() or type(err).__name__
    if not isinstance(err, WeightMapError):
        return message
    lines = message.splitlines()
    # note how many names were cut per category
    result, count, cut = [], 0, 0
    for line in lines:
        if line.startswith("    "):
            count += 1
            if count <= MAX_LISTED:
                result.append(line)
            else:
                cut += 1
            continue
        if cut:
            result.append(f"    ... and {cut} more")
        count, cut = 0, 0
        result.append(line)
    if cut:
        result.append(f"    ... and {cut} more")
    return "\n".join(result)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "convert"
    if argv and argv[0] in COMMANDS:
        command = argv.pop(0)
    args = PARSERS[command]().parse_args(argv)  # usage errors exit with 2 (argparse's own code)
    verbose = getattr(args, "verbose", False)
    quiet_startup(verbose=verbose)
    try:
        return HANDLERS[command](args)
    except KeyboardInterrupt:
        _traceback(verbose)
        print(f"{PROG}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as err:
        # ConversionError, WeightMapError, the twins' CheckpointLoadError, config validation (ValueError);
        # FileNotFoundError / FileExistsError / permission problems (OSError).
        _traceback(verbose)
        print(f"{PROG}: error: {_one_paragraph(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # a bug of ours, not the user's input: say so, and how to see the traceback
        _traceback(verbose)
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"{PROG}: internal error: {type(err).__name__}: {first}"
              + ("" if verbose else " (run with --verbose for the traceback, and please report it)"), file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _traceback(verbose: bool) -> None:
    if verbose:
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
