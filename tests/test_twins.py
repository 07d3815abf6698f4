"""The twins stay twins: every deberta_torch/X.py and deberta_tf/X.py pair, compared statement by statement.

Expressions are framework code by nature (``mask.squeeze(1)`` is ``tf.squeeze(mask, axis=1)``), so each file is
reduced to what docs/architecture.md ("Conventions": parallel twins) promises to keep equal, one line per statement, in order:
classes, functions and their arguments, assigned names, control flow, called functions, returns and raises, and
every comment. Framework words get one spelling first (``WORDS``) and Keras-only plumbing is dropped.

Whatever still differs is on the allow-list, ``ALLOWED``: at most ``MAX_ENTRIES`` entries, each a key and its
reason, naming definitions one framework needs and the other has built in, definitions whose bodies differ
(compared by name and place), or marking single statements in the source with ``# twin: KEY``. An entry or a
name that matches nothing fails, and so does a marker with no entry, so the list stays short and true.

``utils.py`` and ``kernels.py`` are left out: by design the homes of what one framework lacks and of how each
computes attention's contracts (docs/architecture.md, "The twins' differences"). Reads the sources only (no framework is imported): fast,
and runs in ``make test``.
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
# One-sided by design: utils.py holds what one framework lacks; kernels.py computes attention.py's two contracts
# (relative_scores, attend) the framework's own fast way (torch: per-head GEMMs on shared eager buffers, a fused
# kernel; Keras: batched matmuls, one exact path).
NOT_TWINS = ("utils.py", "kernels.py")

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


class Entry(NamedTuple):
    """One allowed difference, with its reason. ``torch`` / ``keras``: definitions (or module constants, or
    attributes set in a method: ``Class.__init__.self.name``) that only that side has, as ``file:qualified
    name`` after WORDS; ``bodies``: definitions both sides have whose arguments and bodies differ, compared by
    name and place only; and any statement whose first line ends with the marker ``# twin: KEY`` is left out
    of its side's skeleton, with its body and the comment block right above it."""
    key: str
    why: str
    torch: Tuple[str, ...] = ()
    keras: Tuple[str, ...] = ()
    bodies: Tuple[str, ...] = ()


MARKER = re.compile(r"#\s*twin:\s*([\w-]+)\s*$")
MAX_ENTRIES = 20


def _names(file: str, prefix: str, *names: str) -> Tuple[str, ...]:
    return tuple(f"{file}:{prefix}{name}" for name in names)


