"""The declarative weight map against the reference: every torch parameter and every h5 weight, exactly once.

Golden names and shapes come from the reference itself: transformers' torch classes built from each fixture
config (``state_dict()``), and the fixture files it wrote (safetensors, pytorch_model.bin, tf_model.h5).
"""

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from deberta_core import DebertaConfig
from deberta_core import checkpoint_io as cio
from deberta_core import weight_map as wm
from deberta_core.weight_map import (
    ARCHITECTURES,
    WeightMapError,
    adapt_torch_prefix,
    apply_op,
    detect_torch_layout,
    dump,
    expand,
    normalize_architecture,
)
from deberta_core.weight_plan import keras_to_torch, torch_to_keras

from conftest import HF_FIXTURES

MANIFEST = json.loads((HF_FIXTURES / "manifest.json").read_text())
CONFIG_NAMES = sorted({m["config_name"] for m in MANIFEST["models"]})
PT_V5_DIRS = sorted(p.parent for p in (HF_FIXTURES / "pt_v5").glob("*/model.safetensors"))
TF_DIRS = sorted(p.parent for p in (HF_FIXTURES / "tf_457").glob("*/tf_model.h5"))
BIN_DIRS = sorted(p.parent for p in (HF_FIXTURES / "pt_457_bin").glob("*/pytorch_model.bin"))

# Variants beyond the fixtures, derived from p1, for conditions no fixture config exercises alone.
EXTRA_VARIANTS = {
    "rel_without_pos_att": {"pos_att_type": None},  # rel_embeddings but no pos_proj / pos_q_proj
    "pos_att_without_rel": {"relative_attention": False},  # pos_att_type set but ignored: no projections
    "five_labels_3_layers": {"num_labels": 5, "num_hidden_layers": 3, "type_vocab_size": 3},
}


def _config_dict(config_name: str) -> dict:
    return json.loads((HF_FIXTURES / "pt_v5" / f"{config_name}__model" / "config.json").read_text())


def _variant_dicts():
    out = {name: _config_dict(name) for name in CONFIG_NAMES}
    for name, overrides in EXTRA_VARIANTS.items():
        data = _config_dict(CONFIG_NAMES[0])
        if "num_labels" in overrides:
            data.pop("id2label", None)
            data.pop("label2id", None)
        data.update(overrides)
        out[name] = data
    return out


VARIANTS = _variant_dicts()
# (variant, architecture, legacy): the five classes, plus the original (non-legacy) MLM head.
CASES = [(v, a, True) for v in VARIANTS for a in ARCHITECTURES] + [(v, "DebertaForMaskedLM", False) for v in VARIANTS]


def _reference_state_shapes(cfg: dict, architecture: str, legacy: bool) -> dict:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = dict(cfg, legacy=legacy)
    if not legacy:
        cfg["tie_word_embeddings"] = False  # 4.57 would tie lm_head.dense to the embeddings (see KEYS.md)
    torch.manual_seed(0)
    model = getattr(transformers, architecture)(transformers.DebertaConfig(**cfg))
    return {
        key: tuple(value.shape)
        for key, value in model.state_dict().items()
        if not key.startswith("cls.predictions.decoder.")  # tied to the word embeddings / cls.predictions.bias
    }


def _fixture_config(folder) -> DebertaConfig:
    return DebertaConfig.from_json_file(folder / "config.json")


def _architecture(folder) -> str:
    return json.loads((folder / "config.json").read_text())["architectures"][0]


def _bitwise_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------------------------------- the table
def test_table_is_well_formed():
    for group, rows in wm.GROUPS.items():
        for row in rows:
            assert row.op in wm.OPS, row
            assert row.when in wm.CONDITIONS, row
            assert all(dim in wm.DIMENSIONS for dim in row.shape), row
            assert len(row.shape) in (1, 2), row
            assert row.op == "identity" or len(row.shape) == 2, row
            assert ("{i}" in row.torch) == ("{i}" in row.keras) == (group == "layer"), row
    keras_templates = [row.keras for group, rows in wm.GROUPS.items() for row in rows
                       if group not in ("sequence_classification", "token_classification")]
    assert len(keras_templates) == len(set(keras_templates))


@pytest.mark.parametrize("op,shape", [("identity", (7,)), ("identity", (3, 5)), ("transpose", (3, 5)),
                                      ("transpose", (1, 4)), ("transpose", (6, 6))])
