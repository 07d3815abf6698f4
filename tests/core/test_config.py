"""DebertaConfig: defaults, reference round-trips both ways, unknown keys, every validation error."""

import json

import pytest
import transformers

from deberta_core import DebertaConfig
from deberta_core.config import ACTIVATIONS, MODEL_FIELDS

from conftest import HF_FIXTURES

REFERENCE_CONFIGS = sorted(HF_FIXTURES.glob("*/*/config.json"))
# The fields that define the architecture: they must agree with the reference after any round trip.
ARCH_FIELDS = [f for f in MODEL_FIELDS if f not in ("legacy", "cls_dropout")] + ["num_labels", "problem_type"]


def _reference_value(ref, name):
    if name == "embedding_size":  # the reference reads it with a default of hidden_size
        return ref.to_dict().get("embedding_size", ref.hidden_size)
    value = getattr(ref, name)
    if name == "pos_att_type" and value is not None:
        return list(value)
    return value


def test_defaults_match_reference():
    ours, ref = DebertaConfig(), transformers.DebertaConfig()
    for name in ARCH_FIELDS:
        assert getattr(ours, name) == _reference_value(ref, name), name
    assert ours.use_legacy_mlm_head == ref.legacy
    assert ours.model_type == ref.model_type == "deberta"


def test_fixture_configs_exist():
    assert len(REFERENCE_CONFIGS) >= 40


