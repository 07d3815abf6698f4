"""deberta_core.batches: the seeded batches every parity check and test runs both twins on."""

import numpy as np
import pytest

from deberta_core import DebertaConfig
from deberta_core.batches import make_batch

CONFIG = DebertaConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
                       max_position_embeddings=16, type_vocab_size=2, num_labels=3)


def test_explicit_lengths_pad_each_row_and_label_only_valid_tokens():
    batch = make_batch(CONFIG, "DebertaForTokenClassification", lengths=(5, 2, 0), seed=3)
    assert batch["input_ids"].shape == (3, 5) and batch["input_ids"].dtype == np.int64
    assert batch["attention_mask"].sum(axis=1).tolist() == [5, 2, 0]
    assert (batch["input_ids"][batch["attention_mask"] == 0] == CONFIG.pad_token_id).all()
    assert (batch["token_type_ids"][batch["attention_mask"] == 0] == 0).all()
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    again = make_batch(CONFIG, "DebertaForTokenClassification", lengths=(5, 2, 0), seed=3)
    assert all(np.array_equal(batch[k], again[k]) for k in batch)  # seeded


def test_question_answering_positions_stay_inside_each_row():
    batch = make_batch(CONFIG, "DebertaForQuestionAnswering", lengths=(6, 3, 0), seed=1)
    assert (batch["start_positions"] <= batch["end_positions"]).all()
    assert (batch["end_positions"] < np.maximum(batch["attention_mask"].sum(axis=1), 1)).all()


def test_bad_lengths_are_refused():
    with pytest.raises(ValueError, match="lengths must be"):
        make_batch(CONFIG, "DebertaModel", lengths=(0, 0))