ALLOWED: List[Entry] = [
    Entry("keras-activations", "torch.nn.functional has both; TensorFlow's gelu needs approximate=False spelled out "
          "and has no mish", keras=_names("activations.py", "", "gelu", "mish")),
    Entry("frozen-tables", "torch's serving switch (model.freeze_relative_tables): eval calls read a whole relative "
          "table projected once, re-projected after a mode change, .to() or load_state_dict; Keras projects per "
          "call (a traced function reads the variables it is given, and XLA folds the projection into the graph)",
          torch=_names("attention.py", "DisentangledSelfAttention.", "__init__.self.freeze_tables",
                       "__init__.self._frozen_tables", "reads_frozen_tables", "frozen_relative_tables", "set_frozen",
                       "train", "_apply", "_load_from_state_dict")
          + _names("modeling.py", "", "DebertaPreTrainedModel.freeze_relative_tables",
                   "DebertaPreTrainedModel.unfreeze_relative_tables", "FrozenRelativeTables")),
    Entry("weights-in-build", "torch creates a layer's weights in __init__ and initialises every module after "
          "construction (post_init, _init_weights); a Keras layer creates them in build(), after its sublayers, "
          "with their initializers, and a layer its own call never reaches is built by a call",
          torch=_names("modeling.py", "DebertaPreTrainedModel.", "post_init", "_init_weights")
          + _names("heads.py", "", "DebertaForMaskedLM._init_weights")),
    Entry("keras-masking", "Keras would take the `mask` argument for a Keras mask and propagate it",
          keras=_names("embeddings.py", "DebertaEmbeddings.", "supports_masking", "compute_mask")),
    Entry("input-width", "nn.Linear needs its input width (intermediate_size for DebertaOutput); a Keras Dense "
          "infers it", torch=_names("encoder.py", "", "DebertaOutput.__init__"),
          bodies=_names("attention.py", "", "DebertaSelfOutput.__init__")),
    Entry("eager-fast-paths", "eager torch calls share one buffer workspace across the layers (kernels.scratch) "
          "and drop an all-True mask once per forward so the fused kernel skips its mask passes; TensorFlow "
          "allocates from its own pool, XLA plans buffers, and Keras has one exact path",
          torch=_names("encoder.py", "", "DebertaEncoder.drop_full_mask")),
    Entry("keras-model-api", "Keras building, compile()/fit() hooks (each head's task_loss), serialisation "
          "(.keras), SavedModel export, save()'s overwrite= prompt, and __call__'s tensors-only first argument: "
          "Keras API with no torch counterpart",
          keras=_names("modeling.py", "DebertaPreTrainedModel.", "__call__", "dummy_inputs", "build",
                       "get_build_config", "build_from_config", "save", "save_weights", "compile",
                       "compile_from_config", "task_loss", "loss_inputs", "compute_loss", "compute_metrics",
                       "predict_step", "get_config", "from_config", "serving_outputs", "serving_signature",
                       "_default_save_signature", "export")
          + _names("modeling.py", "", "refuse_overwrite")
          + tuple(f"heads.py:{head}.task_loss" for head in ("DebertaForMaskedLM", "DebertaForSequenceClassification",
                                                             "DebertaForTokenClassification",
                                                             "DebertaForQuestionAnswering"))),
    Entry("torch-training-tools", "what transformers.Trainer, accelerate and PEFT read off or call on a torch model, "
          "and torch.utils.checkpoint's options (use_reentrant, host offload); Keras tools have no such protocol "
          "and Keras' recompute_grad takes no options",
          torch=_names("modeling.py", "DebertaPreTrainedModel.", "main_input_name", "supports_gradient_checkpointing",
                       "_keys_to_ignore_on_save", "__init__.self._input_require_grads_hook",
                       "__init__.self._checkpointing_needs_input_grads", "enable_input_require_grads",
                       "disable_input_require_grads", "estimate_tokens", "floating_point_ops",
                       "activation_checkpointing_enable", "activation_checkpointing_disable"),
          bodies=_names("modeling.py", "DebertaPreTrainedModel.", "gradient_checkpointing_enable",
                        "gradient_checkpointing_disable")),
    Entry("lora", "LoRA through Keras 3's own Dense.enable_lora (the keras-hub API), its factors merged into the "
          "kernel when saved; torch users adapt with PEFT, which wraps the model from outside and merges itself",
          keras=_names("modeling.py", "", "LORA_TARGETS", "DEFAULT_LORA_TARGETS", "LoraSettings",
                       "DebertaPreTrainedModel.__init__.self.lora_settings", "DebertaPreTrainedModel.enable_lora",
                       "DebertaPreTrainedModel.lora_layers") + _names("io.py", "", "lora_delta")),
    Entry("checkpoint-io", "torch reads pytorch_model.bin (a pickle) and loads a state dict in one call, writing "
          "with torch's own writers (they keep dtypes NumPy lacks); Keras refuses a pickle, maps its variable "
          "paths to canonical names and assigns variable by variable, writing tf_model.h5 through the core",
          torch=_names("io.py", "", "TorchPickleReader"),
          keras=_names("io.py", "", "BASE_PREFIX", "canonical_name", "model_variables"),
          bodies=_names("io.py", "", "open_reader", "assign_weights", "model_weights", "save_weights")),
    Entry("mlm-dataset", "a torch DataLoader takes an IterableDataset subclass; tf.data builds the dataset from a "
          "generator and its output signature", torch=_names("mlm.py", "", "MLMDataset"),
          bodies=_names("mlm.py", "", "mlm_dataset")),
    Entry("layer-norm", "torch calls F.layer_norm on float32 inputs; Keras has no functional layer norm",
          bodies=_names("embeddings.py", "", "DebertaLayerNorm.call")),
    Entry("base-model-accessor", "the base model is a property in torch and a method in Keras, whose saving walks "
          "attributes (a property returning the model itself recurses)"),
    Entry("resize", "resizing the vocabulary: torch builds new modules and Parameters and swaps them in; Keras "
          "resizes its variables in place (utils.Embedding.resize, utils.resize_variable)",
          torch=_names("modeling.py", "", "DebertaPreTrainedModel.set_input_embeddings"),
          bodies=_names("modeling.py", "", "DebertaPreTrainedModel.resize_token_embeddings",
                        "DebertaPreTrainedModel.num_parameters")
          + _names("heads.py", "", "DebertaForMaskedLM._resize_output_bias")),
    Entry("pretrained", "from_pretrained / save_pretrained: torch casts after loading, returns eval mode, and takes "
          "the state_dict / safe_serialization / is_main_process options transformers' Trainer and accelerate pass; "
          "Keras sets dtype by policy and training= per call",
          bodies=_names("modeling.py", "DebertaPreTrainedModel.", "from_pretrained", "save_pretrained")),
    Entry("torch-tracing", "torch.export / torch.compile need ModelOutput registered as a pytree, and torch creates "
          "the default mask on the inputs' device"),
    Entry("static-shapes", "Keras reshapes with static widths so traced shapes keep them; torch's view(.., -1) keeps "
          "them"),
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


def skeleton(path: pathlib.Path, side: str, one_sided: Dict[str, str], bodies: Dict[str, str],
             markers: set) -> List[str]:
    """One line per statement and comment of ``path``, framework words mapped, one-sided definitions dropped,
    the definitions in ``bodies`` reduced to their name, statements marked ``# twin: KEY`` dropped. Pops what it
    used from ``one_sided`` and ``bodies``; adds the marker keys it met to ``markers``."""
    source = path.read_text()
    lines = source.splitlines()
    items: List[Tuple[float, str]] = []
    dropped: List[Tuple[int, int]] = []  # line ranges whose comments go with a dropped definition
    hidden: List[Tuple[int, int]] = []  # line ranges (marked statements, differing bodies) whose comments go too

    def add(node: ast.AST, text: str) -> None:
        items.append((node.lineno, _words(text)))

    def marker(node: ast.AST):
        found = MARKER.search(lines[node.lineno - 1])
        return found.group(1) if found else None

    def visit(body: Sequence[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            key = marker(node)
            if key is not None:
                markers.add(key)
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                hidden.append((first, node.end_lineno))
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
                if qualified in bodies:
                    bodies.pop(qualified)
                    add(node, f"def {node.name}")
                    hidden.append((node.lineno, node.end_lineno))
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
    for ranges in (dropped, hidden):  # the comment block right above a left-out statement goes too
        for index, (first, last) in enumerate(ranges):
            while first > 1 and lines[first - 2].lstrip().startswith("#") and not MARKER.search(lines[first - 2]):
                first -= 1
            ranges[index] = (first, last)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and not any(a <= token.start[0] <= b for a, b in dropped + hidden):
            items.append((token.start[0] + 0.5, _words(" ".join(token.string.split()))))
    return [text for _, text in sorted(items, key=lambda item: item[0])]


def _of_file(names: Tuple[str, ...], name: str) -> List[str]:
    return [qualified.split(":", 1)[1] for qualified in names if qualified.split(":", 1)[0] == name]


def differing_hunks(name: str, used: set) -> List[Tuple[Tuple[str, ...], Tuple[str, ...]]]:
    """The hunks where the two skeletons of ``name`` differ once the allow-list is applied; adds what its entries
    matched to ``used``: ``file:name`` of one-sided definitions and bodies (bodies once per side, as
    ``file:name@side``), and the marker keys met."""
    sides = {}
    for side, folder in (("torch", TORCH), ("keras", KERAS)):
        wanted = {qualified: entry.key for entry in ALLOWED for qualified in _of_file(getattr(entry, side), name)}
        bodies = {qualified: entry.key for entry in ALLOWED for qualified in _of_file(entry.bodies, name)}
        left, bodies_left, markers = dict(wanted), dict(bodies), set()
        sides[side] = skeleton(folder / name, side, left, bodies_left, markers)
        used.update(f"{name}:{qualified}" for qualified in wanted if qualified not in left)
        used.update(f"{name}:{qualified}@{side}" for qualified in bodies if qualified not in bodies_left)
        used.update(markers)
    matcher = difflib.SequenceMatcher(a=sides["torch"], b=sides["keras"], autojunk=False)
    return [(tuple(sides["torch"][i1:i2]), tuple(sides["keras"][j1:j2]))
            for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


TWIN_FILES = sorted(p.name for p in TORCH.glob("*.py") if p.name not in NOT_TWINS)


# ---------------------------------------------------------------------------------------------------- tests
def test_the_twins_have_the_same_files():
    assert sorted(p.name for p in TORCH.glob("*.py")) == sorted(p.name for p in KERAS.glob("*.py"))


@pytest.mark.parametrize("name", TWIN_FILES)
def test_twin_files_differ_only_where_allowed(name):
    unexplained = differing_hunks(name, set())
    report = "\n".join(f"  torch: {torch!r}\n  keras: {keras!r}" for torch, keras in unexplained)
    assert not unexplained, (f"{name}: the twins differ where no allow-list entry says why (add a name or a "
                             f"'# twin: KEY' marker of an entry of ALLOWED):\n{report}")


def test_every_allow_list_entry_is_still_needed():
    used: set = set()
    for name in TWIN_FILES:
        differing_hunks(name, used)
    keys = {entry.key for entry in ALLOWED}
    stale = [qualified for entry in ALLOWED for side in ("torch", "keras") for qualified in getattr(entry, side)
             if qualified not in used]
    stale += [f"{qualified}@{side}" for entry in ALLOWED for qualified in entry.bodies for side in ("torch", "keras")
              if f"{qualified}@{side}" not in used]
    stale += [entry.key for entry in ALLOWED
              if not (entry.torch or entry.keras or entry.bodies) and entry.key not in used]
    unknown = sorted(key for key in used if ":" not in key and key not in keys)
    assert not stale, f"allow-list names or keys that match nothing any more (remove them): {stale}"
    assert not unknown, f"'# twin:' markers in the sources with no entry in ALLOWED: {unknown}"
    assert len(keys) == len(ALLOWED), "two entries share a key"


def test_the_allow_list_stays_short():
    assert len(ALLOWED) <= MAX_ENTRIES, f"{len(ALLOWED)} allow-list entries; keep them at most {MAX_ENTRIES}"
