"""Batch-encoding throughput of DebertaTokenizer against the reference fast tokenizer, on the same texts.

Run: ``python -m benchmarks.bench_tokenizer`` (needs transformers, the reference). Both tokenizers load the
same embedded deberta-base files and encode the same batches with the same arguments; runs alternate between
the two and the best of ``REPEATS`` is kept for each, so background noise hits both alike. The ratio is
reference time / our time: above 1.0 we are faster. Both drive the same Rust core, so ~1.0 is expected.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any, Callable, Dict, List, Tuple

from deberta_core.tokenizer import ASSETS_DIR, DebertaTokenizer

NUM_TEXTS = 4096
BATCH_SIZE = 256
REPEATS = 6  # best-of: the minimum is the least noisy estimate of the cost itself
SEED = 0
MAX_LENGTH = 512

_WORDS = (
    "the of and to in is was for that on with as by at from DeBERTa attention disentangled relative position "
    "naïve café résumé 日本語 テキスト 🤗 🚀 don't it's 3.14159 1,000,000 [MASK] (parenthesis) \"quoted\" "
    "tokenizer throughput benchmark sequence encoder layer hidden size vocabulary merges byte-level"
).split()


def make_texts(num_texts: int = NUM_TEXTS, seed: int = SEED) -> List[str]:
    """Deterministic sentences of 5 to 200 words (some longer than max_length once tokenized)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(num_texts):
        n = rng.choice([5, 12, 30, 60, 120, 200])
        words = [rng.choice(_WORDS) for _ in range(n)]
        sep = rng.choice([" ", " ", " ", "\n"])
        texts.append(sep.join(words) + rng.choice([".", "?", "!", ""]))
    return texts


def _time_batches(call: Callable[[Any], Any], batches: List[Any]) -> float:
    start = time.perf_counter()
    for batch in batches:
        call(batch)
    return time.perf_counter() - start


def _compare(ours: Callable, ref: Callable, batches: List[Any], repeats: int) -> Tuple[float, float]:
    ours_best, ref_best = float("inf"), float("inf")
    for repeat in range(repeats):  # interleaved, first one then the other, so both see the same machine state
        if repeat % 2:
            ours_best = min(ours_best, _time_batches(ours, batches))
            ref_best = min(ref_best, _time_batches(ref, batches))
        else:
            ref_best = min(ref_best, _time_batches(ref, batches))
            ours_best = min(ours_best, _time_batches(ours, batches))
    return ours_best, ref_best


def main(num_texts: int = NUM_TEXTS, batch_size: int = BATCH_SIZE, repeats: int = REPEATS) -> Dict[str, Any]:
    """Run every scenario; returns {scenario: {ours_s, reference_s, texts_per_s, ratio}} plus settings."""
    import transformers  # the reference; only the benchmark needs it

    vocab, merges = os.path.join(ASSETS_DIR, "vocab.json"), os.path.join(ASSETS_DIR, "merges.txt")
    ours = DebertaTokenizer()
    ref = transformers.DebertaTokenizerFast(vocab, merges, model_max_length=MAX_LENGTH)
    texts = make_texts(num_texts)
    pairs = list(zip(texts[::2], texts[1::2]))
    text_batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
    pair_batches = [pairs[i:i + batch_size] for i in range(0, len(pairs), batch_size)]

    scenarios = {
        "batch_padded_truncated": (text_batches, dict(padding=True, truncation=True, max_length=MAX_LENGTH)),
        "batch_plain": (text_batches, dict()),
        "batch_pairs_np": (pair_batches, dict(padding=True, truncation="longest_first", max_length=MAX_LENGTH,
                                              return_tensors="np")),
        "batch_offsets_overflow": (text_batches, dict(truncation=True, max_length=128, stride=32,
                                                      return_overflowing_tokens=True, return_offsets_mapping=True)),
    }
    results: Dict[str, Any] = {"num_texts": num_texts, "batch_size": batch_size, "repeats": repeats,
                               "reference": f"transformers {transformers.__version__} DebertaTokenizerFast"}
    for name, (batches, kwargs) in scenarios.items():
        ours_call = lambda batch, kw=kwargs: ours(batch, **kw)  # noqa: E731
        ref_call = lambda batch, kw=kwargs: ref(batch, **kw)  # noqa: E731
        ours_call(batches[0])  # warm both (lazy Rust state, first-call allocations)
        ref_call(batches[0])
        ours_s, ref_s = _compare(ours_call, ref_call, batches, repeats)
        count = sum(len(b) for b in batches)
        results[name] = {"ours_s": ours_s, "reference_s": ref_s, "texts_per_s": count / ours_s,
                         "ratio": ref_s / ours_s}
    return results


def suite(quick: bool = False) -> Dict[str, Any]:
    """What `make bench` runs (in a worker process of its own); ``quick``: 512 texts, best of 2."""
    return main(num_texts=512 if quick else NUM_TEXTS, repeats=2 if quick else REPEATS)


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-texts", type=int, default=NUM_TEXTS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()
    results = main(args.num_texts, args.batch_size, args.repeats)
    print(f"{results['reference']}; {results['num_texts']} texts, batch {results['batch_size']}, "
          f"best of {results['repeats']}")
    print(f"{'scenario':28s} {'ours s':>9s} {'ref s':>9s} {'texts/s':>10s} {'ratio':>7s}")
    for name, row in results.items():
        if isinstance(row, dict):
            print(f"{name:28s} {row['ours_s']:9.3f} {row['reference_s']:9.3f} {row['texts_per_s']:10.0f} "
                  f"{row['ratio']:6.2f}x")


if __name__ == "__main__":
    _cli()
