"""Run the ORIGINAL microsoft/DeBERTa code (MaskedLanguageModel with its EnhancedMaskDecoder) on random weights
and compare it with tests/reference_numpy.py and deberta_torch. Not a test (the original is not installable:
the PyPI wheel, DeBERTa 0.1.12, predates the EMD and pins `sklearn`); a tool to re-check the transcription:

    python tests/original_deberta_check.py /path/to/microsoft/DeBERTa   # a checkout (or `git archive`) of it

Its only missing dependency here, sentencepiece (imported by its SPM tokenizer), is replaced by an empty module.
Prints one line per case with the max |difference| and exits non-zero if any exceeds ATOL.
"""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ATOL = 1e-5  # float32 original vs float64 reference / float32 deberta_torch: round-off only

CASES = {
    "c2p|p2c": dict(relative_attention=True, pos_att_type="c2p|p2c", position_biased_input=False),
    "p2c": dict(relative_attention=True, pos_att_type="p2c", position_biased_input=False),
    "c2p clamped": dict(relative_attention=True, pos_att_type="c2p", position_biased_input=False,
                            max_relative_positions=3),
    "c2p|p2c clamped, 3 layers": dict(relative_attention=True, pos_att_type="c2p|p2c",
                                          position_biased_input=False, max_relative_positions=4, num_hidden_layers=3),
    "position_biased_input, c2p|p2c clamped": dict(relative_attention=True, pos_att_type="c2p|p2c",
                                                   position_biased_input=True, max_relative_positions=4),
    # "none" spelled out: the EMD-era attention defaults a missing pos_att_type to "c2p" (v1: "none")
    "position_biased_input, no relative attention": dict(relative_attention=False, position_biased_input=True, pos_att_type="none"),
}
TINY = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, hidden_act="gelu",
            type_vocab_size=0, layer_norm_eps=1e-7, initializer_range=0.02, max_relative_positions=-1)


def import_original(source: str):
    sys.modules.setdefault("sentencepiece", types.ModuleType("sentencepiece"))
    import collections
    import collections.abc

    if not hasattr(collections, "Sequence"):  # versions before 0eb1283 import it from there (gone in 3.10)
        collections.Sequence = collections.abc.Sequence
    sys.path.insert(0, source)
    from DeBERTa.apps.models.masked_language_model import MaskedLanguageModel
    from DeBERTa.deberta import ModelConfig

    return MaskedLanguageModel, ModelConfig


def v1_to_original(state: dict, config: dict) -> dict:
    """The v1 names (ours) to the attention module the EMD code runs on, as its _pre_load_hook does (which
    only handles checkpoints holding both pos_proj and pos_q_proj): in_proj cut per head into query / key /
    value, q_bias / v_bias as their biases, zero key biases."""
    heads = config["num_attention_heads"]
    out = {}
    for name, value in state.items():
        if not name.endswith("attention.self.in_proj.weight"):
            if not any(name.endswith(s) for s in ("q_bias", "v_bias", "pos_proj.weight", "pos_q_proj.weight", "pos_q_proj.bias")):
                out[name] = value
            continue
        prefix = name[: -len("in_proj.weight")]
        q, k, v = value.reshape(heads, -1, value.shape[-1]).chunk(3, dim=1)
        out[prefix + "query_proj.weight"] = q.reshape(-1, value.shape[-1])
        out[prefix + "key_proj.weight"] = k.reshape(-1, value.shape[-1])
        out[prefix + "value_proj.weight"] = v.reshape(-1, value.shape[-1])
        out[prefix + "query_proj.bias"] = state[prefix + "q_bias"]
        out[prefix + "key_proj.bias"] = torch.zeros(value.shape[-1])
        out[prefix + "value_proj.bias"] = state[prefix + "v_bias"]
        if prefix + "pos_proj.weight" in state:
            out[prefix + "pos_key_proj.weight"] = state[prefix + "pos_proj.weight"]
            out[prefix + "pos_key_proj.bias"] = torch.zeros(value.shape[-1])
        if prefix + "pos_q_proj.weight" in state:
            out[prefix + "pos_query_proj.weight"] = state[prefix + "pos_q_proj.weight"]
            out[prefix + "pos_query_proj.bias"] = state[prefix + "pos_q_proj.bias"]
    return out


