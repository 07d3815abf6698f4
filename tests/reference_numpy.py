"""NumPy transcription of the original DeBERTa code's forward pass, the Enhanced Mask Decoder included (a test
reference: float64, eval mode, no dropout, slow and plain on purpose).

Transcribed from microsoft/DeBERTa (MIT licence; read, not copied): ``DeBERTa/deberta/bert.py`` (BertEmbeddings,
BertEncoder, BertLayer, BertAttention, BertSelfOutput, BertLMPredictionHead), ``ops.py`` (XSoftmax,
MaskedLayerNorm), ``disentangled_attention.py`` of the v1 release (commit ae38d6f: the fused ``in_proj`` with
``q_bias``/``v_bias``, ``pos_proj``, ``pos_q_proj``, and its ``query_states`` path) and
``DeBERTa/apps/models/masked_language_model.py`` (EnhancedMaskDecoder, MaskedLanguageModel; added in commit
c7147a0, 2021-03, last changed in 10f237a, 2021-09). The EMD was written against the later attention module
(separate query/key/value projections with a key bias); that module loads v1 checkpoints through its
``_pre_load_hook``, which splits ``in_proj`` per head exactly as the v1 ``query_states`` path does and keeps the
key biases the module has (zero after its init), so on v1 weights both compute the same thing (its relative-position window, always
``max_relative_positions`` wide, picks the same rows as v1's ``min(s, max_relative_positions)``).

Checked against the original code itself (tests/original_deberta_check.py, run on a checkout of
microsoft/DeBERTa at HEAD and at c7147a0): logits agree to 4e-7 in float32.

Weights come as a mapping ``torch key -> np.ndarray`` in the original checkpoints' names (= ours):
``deberta.embeddings.{word,position,token_type}_embeddings.weight``, ``deberta.embeddings.embed_proj.weight``,
``deberta.embeddings.LayerNorm.*``, ``deberta.encoder.layer.{i}.attention.self.{in_proj.weight, q_bias, v_bias,
pos_proj.weight, pos_q_proj.*}``, ``...attention.output.{dense,LayerNorm}.*``, ``...intermediate.dense.*``,
``...output.{dense,LayerNorm}.*``, ``deberta.encoder.rel_embeddings.weight``, ``lm_predictions.lm_head.{dense,
LayerNorm}.*`` and ``lm_predictions.lm_head.bias`` (the reference library's ``cls.predictions.*`` naming is
accepted too). The config is a plain dict of ``config.json`` fields (or anything with ``to_dict()``).

The Enhanced Mask Decoder, as the original computes it (``MaskedLanguageModel.forward`` ->
``EnhancedMaskDecoder.emd_context_layer`` -> ``lm_head``)
--------------------------------------------------------------------------------------------------------------
1. The encoder runs as usual on ``input_ids`` with ``input_mask`` (2-D, 1 = token): embeddings (word + token
   type (always zeros: MaskedLanguageModel passes no token types) + absolute position if position_biased_input,
   embed_proj, LayerNorm, times the mask), then all L layers. It keeps every layer's output H(1) .. H(L).
2. ``z`` = the raw absolute position embeddings ``position_embeddings(position_ids)`` ([b, s, E]), taken
   before any sum, LayerNorm, mask or dropout; position_ids default to ``arange(s)`` expanded to [b, s]. The
   table exists whatever position_biased_input says (the original always creates it; it is the EMD's input).
3. If position_biased_input is **False** (deberta-base's setting):
   - keys and values: ``H(L-1)``, the output of the second-to-last encoder layer (H(L) is not used at all);
   - first query ``q0 = z + H(L-1)`` (computed in place: ``z_states += hidden_states``);
   - the LAST encoder layer (same module, shared weights) runs twice: ``q1 = layer_L(kv=H(L-1), query=q0)``,
     ``q2 = layer_L(kv=H(L-1), query=q1)``. In each pass the attention's queries come from the query stream and
     keys/values from H(L-1); the attention residual is the QUERY stream
     (``LayerNorm(dense(context) + query)``), then the usual feed-forward with its residual;
   - attention mask: the encoder's, rebuilt the same way: the outer product ``m_i * m_j`` of the 2-D input mask
     ([b, 1, s, s]), so padded queries attend nowhere (all-zero probabilities) and no one attends to padding;
   - relative positions: ``i - j`` over the query and key lengths (both s), built inside the attention
     (``relative_pos=None``; "TODO: pass relative pos ids"), same clamping and rel_embeddings as the encoder.
     They do not depend on position_ids;
   - the output of the second pass (q2) goes through ``lm_predictions.lm_head`` (dense, activation, LayerNorm
     over embedding_size, matmul with the word-embedding matrix, + bias); q1 is discarded.
4. If position_biased_input is **True**: there is no decoder at all; the head reads H(L) (ordinary MLM).
5. The original returns logits only at positions whose label is > 0 (its labels are 0 for "not a target",
   not -100), flattened to [n_targets, vocab]. Every operation after the encoder is row-wise in the queries, so
   those rows equal the same rows of the logits computed at every position, which is what :func:`emd_logits`
   returns ([b, s, vocab]); the loss is a per-target cross-entropy (reduction='none').

Surprising things in the original:
- position_biased_input=True silently turns the EMD off (since 10f237a, "Fix issues with pre-training bert
  model"). The first version (c7147a0, with the EMD-era embeddings of that commit) instead ignored
  position_biased_input everywhere: the embeddings never added absolute positions to the input and the
  decoder always ran -- which is what this reference computes for position_biased_input=False.
  ``always_decode=True`` runs the decoder with position_biased_input=True as well (positions in the input
  AND in z): no version of the original computes that; it is there for a model that chooses to.
- ``z_states += hidden_states`` modifies the embedding module's returned position tensor in place. Harmless
  there (nothing else reads it, and the embedding's backward does not need its output), but with a
  ``position_ids`` of shape [1, s] and a batch > 1 the in-place add cannot broadcast and raises; this
  reference broadcasts position_ids to [b, s] first.
- ``z`` has embedding_size columns and is added to H(L-1) with hidden_size columns without ``embed_proj``: the
  EMD only works when embedding_size == hidden_size (a ValueError here, a shape error there).
- ``encoder_layers[-2]`` needs at least two layers (IndexError with one; a ValueError here).
- The mask is the encoder's, not a "target" mask: queries at every real position see all real keys; nothing
  restricts attention to or from masked-out tokens. Padded query rows still produce outputs (LayerNorm of the
  bias-only residual), the original simply never reads them.
- The decoder's two passes reuse layer L's dropout modules (training) and its weights receive gradients from
  three uses (the encoder pass, which is discarded when the EMD runs, and the two decoder passes); the encoder
  pass of layer L still runs and costs compute.
- The v1 release's ``DeBERTa.forward`` has a different, dead ``z_steps`` branch (query = H(L), not z + H(L-1));
  the reference library copied it. It is not the EMD.
- The attention module the EMD code runs on (HEAD) cannot run p2c without c2p: its p2c gather reads the
  index built in the c2p branch (UnboundLocalError); its _pre_load_hook also needs both pos_proj and
  pos_q_proj in a v1 checkpoint. It defaults a missing pos_att_type to 'c2p' (the v1 module to 'none'), which
  scales scores by 1/sqrt(2d) even without relative attention. The v1 semantics are transcribed here.
- The original's pretraining data (``NGramMaskGenerator``) draws its random replacement tokens from the whole
  vocabulary, special tokens included, and counts [MASK]/[CLS]/[SEP]/[PAD]/[UNK] as never maskable.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

EMBEDDINGS = "deberta.embeddings."
ENCODER = "deberta.encoder."
LM_HEAD = "lm_predictions.lm_head."
LEGACY_HEAD = "cls.predictions."


# ------------------------------------------------------------------------------------------------- config
def reference_config(config: Any) -> Dict[str, Any]:
    """The fields the original reads, with its defaults (``getattr(config, name, default)``) resolved."""
    data = dict(config.to_dict() if hasattr(config, "to_dict") else config)
    pos_att_type = data.get("pos_att_type") or []
    if isinstance(pos_att_type, str):  # the original splits 'c2p|p2c'
        pos_att_type = [part.strip() for part in pos_att_type.lower().split("|")]
    max_relative = data.get("max_relative_positions", -1)
    if max_relative is None or max_relative < 1:
        max_relative = data["max_position_embeddings"]
    hidden = data["hidden_size"]
    heads = data["num_attention_heads"]
    embedding_size = data.get("embedding_size") or hidden
    if data.get("talking_head"):
        raise ValueError("talking_head=True (an unused option of the original) is not transcribed")
    return {
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "head_size": hidden // heads,
        "num_hidden_layers": data["num_hidden_layers"],
        "hidden_act": data.get("hidden_act", "gelu"),
        "layer_norm_eps": data.get("layer_norm_eps", 1e-7),
        "type_vocab_size": data.get("type_vocab_size", 0),
        "position_biased_input": data.get("position_biased_input", True),
        "relative_attention": data.get("relative_attention", False),
        "max_relative_positions": max_relative,
        "pos_att_type": [p for p in pos_att_type if p != "none"],
        "embedding_size": embedding_size,
    }


# ------------------------------------------------------------------------------------------------- ops
def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x)


ACTIVATIONS = {
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),  # the original's torch.nn.functional.gelu
    "relu": lambda x: np.maximum(x, 0.0),
    "swish": lambda x: x / (1.0 + np.exp(-x)),
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "linear": lambda x: x,
    # Not in the original's ACT2FN; the tanh approximation our configs also accept.
    "gelu_new": lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))),
}


def _w(state: Mapping[str, Any], key: str) -> np.ndarray:
    if key not in state:
        raise KeyError(f"the reference needs weight {key!r}; the state has {len(state)} keys, e.g. {sorted(state)[:3]}")
    return np.asarray(state[key], dtype=np.float64)


def linear(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None) -> np.ndarray:
    out = x @ weight.T
    return out if bias is None else out + bias


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)  # biased, as torch.nn.LayerNorm
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _layer_norm(state, prefix: str, x: np.ndarray, eps: float) -> np.ndarray:
    return layer_norm(x, _w(state, prefix + "weight"), _w(state, prefix + "bias"), eps)


def xsoftmax(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """ops.XSoftmax: fill masked scores with -inf, softmax over the last axis, set masked entries to 0 (a fully
    masked row, NaN after the softmax, becomes all zeros)."""
    mask = np.broadcast_to(mask.astype(bool), scores.shape)
    filled = np.where(mask, scores, -np.inf)
    row_max = np.max(filled, axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.where(mask, np.exp(filled - row_max), 0.0)
    total = exp.sum(-1, keepdims=True)
    return np.where(total > 0, exp / np.where(total > 0, total, 1.0), 0.0)


def attention_mask_4d(input_mask: np.ndarray) -> np.ndarray:
    """BertEncoder.get_attention_mask for a 2-D input mask: [b, 1, s, s] = m_j * m_i (outer product)."""
    extended = input_mask[:, None, None, :]  # [b, 1, 1, s]
    return (extended * input_mask[:, None, :, None]).astype(bool)  # [b, 1, s, s]


def build_relative_position(query_size: int, key_size: int) -> np.ndarray:
    """[1, q, k]: q_i - k_j."""
    return (np.arange(query_size)[:, None] - np.arange(key_size)[None, :])[None]


def _heads(x: np.ndarray, heads: int) -> np.ndarray:
    """transpose_for_scores: [b, s, h*d'] -> [b, h, s, d']."""
    return x.reshape(x.shape[:-1] + (heads, -1)).swapaxes(-2, -3)


# ------------------------------------------------------------------------------------------------- model
def embeddings(state, cfg, input_ids, token_type_ids=None, position_ids=None, mask=None):
    """BertEmbeddings (the EMD-era version): returns (embedding output [b, s, e], raw position embeddings
    [b, s, E] or None when the checkpoint has no position table)."""
    batch, seq = input_ids.shape
    if position_ids is None:
        position_ids = np.broadcast_to(np.arange(seq)[None, :], (batch, seq))
    if token_type_ids is None:
        token_type_ids = np.zeros_like(input_ids)
    words = _w(state, EMBEDDINGS + "word_embeddings.weight")[input_ids]
    table_key = EMBEDDINGS + "position_embeddings.weight"
    position = _w(state, table_key)[position_ids] if (table_key in state or cfg["position_biased_input"]) else None
    emb = words
    if cfg["type_vocab_size"] > 0:
        emb = emb + _w(state, EMBEDDINGS + "token_type_embeddings.weight")[token_type_ids]
    if cfg["position_biased_input"]:
        emb = emb + position
    if cfg["embedding_size"] != cfg["hidden_size"]:
        emb = linear(emb, _w(state, EMBEDDINGS + "embed_proj.weight"))
    emb = _layer_norm(state, EMBEDDINGS + "LayerNorm.", emb, cfg["layer_norm_eps"])  # MaskedLayerNorm
    if mask is not None:
        emb = emb * mask[:, :, None]
    return emb, position


def disentangled_att_bias(state, prefix, cfg, query_layer, key_layer, relative_pos, rel_embeddings, scale_factor):
    """v1 ``disentangled_att_bias``: query_layer already divided by sqrt(d * scale_factor)."""
    heads = cfg["num_attention_heads"]
    q_len, k_len = query_layer.shape[-2], key_layer.shape[-2]
    if relative_pos is None:
        relative_pos = build_relative_position(q_len, k_len)
    relative_pos = relative_pos[:, None]  # [1, 1, q, k]
    max_rel = cfg["max_relative_positions"]
    att_span = min(max(q_len, k_len), max_rel)
    rel_embeddings = rel_embeddings[max_rel - att_span: max_rel + att_span][None]  # [1, 2a, e]
    types = cfg["pos_att_type"]
    if "c2p" in types:
        pos_key_layer = _heads(linear(rel_embeddings, _w(state, prefix + "pos_proj.weight")), heads)  # [1, h, 2a, d]
    if "p2c" in types:
        pos_query_layer = _heads(linear(rel_embeddings, _w(state, prefix + "pos_q_proj.weight"),
                                        _w(state, prefix + "pos_q_proj.bias")), heads)
    score = 0.0
    c2p_pos = np.clip(relative_pos + att_span, 0, att_span * 2 - 1)  # [1, 1, q, k]
    if "c2p" in types:
        c2p_att = query_layer @ pos_key_layer.swapaxes(-1, -2)  # [b, h, q, 2a]
        index = np.broadcast_to(c2p_pos, query_layer.shape[:2] + (q_len, k_len))
        score = score + np.take_along_axis(c2p_att, index, axis=-1)
    if "p2c" in types:
        pos_query_layer = pos_query_layer / math.sqrt(pos_query_layer.shape[-1] * scale_factor)
        r_pos = build_relative_position(k_len, k_len)[:, None] if q_len != k_len else relative_pos
        p2c_pos = np.clip(-r_pos + att_span, 0, att_span * 2 - 1)  # [1, 1, k, k]
        p2c_att = key_layer @ pos_query_layer.swapaxes(-1, -2)  # [b, h, k, 2a]
        index = np.broadcast_to(p2c_pos, query_layer.shape[:2] + (k_len, k_len))
        p2c_att = np.take_along_axis(p2c_att, index, axis=-1).swapaxes(-1, -2)  # [b, h, k, k]
        if q_len != k_len:
            pos_index = relative_pos[:, :, :, :1]  # [1, 1, q, 1]: row i of the key-to-key map
            p2c_att = np.take_along_axis(p2c_att, np.broadcast_to(pos_index, p2c_att.shape[:2] + (q_len, k_len)), axis=-2)
        score = score + p2c_att
    return score


def disentangled_self_attention(state, prefix, cfg, hidden_states, attention_mask, query_states=None,
                                relative_pos=None, rel_embeddings=None):
    """v1 DisentangledSelfAttention.forward: context [b, q, e]. With ``query_states``, the fused in_proj weight
    is cut into 3 * heads row blocks (q, k, v of head 0, then head 1, ...) and regrouped into separate
    query / key / value projections; queries read query_states, keys and values hidden_states."""
    heads = cfg["num_attention_heads"]
    in_proj = _w(state, prefix + "in_proj.weight")  # [3e, e]
    if query_states is None:
        qp = _heads(linear(hidden_states, in_proj), heads)  # [b, h, s, 3d]
        query_layer, key_layer, value_layer = np.split(qp, 3, axis=-1)
    else:
        ws = np.split(in_proj, heads * 3, axis=0)
        qkvw = [np.concatenate([ws[i * 3 + k] for i in range(heads)], axis=0) for k in range(3)]
        q = linear(query_states, qkvw[0])
        k, v = [linear(hidden_states, qkvw[i]) for i in range(1, 3)]
        query_layer, key_layer, value_layer = [_heads(x, heads) for x in (q, k, v)]
    query_layer = query_layer + _heads(_w(state, prefix + "q_bias")[None, None, :], heads)
    value_layer = value_layer + _heads(_w(state, prefix + "v_bias")[None, None, :], heads)
    scale_factor = 1 + sum(1 for t in ("c2p", "p2c", "p2p") if t in cfg["pos_att_type"])
    query_layer = query_layer / math.sqrt(query_layer.shape[-1] * scale_factor)
    attention_scores = query_layer @ key_layer.swapaxes(-1, -2)  # [b, h, q, k]
    if cfg["relative_attention"]:
        attention_scores = attention_scores + disentangled_att_bias(
            state, prefix, cfg, query_layer, key_layer, relative_pos, rel_embeddings, scale_factor)
    attention_probs = xsoftmax(attention_scores, attention_mask)
    context = attention_probs @ value_layer  # [b, h, q, d]
    context = context.transpose(0, 2, 1, 3)  # [b, q, h, d]
    return context.reshape(context.shape[:2] + (-1,))  # [b, q, e]


def bert_layer(state, index, cfg, hidden_states, attention_mask, query_states=None, relative_pos=None,
               rel_embeddings=None):
    """BertLayer: attention (residual = query_states, or hidden_states without them) then the feed-forward."""
    prefix = f"{ENCODER}layer.{index}."
    eps = cfg["layer_norm_eps"]
    self_output = disentangled_self_attention(state, prefix + "attention.self.", cfg, hidden_states, attention_mask,
                                              query_states, relative_pos, rel_embeddings)
    residual = hidden_states if query_states is None else query_states
    attention_output = linear(self_output, _w(state, prefix + "attention.output.dense.weight"),
                              _w(state, prefix + "attention.output.dense.bias"))
    attention_output = _layer_norm(state, prefix + "attention.output.LayerNorm.", attention_output + residual, eps)
    intermediate = ACTIVATIONS[cfg["hidden_act"]](linear(attention_output, _w(state, prefix + "intermediate.dense.weight"),
                                                         _w(state, prefix + "intermediate.dense.bias")))
    layer_output = linear(intermediate, _w(state, prefix + "output.dense.weight"), _w(state, prefix + "output.dense.bias"))
    return _layer_norm(state, prefix + "output.LayerNorm.", layer_output + attention_output, eps)


def _as_inputs(input_ids, attention_mask):
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2 or input_ids.dtype.kind not in "iu":
        raise ValueError(f"input_ids must be an integer [batch, sequence] array, got {input_ids.dtype} {input_ids.shape}")
    input_mask = np.ones_like(input_ids) if attention_mask is None else np.asarray(attention_mask)
    if input_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask must be a 2-D [batch, sequence] mask like input_ids {input_ids.shape}, "
                         f"got {input_mask.shape}")
    return input_ids, input_mask.astype(np.float64)


def encoder_forward(state, config, input_ids, attention_mask=None, token_type_ids=None, position_ids=None) -> dict:
    """DeBERTa.forward with output_all_encoded_layers=True: {'hidden_states': [H(1) .. H(L)],
    'embeddings': embedding output, 'position_embeddings': raw position embeddings or None}."""
    cfg = reference_config(config)
    input_ids, input_mask = _as_inputs(input_ids, attention_mask)
    if position_ids is not None:
        position_ids = np.broadcast_to(np.asarray(position_ids), input_ids.shape)
    embedding_output, position = embeddings(state, cfg, input_ids, token_type_ids, position_ids, input_mask)
    mask = attention_mask_4d(input_mask)
    relative_pos = build_relative_position(input_ids.shape[1], input_ids.shape[1]) if cfg["relative_attention"] else None
    rel_embeddings = _w(state, ENCODER + "rel_embeddings.weight") if cfg["relative_attention"] else None
    layers: List[np.ndarray] = []
    hidden = embedding_output
    for index in range(cfg["num_hidden_layers"]):
        hidden = bert_layer(state, index, cfg, hidden, mask, relative_pos=relative_pos, rel_embeddings=rel_embeddings)
        layers.append(hidden)
    return {"hidden_states": layers, "embeddings": embedding_output, "position_embeddings": position}


def lm_head(state, config, hidden_states) -> np.ndarray:
    """BertLMPredictionHead: dense -> activation -> LayerNorm -> @ word_embeddings.T + bias. [b, s, vocab]."""
    cfg = reference_config(config)
    if LM_HEAD + "bias" in state:
        transform, bias = LM_HEAD, LM_HEAD + "bias"
    else:
        transform, bias = LEGACY_HEAD + "transform.", LEGACY_HEAD + "bias"
    hidden = linear(hidden_states, _w(state, transform + "dense.weight"), _w(state, transform + "dense.bias"))
    hidden = ACTIVATIONS[cfg["hidden_act"]](hidden)
    hidden = _layer_norm(state, transform + "LayerNorm.", hidden, cfg["layer_norm_eps"])
    return hidden @ _w(state, EMBEDDINGS + "word_embeddings.weight").T + _w(state, bias)


def mlm_logits(state, config, input_ids, attention_mask=None, token_type_ids=None, position_ids=None) -> np.ndarray:
    """Ordinary masked-LM logits (no decoder): the head on H(L). [b, s, vocab]."""
    out = encoder_forward(state, config, input_ids, attention_mask, token_type_ids, position_ids)
    return lm_head(state, config, out["hidden_states"][-1])


def emd_hidden_states(state, config, input_ids, attention_mask=None, position_ids=None, *, token_type_ids=None,
                      always_decode: bool = False) -> List[np.ndarray]:
    """EnhancedMaskDecoder.emd_context_layer before its flattening: the query-stream outputs [q1, q2] of the two
    passes of the last layer (or [H(L)] when position_biased_input is True and not ``always_decode``)."""
    cfg = reference_config(config)
    input_ids, input_mask = _as_inputs(input_ids, attention_mask)
    if position_ids is not None:
        position_ids = np.broadcast_to(np.asarray(position_ids), input_ids.shape)
    out = encoder_forward(state, config, input_ids, attention_mask, token_type_ids, position_ids)
    encoder_layers = out["hidden_states"]
    if cfg["position_biased_input"] and not always_decode:
        return [encoder_layers[-1]]
    if cfg["num_hidden_layers"] < 2:
        raise ValueError(f"the enhanced mask decoder reads the second-to-last layer: it needs num_hidden_layers >= 2, "
                         f"got {cfg['num_hidden_layers']}")
    if cfg["embedding_size"] != cfg["hidden_size"]:
        raise ValueError(f"the enhanced mask decoder adds raw position embeddings (embedding_size "
                         f"{cfg['embedding_size']}) to hidden states (hidden_size {cfg['hidden_size']}); they must match")
    z_states = out["position_embeddings"]
    if z_states is None:
        raise KeyError(f"the enhanced mask decoder needs {EMBEDDINGS}position_embeddings.weight")
    hidden_states = encoder_layers[-2]
    mask = attention_mask_4d(input_mask)
    rel_embeddings = _w(state, ENCODER + "rel_embeddings.weight") if cfg["relative_attention"] else None
    last = cfg["num_hidden_layers"] - 1
    query_states = z_states + hidden_states
    outputs = []
    for _ in range(2):
        query_states = bert_layer(state, last, cfg, hidden_states, mask, query_states=query_states,
                                  relative_pos=None, rel_embeddings=rel_embeddings)
        outputs.append(query_states)
    return outputs


def emd_logits(state, config, input_ids, attention_mask=None, position_ids=None, *, token_type_ids=None,
               always_decode: bool = False) -> np.ndarray:
    """MLM logits of the original MaskedLanguageModel (Enhanced Mask Decoder) at EVERY position: [b, s, vocab].

    The original returns the rows whose label is > 0; pick them with ``logits[labels > 0]`` (or ``labels !=
    -100`` in our convention). ``token_type_ids`` defaults to zeros, which is all the original ever passes.
    """
    return lm_head(state, config, emd_hidden_states(state, config, input_ids, attention_mask, position_ids,
                                                    token_type_ids=token_type_ids, always_decode=always_decode)[-1])


__all__ = ["reference_config", "encoder_forward", "lm_head", "mlm_logits", "emd_hidden_states", "emd_logits",
           "xsoftmax", "attention_mask_4d", "build_relative_position"]