def test_ops_invert_bit_for_bit(op, shape):
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float16, np.float64):
        x = rng.standard_normal(shape).astype(dtype)
        y = apply_op(op, x)
        assert y.shape == wm.op_shape(op, shape)
        assert y.flags["C_CONTIGUOUS"]
        assert _bitwise_equal(apply_op(op, y, inverse=True), x)


def test_unknown_op_is_refused():
    with pytest.raises(ValueError, match="unknown weight-map op 'reshape'"):
        apply_op("reshape", np.zeros(3))


# ---------------------------------------------------------------------------------------------------- coverage
@pytest.mark.parametrize("variant,architecture,legacy", CASES,
                         ids=[f"{v}-{a}{'' if l else '-original'}" for v, a, l in CASES])
def test_map_covers_reference_torch_model_exactly_once(variant, architecture, legacy):
    cfg = VARIANTS[variant]
    reference = _reference_state_shapes(cfg, architecture, legacy)
    config = DebertaConfig.from_dict(cfg, legacy=legacy)
    entries = expand(config, architecture)
    torch_keys = [e.torch_key for e in entries]
    keras_names = [e.keras_name for e in entries]
    assert [k for k, n in Counter(torch_keys).items() if n > 1] == []
    assert [k for k, n in Counter(keras_names).items() if n > 1] == []
    assert set(torch_keys) == set(reference), (
        f"missing from the map: {sorted(set(reference) - set(torch_keys))}; "
        f"not in the reference: {sorted(set(torch_keys) - set(reference))}"
    )
    for e in entries:
        if not legacy and e.torch_key.startswith("lm_predictions.lm_head.") and e.torch_key != "lm_predictions.lm_head.bias" \
                and config.embedding_size != config.hidden_size:
            # The reference 4.57 sizes the original head by hidden_size and then cannot multiply it with the
            # embedding_size-wide tied embeddings; the map (and both twins) size it by embedding_size.
            assert e.torch_shape[0] == config.embedding_size, e
        else:
            assert e.torch_shape == reference[e.torch_key], e
        assert apply_op(e.op, np.zeros(e.torch_shape, np.float32)).shape == e.keras_shape, e
    # The TF prefix names the same architecture.
    assert expand(config, "TF" + architecture) == entries


@pytest.mark.parametrize("folder", TF_DIRS, ids=lambda p: p.name)
def test_map_covers_reference_h5_exactly_once(folder):
    config, architecture = _fixture_config(folder), _architecture(folder)
    entries = {e.keras_name: e for e in expand(config, architecture)}
    weights = cio.read_tf_h5(folder / "tf_model.h5")
    assert set(weights) == set(entries)
    for name, array in weights.items():
        assert array.shape == entries[name].keras_shape, name
    # Raw listing: every weight once, except the embeddings repeated by the MLM head's `cls` group.
    listed = Counter(cio.canonical_keras_name(w) for names in cio.read_tf_h5_layout(folder / "tf_model.h5").values()
                     for w in names)
    repeated = {n for n, count in listed.items() if count > 1}
    expected_repeats = {n for n in entries if n.startswith("deberta/embeddings/")} if "MaskedLM" in architecture else set()
    assert repeated == expected_repeats
    assert max(listed.values()) <= 2


@pytest.mark.parametrize("folder", PT_V5_DIRS, ids=lambda p: p.name)
def test_safetensors_keys_match_map_and_round_trip(folder):
    config, architecture = _fixture_config(folder), _architecture(folder)
    tensors = cio.read_safetensors(folder / "model.safetensors")
    keras = torch_to_keras(tensors, config, architecture, source=str(folder))
    expected_ignored = ["deberta.embeddings.position_embeddings.weight"] if folder.name.endswith("_hublike") else []
    assert keras.ignored == expected_ignored
    assert set(tensors) - set(expected_ignored) == {e.torch_key for e in expand(config, architecture)}
    back = keras_to_torch(keras, config, architecture)
    assert set(back) == set(tensors) - set(expected_ignored)
    for key, value in back.items():
        assert _bitwise_equal(value, tensors[key]), key


@pytest.mark.parametrize("folder", BIN_DIRS, ids=lambda p: p.name)
def test_pytorch_bin_keys_match_map(folder):
    torch = pytest.importorskip("torch")
    config, architecture = _fixture_config(folder), _architecture(folder)
    state = {k: v.numpy() for k, v in torch.load(folder / "pytorch_model.bin", weights_only=True).items()}
    keras = torch_to_keras(state, config, architecture)
    tied = ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias"] if "MaskedLM" in architecture else []
    assert sorted(keras.ignored) == sorted(tied)
    reference = cio.read_safetensors(HF_FIXTURES / "pt_v5" / folder.name / "model.safetensors")
    assert set(state) - set(tied) == set(reference)
    for name, value in torch_to_keras(reference, config, architecture).items():
        assert _bitwise_equal(keras[name], value), name


