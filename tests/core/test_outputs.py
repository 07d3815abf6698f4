"""ModelOutput: ordered mapping, attribute access, None fields dropped, works with any tensor type."""

import pickle

import numpy as np
import pytest

from deberta_core import ModelOutput


def test_order_attribute_access_and_none_dropped():
    out = ModelOutput(hidden_states=(1, 2), logits="L", loss=None, attentions=None)
    assert list(out.keys()) == ["logits", "hidden_states"]
    assert out.logits == "L" and out["logits"] == "L" and out[0] == "L" and out[1] == (1, 2)
    assert out.loss is None and out.attentions is None
    assert out.to_tuple() == ("L", (1, 2))
    assert out[:1] == ("L",)


def test_loss_comes_first_and_setting_fields():
    out = ModelOutput(logits=1, loss=2)
    assert out.to_tuple() == (2, 1)
    out.attentions = (3,)
    assert out.attentions == (3,)
    out.attentions = None
    assert "attentions" not in out


def test_unknown_attribute_errors():
    with pytest.raises(AttributeError, match="has no field 'nope'"):
        _ = ModelOutput(logits=1).nope


@pytest.mark.parametrize("make", ["numpy", "torch", "tf"])
def test_holds_framework_tensors(make):
    if make == "numpy":
        value = np.ones((2, 3))
    elif make == "torch":
        import torch
        value = torch.ones(2, 3)
    else:
        import tensorflow as tf
        value = tf.ones((2, 3))
    out = ModelOutput(last_hidden_state=value)
    assert out.last_hidden_state is value and out[0] is value
    assert "shape=(2, 3)" in repr(out)


def test_pickles():
    out = ModelOutput(logits=np.arange(3), loss=np.float32(1.0))
    back = pickle.loads(pickle.dumps(out))
    assert list(back) == ["loss", "logits"] and np.array_equal(back.logits, np.arange(3))
