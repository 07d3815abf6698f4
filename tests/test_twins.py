"""The twins stay twins: every deberta_torch/X.py and deberta_tf/X.py pair, compared statement by statement.

Expressions are framework code by nature (``mask.squeeze(1)`` is ``tf.squeeze(mask, axis=1)``), so each file is
reduced to what DESIGN.md ("Parallel twins") promises to keep equal, one line per statement, in order: classes,
functions and their arguments, assigned names, control flow, called functions, returns and raises, and every
comment. Framework words get one spelling first (``WORDS``) and Keras-only plumbing is dropped (``KERAS_ONLY``).
Whatever still differs must be on the allow-list (``ONE_SIDED``: definitions one framework needs and the other has
built in; ``ALLOWED``: the few deliberate differences inside shared code), each with its reason. An allow-list
entry that matches nothing fails as well, so the list stays short and true.

``utils.py`` is left out: it is by design the home of what one framework lacks (DESIGN.md: framework utilities
live in a file of their own per twin). Reads the sources only (no framework is imported): fast, and runs in
``make test``.
"""

from __future__ import annotations

import ast
import difflib
import io
import pathlib
import re
import tokenize
from typing import Dict, List, NamedTuple, Sequence, Tuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TORCH, KERAS = ROOT / "deberta_torch", ROOT / "deberta_tf"
NOT_TWINS = ("utils.py",)

# One spelling for what each framework (or the reference API) names differently.
WORDS: Sequence[Tuple[str, str]] = (
    (r"\bTFDeberta", "Deberta"),  # only the public Keras models carry the TF prefix
    (r"\bforward\b", "call"),  # nn.Module.forward / keras.layers.Layer.call
    (r"\bfrom_tf\b|\bfrom_pt\b", "from_other"),  # the reference's flags for "the other framework's checkpoint"
    (r"\btorch_dtype\b", "dtype"),  # from_pretrained's dtype argument, as the reference names it per framework
    (r"\bdense_output\b|\bbert_output\b", "output"),  # Keras reserves the attribute `output` (layer name: output)
    (r"\bself\.base_model\b", "self.get_base_model()"),  # a property in torch, a method in Keras (saving walks
                                                        # attributes; a property returning the model recurses)
)
# Arguments that only one framework's signatures carry: Keras layers take training= and **kwargs (name, dtype),
# build() takes input_shape; methods' self / cls.
SKIP_ARGS = {"self", "cls", "training", "kwargs", "input_shape"}
# Keras-only plumbing around shared code: the serialisation registry, the reference's input forms, and build()
# methods that only mark a layer built (its sublayers build on their first call). A build() that creates
# weights is compared without its boundary (its "def build" and "self.built = True" lines): torch creates the
# same weights in __init__.
KERAS_ONLY_DECORATORS = ("keras.saving.register_keras_serializable", "unpack_inputs")
# Calls one framework's lifecycle needs: torch initialises a model's weights after building its modules
# (post_init); Keras creates variables on the first call, so code that touches them builds the model first.
SIDE_ONLY_CALLS = {"torch": ("self.post_init",), "keras": ("self.build", "model.build")}


class OneSided(NamedTuple):
    file: str
    side: str  # "torch" or "keras"
    names: Tuple[str, ...]  # qualified names (after WORDS) of definitions or module-level constants,
                            # e.g. "DebertaPreTrainedModel.compile"
    why: str


class Allowed(NamedTuple):
    file: str
    torch: Tuple[str, ...]  # the skeleton lines of one differing hunk, torch side
    keras: Tuple[str, ...]  # ... and Keras side
    why: str


_KERAS_MODEL_HOOKS = tuple("DebertaPreTrainedModel." + name for name in (
    "dummy_inputs", "build", "get_build_config", "build_from_config", "save", "save_weights", "compile",
    "compile_from_config", "task_loss", "loss_inputs", "compute_loss", "compute_metrics", "predict_step",
    "get_config", "from_config", "serving_outputs", "serving_signature", "_default_save_signature", "export"))
