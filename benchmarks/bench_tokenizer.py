"""Batch-encoding throughput of DebertaTokenizer and DebertaV2Tokenizer against the reference fast tokenizers, on
the same texts; and the load time of a 128k-piece SentencePiece model (the deberta-v3-base size).

Run: ``python -m benchmarks.bench_tokenizer`` (needs transformers, the reference). v1: both tokenizers load the
same embedded deberta-base files. v2 (``v2_*`` rows): ours loads the test fixture's spm.model
(tests/fixtures/spm/v3like, a Unigram model trained on real text), the reference DebertaV2TokenizerFast loads
the folder ours saves (its tokenizer.json: the reference cannot read spm.model without sentencepiece). Both
encode the same batches with the same arguments; runs alternate between the two and the best of ``REPEATS`` is
kept for each, so background noise hits both alike. The ratio is reference time / our time: above 1.0 we are
faster. Both drive the same Rust core, so ~1.0 is expected. ``v2_load_128k`` is the time of
``DebertaV2Tokenizer(spm.model)`` for a 128,000-piece model the benchmark writes (best of ``REPEATS``).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

from deberta_core.tokenizer import ASSETS_DIR, DebertaTokenizer, DebertaV2Tokenizer
from deberta_core.tokenizer import spm_model

SPM_FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures", "spm",
                           "v3like", "spm.model")
LARGE_PIECES = 128_000

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


def _scenarios(ours: Any, ref: Any, texts: List[str], batch_size: int, repeats: int,
               prefix: str = "") -> Dict[str, Any]:
    """Every scenario on one pair of tokenizers: {prefix + scenario: {ours_s, reference_s, texts_per_s, ratio}}."""
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
    results: Dict[str, Any] = {}
    for name, (batches, kwargs) in scenarios.items():
        ours_call = lambda batch, kw=kwargs: ours(batch, **kw)  # noqa: E731
        ref_call = lambda batch, kw=kwargs: ref(batch, **kw)  # noqa: E731
        ours_call(batches[0])  # warm both (lazy Rust state, first-call allocations)
        ref_call(batches[0])
        ours_s, ref_s = _compare(ours_call, ref_call, batches, repeats)
        count = sum(len(b) for b in batches)
        results[prefix + name] = {"ours_s": ours_s, "reference_s": ref_s, "texts_per_s": count / ours_s,
                                  "ratio": ref_s / ours_s}
    return results


def write_large_model(path: str, num_pieces: int = LARGE_PIECES) -> str:
    """A Unigram spm.model of ``num_pieces`` pieces in the DeBERTa-v3 layout ([PAD] [CLS] [SEP] [UNK], then made-up
    pieces with decreasing scores) and the fixture's NFKC charsmap, as deberta-v3-base's is laid out."""
    fixture, _ = spm_model.read_model(SPM_FIXTURE)
    pieces = fixture.pieces[:4]
    rng = random.Random(SEED)
    letters = "abcdefghijklmnopqrstuvwxyzéüßабвгдежзийклмнопрстуфхцчшщ日本語テキスト"
    seen = {p.piece for p in pieces}
    while len(pieces) < num_pieces:
        piece = ("▁" if rng.random() < 0.6 else "") + "".join(rng.choice(letters) for _ in range(rng.randint(1, 8)))
        if piece not in seen:
            seen.add(piece)
            pieces.append(spm_model.SentencePiece(piece, -1.0 - len(pieces) / 1000.0, spm_model.NORMAL))
    model = spm_model.ModelProto(pieces=pieces, trainer_spec=fixture.trainer_spec,
                                 normalizer_spec=fixture.normalizer_spec)
    with open(path, "wb") as handle:
        handle.write(spm_model.serialize(model))
    return path


def main(num_texts: int = NUM_TEXTS, batch_size: int = BATCH_SIZE, repeats: int = REPEATS) -> Dict[str, Any]:
    """Run every scenario; returns {scenario: {ours_s, reference_s, texts_per_s, ratio}} plus settings."""
    import transformers  # the reference; only the benchmark needs it

    vocab, merges = os.path.join(ASSETS_DIR, "vocab.json"), os.path.join(ASSETS_DIR, "merges.txt")
    texts = make_texts(num_texts)
    results: Dict[str, Any] = {"num_texts": num_texts, "batch_size": batch_size, "repeats": repeats,
                               "reference": f"transformers {transformers.__version__} DebertaTokenizerFast and "
                                            f"DebertaV2TokenizerFast"}
    results.update(_scenarios(DebertaTokenizer(), transformers.DebertaTokenizerFast(
        vocab, merges, model_max_length=MAX_LENGTH), texts, batch_size, repeats))
    with tempfile.TemporaryDirectory() as tmp:
        ours_v2 = DebertaV2Tokenizer(SPM_FIXTURE, model_max_length=MAX_LENGTH)
        ours_v2.save_pretrained(os.path.join(tmp, "v2"))
        ref_v2 = transformers.DebertaV2TokenizerFast.from_pretrained(os.path.join(tmp, "v2"))
        results.update(_scenarios(ours_v2, ref_v2, texts, batch_size, repeats, prefix="v2_"))
        large = write_large_model(os.path.join(tmp, "spm.model"))
        load_s = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            DebertaV2Tokenizer(large)
            load_s = min(load_s, time.perf_counter() - start)
        results["v2_load_128k"] = {"pieces": LARGE_PIECES, "load_s": load_s, "file_bytes": os.path.getsize(large)}
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
        if isinstance(row, dict) and "load_s" in row:
            print(f"{name:28s} {row['load_s']:9.3f} s to load {row['pieces']:,} pieces ({row['file_bytes']:,} bytes)")
        elif isinstance(row, dict):
            print(f"{name:28s} {row['ours_s']:9.3f} {row['reference_s']:9.3f} {row['texts_per_s']:10.0f} "
                  f"{row['ratio']:6.2f}x")


if __name__ == "__main__":
    _cli()