def main(argv) -> int:
    if len(argv) != 2 or not os.path.isdir(os.path.join(argv[1], "DeBERTa")):
        print(__doc__)
        return 2
    MaskedLanguageModel, ModelConfig = import_original(argv[1])
    # Its first version (c7147a0) ignored position_biased_input: no absolute positions in the input, decoder
    # always on; the reference computes that with position_biased_input=False.
    with open(os.path.join(argv[1], "DeBERTa", "apps", "models", "masked_language_model.py"), encoding="utf-8") as f:
        first_version = "position_biased_input" not in f.read()
    print(f"original at {argv[1]}: " + ("position_biased_input ignored, decoder always on" if first_version
                                        else "decoder off when position_biased_input"))
    sys.path.insert(0, HERE)
    import reference_numpy as ref
    from deberta_core import DebertaConfig
    from deberta_torch import DebertaForMaskedLM

    worst = 0.0
    for case, fields in CASES.items():
        fields = {**TINY, **fields}
        torch.manual_seed(0)
        original = MaskedLanguageModel(ModelConfig.from_dict(dict(fields))).eval()
        with torch.no_grad():  # random everything, biases and norms included
            for param in original.parameters():
                param.copy_(torch.randn(param.shape) * 0.2)
        # our names, derived from the original's random weights (key biases zeroed: v1 has none)
        pos_att_type = [p for p in fields["pos_att_type"].split("|") if p != "none"] or None
        ours = DebertaForMaskedLM(DebertaConfig(**{**fields, "legacy": False, "pos_att_type": pos_att_type})).eval()
        state = {}
        heads = fields["num_attention_heads"]
        for name, value in original.state_dict().items():
            if name.endswith("attention.self.query_proj.weight"):
                prefix = name[: -len("query_proj.weight")]
                q, k, v = (original.state_dict()[prefix + p + "_proj.weight"] for p in ("query", "key", "value"))
                per_head = [t.reshape(heads, -1, t.shape[-1]) for t in (q, k, v)]
                state[prefix + "in_proj.weight"] = torch.cat(per_head, dim=1).reshape(-1, q.shape[-1])
                state[prefix + "q_bias"] = original.state_dict()[prefix + "query_proj.bias"]
                state[prefix + "v_bias"] = original.state_dict()[prefix + "value_proj.bias"]
            elif name.endswith("pos_key_proj.weight"):
                state[name.replace("pos_key_proj", "pos_proj")] = value
            elif name.endswith("pos_query_proj.weight") or name.endswith("pos_query_proj.bias"):
                state[name.replace("pos_query_proj", "pos_q_proj")] = value
            elif any(p in name for p in ("query_proj", "key_proj", "value_proj")):
                continue
            else:
                state[name] = value
        original.load_state_dict(v1_to_original(state, fields), strict=True)
        if "pos_proj" in str(list(state)) and "pos_q_proj" in str(list(state)):  # the original's own hook works too
            hooked = MaskedLanguageModel(ModelConfig.from_dict(dict(fields))).eval()
            hooked_state = dict(state)
            hooked.load_state_dict(hooked_state, strict=False)
            for name, value in hooked.state_dict().items():
                assert torch.equal(value, original.state_dict()[name]) or "key_proj.bias" in name, name
        ours_state = {k: v for k, v in state.items() if k in ours.state_dict()}
        ours.load_state_dict(ours_state, strict=True)

        rng = np.random.default_rng(1)
        lengths = (11, 7, 3)
        mask = (np.arange(11)[None, :] < np.array(lengths)[:, None]).astype(np.int64)
        ids = rng.integers(1, fields["vocab_size"], size=mask.shape) * mask
        labels = (ids * mask > 0).astype(np.int64)  # every real token is a target (the original: label > 0)
        try:
            with torch.no_grad():
                out = original(torch.from_numpy(ids), torch.from_numpy(mask), labels=torch.from_numpy(labels))
        except Exception as err:  # e.g. its p2c-only path reads c2p's index (UnboundLocalError at HEAD)
            print(f"{case:45s} the original fails: {type(err).__name__}: {err}")
            continue
        original_logits = out["logits"].numpy()
        numpy_state = {k: v.numpy() for k, v in state.items()}
        reference_fields = dict(fields, position_biased_input=False) if first_version else fields
        reference_logits = ref.emd_logits(numpy_state, reference_fields, ids, mask)[labels > 0]
        diffs = {"reference": float(np.abs(original_logits - reference_logits).max())}
        plain = ref.mlm_logits(numpy_state, reference_fields, ids, mask)[labels > 0]  # must differ if it decodes
        contrast = f"  (vs no decoder {float(np.abs(original_logits - plain).max()):.2e})"
        if fields["position_biased_input"] and not first_version:
            with torch.no_grad():
                torch_logits = ours(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()
            diffs["deberta_torch"] = float(np.abs(original_logits - torch_logits[labels > 0]).max())
        worst = max(worst, *diffs.values())
        print(f"{case:45s} targets {original_logits.shape[0]:3d}  max|diff| " +
              "  ".join(f"{k} {v:.2e}" for k, v in diffs.items()) + contrast)
    print(f"worst {worst:.2e} (ATOL {ATOL:g})")
    return 0 if worst <= ATOL else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