ONE_SIDED: List[OneSided] = [
    OneSided("activations.py", "keras", ("gelu", "mish"),
             "torch.nn.functional has both; TensorFlow's gelu needs approximate=False spelled out and has no mish"),
    OneSided("attention.py", "torch", ("WIDE_BYTES", "scratch", "RelativeTerm"),
             "eager torch inference shares its large [b, h, s, *] intermediates across layers through out= buffers "
             "(glibc hands blocks this large back to the OS, so fresh ones page-fault in every layer) and runs the "
             "relative term as one autograd op on them; TensorFlow allocates from its own pool, XLA plans buffers"),
    OneSided("attention.py", "torch", tuple("DisentangledSelfAttention." + name for name in (
        "__init__.self.freeze_tables", "__init__.self._frozen_tables", "needs_table_gradient",
        "frozen_relative_tables", "set_frozen", "train", "_apply", "_load_from_state_dict")),
             "torch's serving switch (the model's freeze_relative_tables): eval calls read a whole table projected "
             "once, re-projected after a mode change, .to() or load_state_dict; Keras projects per call (a traced "
             "function reads the variables it is given, and XLA folds the projection into the graph)"),
    OneSided("embeddings.py", "keras", ("DebertaEmbeddings.supports_masking", "DebertaEmbeddings.compute_mask"),
             "Keras would take the `mask` argument for a Keras mask and propagate it"),
    OneSided("encoder.py", "torch", ("DebertaOutput.__init__",),
             "nn.Linear needs its input width (intermediate_size); a Keras Dense infers it"),
    OneSided("encoder.py", "torch", ("DebertaEncoder.drop_full_mask",),
             "eager torch drops an all-True mask once per forward, so the layers' fused kernel (SDPA) skips its mask "
             "passes; Keras has one exact path and no fused kernel (see attention.py below)"),
    OneSided("heads.py", "torch", ("DebertaForMaskedLM._init_weights",),
             "torch initialises after construction (the MLM bias to zeros); Keras gives add_weight an initializer"),
    OneSided("heads.py", "keras", tuple(f"{head}.task_loss" for head in (
        "DebertaForMaskedLM", "DebertaForSequenceClassification", "DebertaForTokenClassification",
        "DebertaForQuestionAnswering")),
             "Keras fit() asks the model for the loss of y (each calls the head's one loss function)"),
    OneSided("io.py", "torch", ("TorchPickleReader",),
             "pytorch_model.bin is a torch pickle: only the torch twin can read it (same reader interface)"),
    OneSided("io.py", "keras", ("BASE_PREFIX", "canonical_name", "model_variables"),
             "Keras variables carry paths that are mapped to canonical names; a torch state_dict() already has them"),
    OneSided("io.py", "keras", ("lora_delta",),
             "Keras' own Dense LoRA (enable_lora) keeps the factors beside the kernel; checkpoints hold the merged "
             "kernel. torch LoRA is PEFT's, merged by PEFT (merge_and_unload) before saving"),
    OneSided("mlm.py", "torch", ("MLMDataset",),
             "a torch DataLoader takes an IterableDataset subclass; tf.data builds the dataset from a generator"),
    OneSided("modeling.py", "torch", ("DebertaPreTrainedModel.post_init", "DebertaPreTrainedModel._init_weights",
                                       "DebertaPreTrainedModel.set_input_embeddings"),
             "torch initialises every module after construction and swaps the embedding module to resize it; Keras "
             "layers take initializers and resize the table in place (utils.Embedding.resize)"),
    OneSided("modeling.py", "torch", tuple("DebertaPreTrainedModel." + name for name in (
        "main_input_name", "supports_gradient_checkpointing", "_keys_to_ignore_on_save",
        "__init__.self._input_require_grads_hook", "__init__.self._checkpointing_needs_input_grads",
        "enable_input_require_grads", "disable_input_require_grads", "estimate_tokens", "floating_point_ops",
        "activation_checkpointing_enable", "activation_checkpointing_disable")),
             "what transformers.Trainer, accelerate and PEFT read off or call on a torch model; Keras tools have "
             "no such protocol"),
    OneSided("modeling.py", "keras", ("LORA_TARGETS", "DEFAULT_LORA_TARGETS", "LoraSettings",
                                       "DebertaPreTrainedModel.__init__.self.lora_settings",
                                       "DebertaPreTrainedModel.enable_lora", "DebertaPreTrainedModel.lora_layers"),
             "LoRA through Keras 3's own Dense.enable_lora (the keras-hub API); torch users adapt with PEFT, which "
             "wraps the model from outside"),
    OneSided("modeling.py", "torch", ("DebertaPreTrainedModel.freeze_relative_tables",
                                       "DebertaPreTrainedModel.unfreeze_relative_tables", "FrozenRelativeTables"),
             "torch's serving switch for the relative tables (attention.py above); the Keras twin projects per call"),
    OneSided("modeling.py", "keras", ("DebertaPreTrainedModel.__call__",),
             "Keras' __call__ takes only tensors and arrays in its first argument: nested Python lists, which call() "
             "accepts like the reference's TF classes, become arrays first; torch modules take tensors only"),
    OneSided("modeling.py", "keras", ("refuse_overwrite",),
             "Keras' save / save_weights take overwrite= (and would prompt); torch's save_pretrained replaces the "
             "checkpoint as a whole (both all-or-nothing)"),
    OneSided("modeling.py", "keras", _KERAS_MODEL_HOOKS,
             "Keras building, compile()/fit() hooks, serialisation (.keras) and SavedModel export: Keras API with "
             "no torch counterpart"),
]
ALLOWED: List[Allowed] = [
    # ---- attention.py: the fast paths (issue 10). Both twins compute c2p / p2c the same gather-free way (one
    # product against the projected table, then a relative shift over it widened for clamping, see
    # deberta_core.relative_position); torch adds eager-only buffer reuse, kept tables and the fused kernel.
    Allowed("attention.py",
            ("workspace =", "def build_relative_positions(seq_len, max_relative_positions, workspace)",
             "# A branch rather than min(): under torch.export a symbolic min() leaves guards (s - min(span, s) == 0) "
             "that", "# the solver cannot discharge, where the comparison resolves from the sequence dimension's range."),
            ("# scalar int32 (Keras passes only tensors between layers)",
             "def build_relative_positions(seq_len, max_relative_positions)"),
            "torch carries the eager buffer workspace and keeps the span a Python int (torch.export needs the branch); "
            "Keras passes only tensors between layers, so the span is a scalar tensor"),
    Allowed("attention.py", ("def extend_span(table, seq_len, out)",), ("def extend_span(table, seq_len)", "shape ="),
            "torch widens into a reused out= buffer; TensorFlow reads static-or-dynamic dimensions (shape_list) where "
            "torch's .shape is always concrete or symbolic"),
    Allowed("attention.py", (), ("shape =",), "(shape_list, as above, in relative_shift)"),
    Allowed("attention.py", ("def relative_term(rows, table, batch, offset, workspace, name)", "if", "return"),
            ("def relative_term(rows, table, offset)",),
            "torch: eager calls run the term as one autograd op on the workspace buffers (RelativeTerm), and the rows "
            "are [g, b*s, d] per-head GEMM operands, so the batch is passed; Keras' batched matmul takes [b, h, s, d]"),
    Allowed("attention.py", ("# [g, b, s, 2a]",), ("# [b, h, s, 2a]",),
            "torch's products are head-major (one GEMM per head over all b * s rows); Keras' are batch-major"),
    Allowed("attention.py", ("# [g, b, s, s]",), ("# [b, h, s, s]",), "(head-major / batch-major, as above)"),
    Allowed("attention.py", ("# in place: the sum is fresh and neither op saves it for backward",), (),
            "torch divides in place (TensorFlow tensors are immutable)"),
    Allowed("attention.py",
            ("# Fused kernel with the disentangled bias as an additive mask. Fully masked query rows come out of",
             "# the softmax uniform; zeroing their context gives exactly what the eager path computes. No mask",
             "# (the encoder drops it when nothing is masked in an eager call) skips both passes.", "else",
             "masked =", "if", "bias =", "bias =", "else", "bias =", "# [b, h, s, s], fresh (disentangled_att_bias)",
             "if", "bias =", "context_layer =", "# [b, h, s, d]", "attention_probs =", "if", "context_layer =",
             "# An explicit contiguous copy: the fused kernel may hand back [b, s, h, d] memory, and exporters that",
             "# decompose it must not be left with a view recorded against the other layout."),
            (), "torch's fused-kernel path (scaled_dot_product_attention; TensorFlow has none, see above), which "
            "eager calls run without the mask passes when nothing is masked (the encoder's drop_full_mask)"),
    Allowed("attention.py", ("(batch, heads, seq_len, _) =", "(att_span, workspace) ="),
            ("seq_len =", "att_span =", "# a Python int when the length is static", "att_span ="),
            "torch's span is a Python int and the workspace comes with it; Keras' span is a tensor, static when the "
            "length is"),
    Allowed("attention.py",
            ("queries =", "# [h, b*s, d], a view of the projection's layout", "keys =",
             "# The summed score is what the fused kernel keeps for backward: a shared buffer only with autograd off.",
             "score =", "# [h, b, s, s]", "group =", "if",
             "# Torch only: clamped terms read products widened to [h, b, s, 2s]; eager inference widens a few heads",
             "# at a time (reusing the buffers for the next heads and layers), so they stay within WIDE_BYTES.",
             "group =", "while", "# equal groups: the buffers keep their shape", "group =", "for start", "rows ="),
            (),
            "torch: per-head GEMM operands as views of the projection's layout, the score in a shared buffer in "
            "eager inference, and clamped terms a few heads at a time so the widened products stay bounded (torch "
            "materialises them; XLA fuses the widening into the slices)"),
    Allowed("attention.py",
            ("# [g, b, s, s]: query i, key j", "if", "score_rows =", "else", "term =", "score_rows ="),
            ("# [b, h, s, s]: query i, key j",),
            "torch writes the sum (or the one term) into the group's rows of the score buffer"),
    Allowed("attention.py", (), ("else", "score ="), "(Keras: the sum, or the one term, is the score)"),
    Allowed("attention.py", ("# [b, h, s, s], fresh (the terms are views of reused buffers)",), ("# [b, h, s, s]",),
            "torch's terms are views of reused buffers, so it says the score is fresh"),
    Allowed("attention.py",
            ("if", "device =", "# frozen tables keep the weights' dtype; autocast calls cast the window", "dtype =",
             "tables =", "return"), (),
            "torch reads the frozen tables when the user froze them and no gradient can reach them (ONE_SIDED above)"),
    Allowed("attention.py", ("self.q_bias =", "self.v_bias ="), (),
            "torch creates q_bias / v_bias in __init__, Keras in build() (after the sublayers)"),
    Allowed("attention.py", (), ("self.q_bias =", "self.v_bias ="), "(the other half of the entry above)"),
    Allowed("attention.py", (), ("head_width =", "# static, so traced shapes keep d"),
            "Keras reshapes with the static head width so traced shapes keep d; torch's view(.., -1) keeps it"),
    Allowed("attention.py",
            ("# Biases follow the projection's dtype (under autocast they would otherwise promote q and v to fp32).",),
            (), "torch autocast only (Keras casts through the dtype policy)"),
    Allowed("attention.py",
            ("if", "# Exact eager path: masked keys get probability 0, fully masked query rows all-zero attention."),
            ("# One exact path (no fused kernel in TF): masked keys get probability 0, fully masked query rows",
             "# all-zero attention. Scores and softmax in float32 whatever the compute dtype."),
            "torch has a fused kernel (scaled_dot_product_attention) next to the exact path; TensorFlow has none"),
    Allowed("attention.py", ("def __init__(config, input_size)",), ("def __init__(config)",),
            "nn.Linear needs its input width (DebertaOutput reuses the block); a Keras Dense infers it"),
    Allowed("attention.py", (),
            ("# torch's ``self.output``: Keras reserves ``output`` (and its saving skips it), so the attribute has "
             "the", "# reference TF twin's name; the layer name, hence the weight names, is ``output``."),
            "explains the dense_output attribute name (WORDS maps it)"),
    # ---- embeddings.py
    Allowed("embeddings.py", (), ("hidden_states =", "(mean, variance) =", "normed ="),
            "DebertaLayerNorm: torch calls F.layer_norm on float32 inputs; Keras has no functional layer norm"),
    Allowed("embeddings.py", (), ("# The sublayers build on their first call. Keras only: without position_biased_input, only the enhanced",
                                  "# mask decoder reads the position table, outside this layer's call (torch creates every parameter in",
                                  "# __init__), so it is built here, by a call, in this layer's name scope (the variable path names it).",
                                  "if", "call self.position_embeddings"),
            "torch creates the enhanced mask decoder's position table in __init__; a Keras layer creates its variables on "
            "its first call, which the embeddings' own call never makes when position_biased_input is off"),
    # ---- encoder.py
    Allowed("encoder.py", (),
            ("# torch's ``self.output`` (see DebertaAttention.output); the reference TF twin's attribute name.",),
            "explains the bert_output attribute name (WORDS maps it)"),
    Allowed("encoder.py", ("self.rel_embeddings =",), ("self.rel_embeddings_shape =", "self.rel_embeddings_initializer ="),
            "rel_embeddings: an nn.Embedding in torch (its weight is the checkpoint's), a bare variable created in "
            "build() in Keras (the reference h5 stores it so; next entry)"),
    Allowed("encoder.py",
            ("# torch.utils.checkpoint options (set by the model's gradient_checkpointing_enable).",
             "self.checkpoint_kwargs =", "self.checkpoint_offload ="),
            ("if", "# The reference's name: a variable of the encoder, not an Embedding layer.", "self.rel_embeddings ="),
            "torch: torch.utils.checkpoint's options (use_reentrant, ...) and host offload on accelerators, which "
            "Keras' recompute_grad has no counterpart for; Keras: build() creates rel_embeddings (previous entry)"),
    Allowed("encoder.py",
            ("# Torch only: eager calls share one set of attention buffers across the layers (see scratch()).",
             "eager ="), (), "the eager buffer workspace (attention.scratch, ONE_SIDED above)"),
    Allowed("encoder.py", ("attention_mask =",), (), "(drop_full_mask, ONE_SIDED above; forward and the decoder)"),
    # ---- heads.py
    Allowed("heads.py", (), ("self.vocab_size =",),
            "the MLM bias: an nn.Parameter sized in __init__ in torch, a Keras weight sized in build()"),
    Allowed("heads.py", ("old =", "new =", "keep =", "new[:keep] ="), (),
            "resizing the MLM bias: torch builds a new Parameter; Keras resizes the variable (utils.resize_variable)"),
    Allowed("heads.py", ("head.bias =",), ("call resize_variable", "head.vocab_size ="), "(the same)"),
    # ---- io.py
    Allowed("io.py", ("if", "return"), (), "open_reader: torch reads a pickle itself ..."),
    Allowed("io.py", (), ("if", "raise"), "... deberta_tf refuses one (reading it needs torch)"),
    Allowed("io.py", ("call model.load_state_dict",),
            ("variables =", "for (name, array)", "call variables[name].assign"),
            "torch loads a state dict in one call; Keras assigns variable by variable"),
    Allowed("io.py", (), ("deltas =", "out =", "for (name, variable)", "array =", "out[name] ="),
            "model_weights: Keras gives a LoRA-adapted kernel merged (lora_delta); torch's state_dict() is the checkpoint"),
    Allowed("io.py", ("def save_weights(model, folder, safe_serialization, state_dict)",), ("def save_weights(model, folder)",),
            "the reference torch API saves safetensors or pytorch_model.bin, and a given state_dict (transformers' "
            "Trainer passes one); the TF one writes tf_model.h5 only"),
    Allowed("io.py", ("state_dict =", "state =", "path =", "with", "if", "call save_file", "else", "call torch.save"), (),
            "torch writes with torch's own writers (they keep dtypes NumPy lacks, such as bfloat16); Keras through "
            "the core's write_tf_h5, in the return line"),
    # ---- mlm.py
    Allowed("mlm.py", (), ("names =", "def generate()", "for batch", "Expr", "signature =", "dataset ="),
            "tf.data.Dataset.from_generator needs the generator and its output signature; torch's MLMDataset "
            "iterates the batches itself (ONE_SIDED above)"),
    # ---- modeling.py
    Allowed("modeling.py", ("call register_model_output_pytree",), (),
            "torch.export / torch.compile need ModelOutput registered as a pytree"),
    Allowed("modeling.py", ("@property", "def base_model()"), ("def get_base_model()",),
            "a property in torch; a method in Keras, whose saving walks attributes (a property returning the model "
            "itself recurses)"),
    Allowed("modeling.py", ("old =",), ("embeddings =",), "resize_token_embeddings: torch swaps the module ..."),
    Allowed("modeling.py",
            ("new =", "call self._init_weights", "keep =", "with", "new.weight[:keep] =",
             "call self.set_input_embeddings"),
            ("call embeddings.resize",), "... Keras resizes the table in place (utils.Embedding.resize)"),
    Allowed("modeling.py", ("model =", "call model.eval", "if"), (),
            "from_pretrained: torch_dtype casts after loading and torch returns eval mode (Keras: dtype policy at "
            "construction, training= per call)"),
    Allowed("modeling.py",
            ("def gradient_checkpointing_enable(gradient_checkpointing_kwargs, every_n_layers, offload)",),
            ("def gradient_checkpointing_enable(every_n_layers)",),
            "torch.utils.checkpoint takes options (use_reentrant, ...) and can offload to the host; Keras' "
            "recompute_grad takes none"),
    Allowed("modeling.py", ("kwargs =",), (), "(the torch checkpoint options, above)"),
    Allowed("modeling.py",
            ("encoder.checkpoint_kwargs =", "encoder.checkpoint_offload =", "if", "call self.enable_input_require_grads",
             "self._checkpointing_needs_input_grads ="), (),
            "torch: the options reach the encoder; reentrant checkpointing needs the embeddings' output to require "
            "grad or adapters behind frozen embeddings get none (PEFT)"),
    Allowed("modeling.py",
            ("if", "# the hook it added, not one the user asked for", "call self.disable_input_require_grads",
             "self._checkpointing_needs_input_grads ="), (), "(undone by gradient_checkpointing_disable)"),
    Allowed("modeling.py", ("embedding_weights =",), ("variables =", "if", "encoder =", "tables =", "tables =", "variables ="),
            "num_parameters: torch finds the nn.Embedding weights among its parameters; Keras counts its built "
            "variables, rel_embeddings being a bare variable of the encoder"),
    Allowed("modeling.py", ("def save_pretrained(save_directory, safe_serialization, state_dict, is_main_process)",),
            ("def save_pretrained(save_directory)",),
            "see io.save_weights; transformers.Trainer and accelerate pass state_dict / is_main_process"),
    Allowed("modeling.py", ("if", "(own, given) =", "if", "raise", "if", "return"), (),
            "(the given state_dict must hold this model's keys; other ranks write nothing)"),
    Allowed("modeling.py", ("device =",), (), "torch creates the default mask on the inputs' device"),
]


