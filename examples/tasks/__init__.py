"""The framework-neutral half of each example task: reading its data, tokenising it into model inputs and
labels, and scoring predictions (NumPy only; examples/runner_torch.py and runner_keras.py do the rest).

    seqcls   text classification (train_seqcls.py)
    tokcls   token classification: word/label alignment, per-word accuracy and macro-F1 (train_tokcls.py)
    qa       extractive QA: windows with stride, start/end labels, span extraction, SQuAD v1.1 EM/F1 (train_qa.py)

Each module exposes the same names for examples/common.py: NAME, SCRIPT, DESCRIPTION, DATA_NAME, FILE_HELP,
MAX_LENGTH, BATCH_SIZE, add_arguments(group), validate_args(args), build_task(args, tokenizer) -> common.Task.
"""