@pytest.mark.parametrize("path", REFERENCE_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_reference_config_json_loads(path, tmp_path):
    ours = DebertaConfig.from_pretrained(path.parent)
    ref = transformers.DebertaConfig.from_pretrained(path.parent)
    for name in ARCH_FIELDS:
        assert getattr(ours, name) == _reference_value(ref, name), name
    assert ours.id2label == ref.id2label
    # Written back by us, it loads in the reference with the same values, and keys we do not model survive.
    ours.save_pretrained(tmp_path)
    again = transformers.DebertaConfig.from_pretrained(tmp_path)
    for name in ARCH_FIELDS:
        assert getattr(again, name) == _reference_value(ref, name), name
    original = json.loads(path.read_text())
    written = json.loads((tmp_path / "config.json").read_text())
    for key in original:
        assert key in written, key
        if key not in ("id2label", "label2id", "pos_att_type"):
            assert written[key] == original[key], key


def test_our_config_loads_in_reference(tmp_path):
    ours = DebertaConfig(
        vocab_size=123, hidden_size=48, num_hidden_layers=3, num_attention_heads=6, intermediate_size=50,
        hidden_act="gelu_new", relative_attention=True, pos_att_type="c2p|p2c", max_relative_positions=7,
        position_biased_input=False, type_vocab_size=2, embedding_size=24, pooler_hidden_act="tanh",
        id2label={0: "neg", 1: "neu", 2: "pos"}, problem_type="single_label_classification", legacy=False,
    )
    ours.save_pretrained(tmp_path)
    ref = transformers.DebertaConfig.from_pretrained(tmp_path)
    for name in ARCH_FIELDS:
        assert getattr(ref, name) == getattr(ours, name), name
    assert ref.legacy is False
    assert ref.id2label == {0: "neg", 1: "neu", 2: "pos"}
    assert ref.label2id == {"neg": 0, "neu": 1, "pos": 2}
    assert DebertaConfig.from_pretrained(tmp_path) == ours


def test_unset_legacy_is_not_written_and_reads_as_reference_default(tmp_path):
    DebertaConfig().save_pretrained(tmp_path)
    assert "legacy" not in json.loads((tmp_path / "config.json").read_text())
    assert transformers.DebertaConfig.from_pretrained(tmp_path).legacy is True


def test_unknown_keys_round_trip(tmp_path):
    cfg = DebertaConfig.from_dict({"model_type": "deberta", "my_custom_key": {"a": [1, 2]}, "transformers_version": "9"})
    assert cfg.my_custom_key == {"a": [1, 2]}
    cfg.save_pretrained(tmp_path)
    back = DebertaConfig.from_json_file(tmp_path / "config.json")
    assert back.my_custom_key == {"a": [1, 2]} and back.transformers_version == "9"
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        _ = cfg.not_there


def test_enhanced_mask_decoder_is_written_only_when_on_and_the_reference_keeps_it(tmp_path):
    assert "enhanced_mask_decoder" not in DebertaConfig().to_dict()  # a default config.json stays the reference's
    cfg = DebertaConfig(position_biased_input=False, enhanced_mask_decoder=True)
    assert cfg.has_position_table and not DebertaConfig(position_biased_input=False).has_position_table
    cfg.save_pretrained(tmp_path)
    assert DebertaConfig.from_pretrained(tmp_path).enhanced_mask_decoder is True
    assert DebertaConfig.from_pretrained(tmp_path, enhanced_mask_decoder=False).enhanced_mask_decoder is False
    assert transformers.DebertaConfig.from_pretrained(tmp_path).enhanced_mask_decoder is True  # an extra attribute


def test_pos_att_type_string_and_list_forms():
    assert DebertaConfig(pos_att_type="C2P | p2c").pos_att_type == ["c2p", "p2c"]
    assert DebertaConfig(pos_att_type=("p2c",)).pos_att_type == ["p2c"]
    assert DebertaConfig().pos_att_types == []


def test_derived_values():
    cfg = DebertaConfig(hidden_size=64, num_attention_heads=4, pos_att_type="c2p|p2c", max_position_embeddings=100)
    assert cfg.head_dim == 16
    assert cfg.attention_scale_factor == 3
    assert cfg.max_relative_span == 100
    assert cfg.copy(max_relative_positions=8).max_relative_span == 8
    assert cfg.classifier_dropout == cfg.hidden_dropout_prob
    assert cfg.copy(cls_dropout=0.3).classifier_dropout == 0.3


def test_num_labels_and_id2label():
    cfg = DebertaConfig(num_labels=3)
    assert cfg.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    cfg.num_labels = 5
    assert len(cfg.id2label) == 5 and cfg.label2id["LABEL_4"] == 4
    assert DebertaConfig(id2label={"0": "a", "1": "b"}).id2label == {0: "a", 1: "b"}
    assert DebertaConfig.from_dict(DebertaConfig(num_labels=3).to_dict(), num_labels=4).num_labels == 4
    # New label names (fine-tuning a pretrained checkpoint): the file's label2id / num_labels do not apply.
    relabelled = DebertaConfig.from_dict(DebertaConfig().to_dict(), id2label={0: "a", 1: "b", 2: "c"})
    assert relabelled.num_labels == 3 and relabelled.label2id == {"a": 0, "b": 1, "c": 2}


# Each case is one row of docs/errors.md (tests/error_catalogue.py).
CONFIG_ERRORS = [
    ({"hidden_size": 770, "num_attention_heads": 12}, "hidden_size (770) must be divisible by num_attention_heads (12)"),
    ({"pos_att_type": "c2p|p2p"}, "pos_att_type entry 'p2p' is not supported"),
    ({"pos_att_type": ["c2p", "c2p"]}, "repeated entry"),
    ({"pos_att_type": 3}, "pos_att_type must be a list"),
    ({"hidden_act": "gelu_magic"}, "hidden_act 'gelu_magic' is not a known activation"),
    ({"pooler_hidden_act": "swishy"}, "pooler_hidden_act 'swishy' is not a known activation"),
    ({"hidden_size": -8}, "hidden_size must be a positive integer, got -8"),
    ({"vocab_size": 0}, "vocab_size must be a positive integer, got 0"),
    ({"num_hidden_layers": 2.5}, "num_hidden_layers must be a positive integer, got 2.5"),
    ({"intermediate_size": -1}, "intermediate_size must be a positive integer"),
    ({"max_position_embeddings": 0}, "max_position_embeddings must be a positive integer"),
    ({"embedding_size": -4}, "embedding_size must be a positive integer, got -4"),
    ({"type_vocab_size": -1}, "type_vocab_size must be a non-negative integer, got -1"),
    ({"hidden_dropout_prob": 1.5}, "hidden_dropout_prob must be a probability in [0, 1), got 1.5"),
    ({"attention_probs_dropout_prob": -0.1}, "attention_probs_dropout_prob must be a probability"),
    ({"cls_dropout": 2.0}, "cls_dropout must be a probability"),
    ({"layer_norm_eps": 0}, "layer_norm_eps must be a positive number, got 0"),
    ({"problem_type": "ranking"}, "problem_type 'ranking' is not one of"),
    ({"num_labels": 3, "id2label": {0: "a", 1: "b"}}, "num_labels (3) disagrees with id2label, which has 2 entries"),
    ({"num_labels": 0}, "num_labels must be a positive integer, got 0"),
    ({"id2label": {0: "a", 2: "b"}}, "id2label keys must be 0..1"),
    ({"id2label": {0: "a", 1: "b"}, "label2id": {"a": 0}}, "label2id has 1 entries but id2label has 2"),
    ({"pad_token_id": 10, "vocab_size": 5}, "pad_token_id must be an integer in [0, vocab_size=5), got 10"),
    ({"relative_attention": "yes"}, "relative_attention must be true or false, got 'yes'"),
    ({"max_relative_positions": 1.5}, "max_relative_positions must be an integer"),
    ({"talking_head": True}, "talking_head=True"),
    ({"legacy": "no"}, "legacy must be true, false or unset"),
    ({"id2label": ["negative", "positive"]}, "id2label must be a dict"),
    ({"label2id": ["negative"]}, "label2id must be a dict"),
    ({"architectures": "DebertaForMaskedLM"}, "architectures must be a list of class names"),
    ({"layer_norm_eps": True}, "layer_norm_eps must be a positive number, got True"),
    ({"initializer_range": False}, "initializer_range must be a non-negative number, got False"),
    ({"enhanced_mask_decoder": "yes"}, "enhanced_mask_decoder must be true or false, got 'yes'"),
    ({"enhanced_mask_decoder": True}, "enhanced_mask_decoder=True needs position_biased_input=False"),
    ({"enhanced_mask_decoder": True, "position_biased_input": False, "embedding_size": 128},
     "adds the raw position embeddings (embedding_size 128) to hidden states (hidden_size 768): they must be equal"),
    ({"enhanced_mask_decoder": True, "position_biased_input": False, "num_hidden_layers": 1},
     "it needs num_hidden_layers >= 2, got 1"),
    ({"pad_token_id": True}, "pad_token_id must be an integer in [0, vocab_size=50265), got True"),
]


@pytest.mark.bad_input("config.json with a key this package does not use (a misspelt field)", "log:WARNING",
                       "has keys this package does not use (kept, written back unchanged; a misspelt field falls "
                       "back to its default): num_hiden_layers")
def test_unknown_config_json_keys_are_kept_and_reported_once(tmp_path, caplog, expect_bad_input):
    import uuid

    misspelt = f"num_hiden_layers_{uuid.uuid4().hex[:8]}"  # a fresh name: each key is reported once per process
    data = {**DebertaConfig(num_hidden_layers=3).to_dict(), misspelt: 5, "transformers_version": "4.57.6"}
    data.pop("num_hidden_layers")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with expect_bad_input():
        config = DebertaConfig.from_json_file(path)
    assert config.num_hidden_layers == 12 and getattr(config, misspelt) == 5  # kept, as the issue asks
    assert config.to_dict()[misspelt] == 5
    caplog.clear()
    with caplog.at_level("WARNING"):
        DebertaConfig.from_json_file(path)  # once per process
    assert not [r for r in caplog.records if "does not use" in r.getMessage()]


@pytest.mark.parametrize("kwargs", [
    pytest.param(kwargs, id=str(i), marks=pytest.mark.bad_input(f"DebertaConfig(**{kwargs!r})", ValueError, fragment))
    for i, (kwargs, fragment) in enumerate(CONFIG_ERRORS)
])
def test_validation_errors_name_the_value(kwargs, expect_bad_input):
    with expect_bad_input():
        DebertaConfig(**kwargs)


def test_every_activation_name_is_accepted():
    for name in ACTIVATIONS:
        DebertaConfig(hidden_act=name, pooler_hidden_act=name)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json in"):
        DebertaConfig.from_pretrained(tmp_path)
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        DebertaConfig.from_pretrained(tmp_path)
    bad.write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="model_type is 'bert'; this package implements 'deberta'"):
        DebertaConfig.from_pretrained(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DebertaConfig.from_pretrained(tmp_path / "missing" / "dir")


def test_presets_build_valid_configs():
    from deberta_core.presets import PRESETS, preset_config

    for name in PRESETS:
        cfg = preset_config(name, num_labels=6)
        assert cfg.num_labels == 6 and cfg.relative_attention
    assert preset_config("deberta-demo-small").num_hidden_layers == 4
    assert preset_config("deberta-base").hidden_size == transformers.DebertaConfig().hidden_size
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        preset_config("nope")


def test_each_default_is_written_once_and_the_signature_shows_it():
    import inspect

    from deberta_core.config import FIELDS, GENERIC_FIELDS

    params = inspect.signature(DebertaConfig).parameters
    assert list(params)[: len(FIELDS)] == list(FIELDS)
    assert {name: params[name].default for name in MODEL_FIELDS} == MODEL_FIELDS
    assert {name: params[name].default for name in GENERIC_FIELDS} == GENERIC_FIELDS
    # positional arguments follow the reference's order; a field given twice is refused
    assert DebertaConfig(1000, 64, 2, 4) == DebertaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2,
                                                            num_attention_heads=4)
    with pytest.raises(TypeError, match="multiple values for argument 'vocab_size'"):
        DebertaConfig(1000, vocab_size=10)


@pytest.mark.bad_input("DebertaConfig.from_pretrained(folder, hiden_size=64): a misspelt keyword argument",
                       TypeError, "unexpected keyword argument 'hiden_size' (did you mean 'hidden_size'?)")
def test_misspelt_override_is_refused(tmp_path, expect_bad_input):
    DebertaConfig(hidden_size=64, num_attention_heads=4).save_pretrained(tmp_path)
    with expect_bad_input():
        DebertaConfig.from_pretrained(tmp_path, hiden_size=64)
    assert DebertaConfig.from_pretrained(tmp_path, hidden_size=128).hidden_size == 128
    assert DebertaConfig.from_pretrained(tmp_path / "config.json", layer_norm_eps=1e-5).layer_norm_eps == 1e-5