# ---------------------------------------------------------------------------------------------------- skeleton
def _words(text: str) -> str:
    for pattern, spelling in WORDS:
        text = re.sub(pattern, spelling, text)
    return text


def _is_marker_build(node: ast.AST) -> bool:
    """A Keras build() whose whole body is ``self.built = True``."""
    return (isinstance(node, ast.FunctionDef) and node.name == "build" and len(node.body) == 1
            and isinstance(node.body[0], ast.Assign) and ast.unparse(node.body[0]) == "self.built = True")


def skeleton(path: pathlib.Path, side: str, one_sided: Dict[str, str]) -> List[str]:
    """One line per statement and comment of ``path``, framework words mapped, one-sided definitions dropped."""
    source = path.read_text()
    items: List[Tuple[float, str]] = []
    dropped: List[Tuple[int, int]] = []  # line ranges whose comments go with a dropped definition

    def add(node: ast.AST, text: str) -> None:
        items.append((node.lineno, _words(text)))

    def visit(body: Sequence[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Expr) and isinstance(getattr(node.value, "value", None), str):
                continue  # docstrings describe each framework in its own words
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                qualified = _words(prefix + node.name)
                keras_plumbing = side == "keras" and _is_marker_build(node)
                if qualified in one_sided or keras_plumbing:
                    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    dropped.append((first, node.end_lineno))
                    one_sided.pop(qualified, None)
                    continue
                for decorator in node.decorator_list:
                    text = ast.unparse(decorator)
                    if not (side == "keras" and text.startswith(KERAS_ONLY_DECORATORS)):
                        add(decorator, "@" + text)
                if isinstance(node, ast.ClassDef):
                    add(node, f"class {node.name}")
                    visit(node.body, qualified + ".")
                    continue
                arguments = node.args
                names = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
                names += ["*" + arguments.vararg.arg] if arguments.vararg else []
                names += ["**" + arguments.kwarg.arg] if arguments.kwarg else []
                if not (side == "keras" and node.name == "build"):
                    add(node, f"def {node.name}({', '.join(n for n in names if n.lstrip('*') not in SKIP_ARGS)})")
                visit(node.body, qualified + ".")
            elif isinstance(node, ast.Assign):
                targets = " = ".join(ast.unparse(target) for target in node.targets)
                if side == "keras" and targets == "self.built" and prefix.endswith(".build."):
                    continue
                if _words(prefix + targets) in one_sided:
                    dropped.append((node.lineno, node.end_lineno))
                    one_sided.pop(_words(prefix + targets))
                    continue
                add(node, targets + " =")
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                add(node, ast.unparse(node.target) + " =")
            elif isinstance(node, ast.Return):
                add(node, "return")
            elif isinstance(node, ast.Raise):
                add(node, "raise")
            elif isinstance(node, ast.If):
                add(node, "if")
                visit(node.body, prefix)
                if node.orelse:
                    items.append((node.orelse[0].lineno - 0.1, "else"))
                    visit(node.orelse, prefix)
            elif isinstance(node, ast.For):
                add(node, f"for {ast.unparse(node.target)}")
                visit(node.body, prefix)
            elif isinstance(node, (ast.While, ast.With)):
                add(node, type(node).__name__.lower())
                visit(node.body, prefix)
            elif isinstance(node, ast.Try):
                add(node, "try")
                visit(node.body, prefix)
                for handler in node.handlers:
                    add(handler, "except")
                    visit(handler.body, prefix)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                function = ast.unparse(node.value.func)
                if function not in SIDE_ONLY_CALLS[side]:
                    add(node, "call " + function)
            else:
                add(node, type(node).__name__)

    visit(ast.parse(source, str(path)).body, "")
    lines = source.splitlines()
    for index, (first, last) in enumerate(dropped):  # the comment block right above a dropped definition goes too
        while first > 1 and lines[first - 2].lstrip().startswith("#"):
            first -= 1
        dropped[index] = (first, last)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and not any(a <= token.start[0] <= b for a, b in dropped):
            items.append((token.start[0] + 0.5, _words(" ".join(token.string.split()))))
    return [text for _, text in sorted(items, key=lambda item: item[0])]


def differing_hunks(name: str, one_sided_used: set) -> List[Tuple[Tuple[str, ...], Tuple[str, ...]]]:
    sides = {}
    for side, folder in (("torch", TORCH), ("keras", KERAS)):
        wanted = {qualified: entry.why for entry in ONE_SIDED if entry.file == name and entry.side == side
                  for qualified in entry.names}
        left = dict(wanted)
        sides[side] = skeleton(folder / name, side, left)
        one_sided_used.update((name, side, qualified) for qualified in wanted if qualified not in left)
    matcher = difflib.SequenceMatcher(a=sides["torch"], b=sides["keras"], autojunk=False)
    return [(tuple(sides["torch"][i1:i2]), tuple(sides["keras"][j1:j2]))
            for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


TWIN_FILES = sorted(p.name for p in TORCH.glob("*.py") if p.name not in NOT_TWINS)


# ---------------------------------------------------------------------------------------------------- tests
def test_the_twins_have_the_same_files():
    assert sorted(p.name for p in TORCH.glob("*.py")) == sorted(p.name for p in KERAS.glob("*.py"))


@pytest.mark.parametrize("name", TWIN_FILES)
def test_twin_files_differ_only_where_allowed(name):
    unexplained = [hunk for hunk in differing_hunks(name, set())
                   if not any(entry.file == name and (entry.torch, entry.keras) == hunk for entry in ALLOWED)]
    report = "\n".join(
        f"  Allowed({name!r}, torch={torch!r},\n          keras={keras!r}, why=...)" for torch, keras in unexplained)
    assert not unexplained, f"{name}: the twins differ where no allow-list entry says why:\n{report}"


def test_every_allow_list_entry_is_still_needed():
    one_sided_used: set = set()
    hunks = {name: set(differing_hunks(name, one_sided_used)) for name in TWIN_FILES}
    stale = [entry for entry in ALLOWED if (entry.torch, entry.keras) not in hunks.get(entry.file, set())]
    stale += [(entry.file, entry.side, qualified) for entry in ONE_SIDED for qualified in entry.names
              if (entry.file, entry.side, qualified) not in one_sided_used]
    assert not stale, f"allow-list entries that match nothing any more (remove them): {stale}"
