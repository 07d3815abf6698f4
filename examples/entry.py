"""The entry point of every task script (train_seqcls, train_tokcls, train_qa, pretrain_mlm): parse the command
line (examples/common.py), keep TensorFlow's start-up lines quiet unless -v, build the task's data and hand it to
the runner of --framework (runner_torch.py or runner_keras.py). Its own module so that common, which the runners
import, imports no runner."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from deberta_core.console import quiet_startup

from . import common


def run(args: argparse.Namespace) -> dict:
    """Build the task's data and hand it to the runner of args.framework; returns the metrics."""
    tokenizer = common.load_tokenizer(args)
    task = args.task_module.build_task(args, tokenizer)
    if args.framework == "torch":
        from . import runner_torch as runner
    else:
        from . import runner_keras as runner
    return runner.run(task, args, tokenizer)


def main_for(task_module):
    """The main() of a task's script: parse argv (default sys.argv[1:]) and run."""
    def main(argv: Optional[List[str]] = None) -> dict:
        args = common.parse_args(task_module, sys.argv[1:] if argv is None else argv)
        quiet_startup(args.verbose)
        return run(args)

    return main