def test_keras_direction_orders_like_the_reference_h5():
    folder = HF_FIXTURES / "tf_457" / "p4_embproj__mlm"
    config = _fixture_config(folder)
    stored = [cio.canonical_keras_name(w) for w in cio.read_tf_h5_layout(folder / "tf_model.h5")["deberta"]]
    names = [e.keras_name for e in expand(config, "DebertaForMaskedLM") if e.keras_name.startswith("deberta/")]
    assert names == stored
    assert sorted(names, key=wm.keras_sort_key) == names


# ---------------------------------------------------------------------------------------------------- errors
def _p1(architecture="DebertaForSequenceClassification", **overrides):
    config = DebertaConfig.from_dict(_config_dict("p1_rel_c2p_p2c"), **overrides)
    rng = np.random.default_rng(1)
    tensors = {e.torch_key: rng.standard_normal(e.torch_shape).astype(np.float32) for e in expand(config, architecture)}
    return config, tensors


def test_every_problem_is_reported_in_one_error():
    config, tensors = _p1()
    del tensors["deberta.encoder.layer.1.attention.self.q_bias"]
    del tensors["classifier.bias"]
    tensors["deberta.encoder.layer.7.output.dense.bias"] = np.zeros(32, np.float32)
    tensors["pooler.dense.weight"] = np.zeros((16, 32), np.float32)
    with pytest.raises(WeightMapError) as info:
        torch_to_keras(tensors, config, "DebertaForSequenceClassification", source="ckpt/model.safetensors")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.missing == ["deberta.encoder.layer.1.attention.self.q_bias", "classifier.bias"]
    assert err.unexpected == ["deberta.encoder.layer.7.output.dense.bias"]
    assert err.mismatched == [("pooler.dense.weight", (32, 32), (16, 32))]
    message = str(err)
    assert "from ckpt/model.safetensors" in message
    assert "2 missing, 1 unexpected, 1 with the wrong shape" in message
    assert "pooler.dense.weight: expected (32, 32), got (16, 32)" in message
    for name in err.missing + err.unexpected:
        assert name in message


def test_keras_direction_reports_too():
    config, tensors = _p1("DebertaForQuestionAnswering")
    keras = dict(torch_to_keras(tensors, config, "DebertaForQuestionAnswering"))
    keras["qa_outputs/kernel"] = keras["qa_outputs/kernel"].T  # a torch-layout kernel by mistake
    keras["cls/predictions/bias"] = np.zeros(256, np.float32)
    del keras["deberta/encoder/rel_embeddings.weight"]
    with pytest.raises(WeightMapError) as info:
        keras_to_torch(keras, config, "TFDebertaForQuestionAnswering", source="tf_model.h5")
    assert info.value.missing == ["deberta/encoder/rel_embeddings.weight"]
    assert info.value.unexpected == ["cls/predictions/bias"]
    assert info.value.mismatched == [("qa_outputs/kernel", (32, 2), (2, 32))]
    assert "keras -> torch" in str(info.value) and "tf_model.h5" in str(info.value)


def test_non_strict_records_missing_and_unexpected_but_not_shape_errors():
    config, tensors = _p1()
    del tensors["classifier.weight"]
    tensors["cls.predictions.bias"] = np.zeros(256, np.float32)
    out = torch_to_keras(tensors, config, "DebertaForSequenceClassification", strict=False)
    assert out.missing == ["classifier.weight"] and out.unexpected == ["cls.predictions.bias"]
    assert "classifier/kernel" not in out and "classifier/bias" in out
    tensors["classifier.bias"] = np.zeros(7, np.float32)
    with pytest.raises(WeightMapError, match="classifier.bias: expected \\(2,\\), got \\(7,\\)"):
        torch_to_keras(tensors, config, "DebertaForSequenceClassification", strict=False)


def test_tolerated_extras_are_dropped_and_returned():
    config, tensors = _p1("DebertaForMaskedLM")
    tensors["cls.predictions.decoder.weight"] = tensors["deberta.embeddings.word_embeddings.weight"].copy()
    tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"].copy()
    tensors["deberta.embeddings.position_embeddings.weight"] = np.zeros((64, 32), np.float32)  # p1: not position-biased
    tensors["deberta.embeddings.position_ids"] = np.arange(64)[None]
    out = torch_to_keras(tensors, config, "DebertaForMaskedLM")
    assert sorted(out.ignored) == sorted([
        "cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
        "deberta.embeddings.position_embeddings.weight", "deberta.embeddings.position_ids",
    ])
    assert len(out) == len(expand(config, "DebertaForMaskedLM"))


def test_untied_decoder_is_not_silently_dropped():
    config, tensors = _p1("DebertaForMaskedLM")
    tensors["cls.predictions.decoder.weight"] = tensors["deberta.embeddings.word_embeddings.weight"] + 1
    with pytest.raises(WeightMapError, match="differs from deberta.embeddings.word_embeddings.weight") as info:
        torch_to_keras(tensors, config, "DebertaForMaskedLM")
    assert info.value.unexpected == ["cls.predictions.decoder.weight"]


def test_decoder_keys_are_unexpected_outside_masked_lm():
    config, tensors = _p1()
    tensors["cls.predictions.decoder.bias"] = np.zeros(256, np.float32)
    with pytest.raises(WeightMapError) as info:
        torch_to_keras(tensors, config, "DebertaForSequenceClassification")
    assert info.value.unexpected == ["cls.predictions.decoder.bias"]


def test_position_embeddings_are_a_real_weight_when_position_biased():
    config = DebertaConfig.from_dict(_config_dict("p2_rel_p2c_clamp16"))
    assert config.position_biased_input
    rng = np.random.default_rng(2)
    tensors = {e.torch_key: rng.standard_normal(e.torch_shape).astype(np.float32) for e in expand(config, "DebertaModel")}
    tensors["embeddings.position_embeddings.weight"] = np.zeros((512, 32), np.float32)
    with pytest.raises(WeightMapError, match=r"embeddings.position_embeddings.weight: expected \(64, 32\), got \(512, 32\)"):
        torch_to_keras(tensors, config, "DebertaModel")


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="unknown architecture 'DebertaForMultipleChoice'.*DebertaModel"):
        normalize_architecture("DebertaForMultipleChoice")
    assert normalize_architecture("TFDebertaModel") == "DebertaModel"
    with pytest.raises(ValueError, match="matches no row"):
        wm.keras_sort_key("deberta/encoder/layer_._0/attention/self/query/kernel")


# ---------------------------------------------------------------------------------------------------- torch layout
@pytest.mark.parametrize("name,expected", [
    ("p1_rel_c2p_p2c__model", (False, None)),
    ("p1_rel_c2p_p2c__mlm", (True, "legacy")),
    ("p1_rel_c2p_p2c__mlm_nolegacy", (True, "original")),
    ("p1_rel_c2p_p2c__mlm_nolegacy_hublike", (True, "original")),
    ("p1_rel_c2p_p2c__seqcls", (True, None)),
])
def test_detect_torch_layout(name, expected):
    keys = cio.read_safetensors(HF_FIXTURES / "pt_v5" / name / "model.safetensors")
    layout = detect_torch_layout(keys)
    assert (layout.base_prefixed, layout.mlm_head) == expected
    assert layout.legacy == (None if expected[1] is None else expected[1] == "legacy")


def test_detect_torch_layout_refuses_mixtures():
    with pytest.raises(ValueError, match="with and without the 'deberta.' prefix"):
        detect_torch_layout(["embeddings.LayerNorm.bias", "deberta.encoder.layer.0.output.dense.bias"])
    with pytest.raises(ValueError, match="both MLM head layouts"):
        detect_torch_layout(["cls.predictions.bias", "lm_predictions.lm_head.bias"])
    assert detect_torch_layout(["classifier.bias"]).base_prefixed is None


def test_adapt_torch_prefix_both_ways():
    mlm = cio.read_safetensors(HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__mlm_nolegacy" / "model.safetensors")
    base, dropped = adapt_torch_prefix(mlm, "DebertaModel")
    assert sorted(dropped) == sorted(k for k in mlm if k.startswith("lm_predictions."))
    config = DebertaConfig.from_dict(_config_dict("p1_rel_c2p_p2c"))
    assert set(torch_to_keras(base, config, "DebertaModel")) == {e.keras_name for e in expand(config, "DebertaModel")}
    model = cio.read_safetensors(HF_FIXTURES / "pt_v5" / "p1_rel_c2p_p2c__model" / "model.safetensors")
    prefixed, dropped = adapt_torch_prefix(model, "TFDebertaForTokenClassification")
    assert dropped == [] and all(k.startswith("deberta.") for k in prefixed)
    out = torch_to_keras(prefixed, config, "DebertaForTokenClassification", strict=False)
    assert out.missing == ["classifier.weight", "classifier.bias"] and out.unexpected == []


# ---------------------------------------------------------------------------------------------------- dump
def test_dump_lists_every_row():
    config = DebertaConfig.from_dict(_config_dict("p4_embproj"), legacy=False)
    text = dump(config, "DebertaForMaskedLM")
    entries = expand(config, "DebertaForMaskedLM")
    assert text.splitlines()[0].startswith(f"# weight map for DebertaForMaskedLM ({len(entries)} weights")
    for e in entries:
        line = next(l for l in text.splitlines() if l.startswith(e.torch_key + " "))
        assert e.keras_name in line and e.op in line and str(list(e.keras_shape)) in line
    assert "lm_predictions/lm_head/dense/kernel" in text and "cls/predictions" not in text
    assert "deberta.embeddings.position_embeddings.weight: unused" in text


def test_core_modules_import_no_framework():
    code = (
        "import sys, deberta_core.weight_map, deberta_core.checkpoint_io\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras', 'tf_keras', 'jax'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# -- property: random configs ---------------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import HEADS, property_examples  # noqa: E402


@st.composite
def _random_models(draw):
    """(config, architecture): small configs over every switch the map reads (relative attention and its terms,
    clamping, absolute positions, token types, an embedding projection, depth, labels) and any head."""
    architecture = draw(st.sampled_from(HEADS))
    heads = draw(st.sampled_from([1, 2, 4]))
    hidden = heads * draw(st.integers(2, 6))
    relative = draw(st.booleans())
    return DebertaConfig(
        vocab_size=draw(st.integers(8, 40)), hidden_size=hidden, num_attention_heads=heads,
        num_hidden_layers=draw(st.integers(1, 3)), intermediate_size=draw(st.integers(3, 20)),
        max_position_embeddings=draw(st.integers(8, 24)), type_vocab_size=draw(st.integers(0, 3)),
        relative_attention=relative,
        pos_att_type=draw(st.sampled_from([None, ["c2p"], ["p2c"], ["c2p", "p2c"]])),
        max_relative_positions=draw(st.sampled_from([-1, 3, 7])),
        position_biased_input=draw(st.booleans()) if relative else True,
        embedding_size=draw(st.sampled_from([None, hidden, hidden + 2, max(1, hidden - 1)])),
        num_labels=2 if architecture == "DebertaForQuestionAnswering" else draw(st.integers(1, 4)),
    ), architecture


@settings(max_examples=property_examples(30))
@given(model=_random_models(), seed=st.integers(0, 2**16))
def test_property_random_configs_round_trip_both_ways_bit_for_bit(model, seed):
    config, architecture = model
    entries = expand(config, architecture)
    rng = np.random.default_rng(seed)
    keras = {}
    for e in entries:  # a tied row (the MLM decoder) names a Keras weight already drawn
        keras.setdefault(e.keras_name, rng.standard_normal(e.keras_shape).astype(np.float32))
    torch_side = keras_to_torch(keras, config, architecture)
    assert {k: v.shape for k, v in torch_side.items()} == {e.torch_key: e.torch_shape for e in entries}
    again = torch_to_keras(torch_side, config, architecture)
    assert set(again) == set(keras)
    for name, value in keras.items():
        assert again[name].dtype == value.dtype and np.array_equal(again[name], value), name
    back = keras_to_torch(again, config, architecture)
    for key, value in torch_side.items():
        assert np.array_equal(back[key], value), key


@settings(max_examples=property_examples(12))
@given(model=_random_models())
def test_property_the_map_names_every_weight_of_both_twins(model):
    config, architecture = model
    # The map is only right if it is the models' own naming: both twins built from the random config hold exactly
    # the map's weights, with the map's shapes.
    import deberta_tf
    import deberta_torch
    from deberta_tf.io import model_weights as keras_model_weights
    from deberta_torch.io import model_weights as torch_model_weights

    entries = expand(config, architecture)
    torch_model = getattr(deberta_torch, architecture)(config)
    assert {k: v.shape for k, v in torch_model_weights(torch_model).items()} == \
        {e.torch_key: e.torch_shape for e in entries}
    keras_model = getattr(deberta_tf, "TF" + architecture)(config)
    keras_model.build()
    assert {k: v.shape for k, v in keras_model_weights(keras_model).items()} == \
        {e.keras_name: e.keras_shape for e in entries}
