"""DebertaV2Tokenizer against the reference 4.57 DebertaV2TokenizerFast.

Expectations come from tests/fixtures/spm/cases.json (written by the reference; see its README.md) and from the
reference run here: transformers' own DebertaV2Converter builds the reference pipeline from the model our reader
decoded (the converter needs sentencepiece + protobuf only to read the file, which is the part the fixture cases
check), and transformers' DebertaV2TokenizerFast wraps it as from_pretrained does. Models other than the fixture's
are written by the test with deberta_core.tokenizer.spm_model.serialize.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deberta_core import DebertaTokenizer, DebertaV2Tokenizer, DebertaV2TokenizerFast
from deberta_core.errors import CheckpointError
from deberta_core.tokenizer import spm_model
from deberta_core.tokenizer.spm_model import (
    BPE, CHAR, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, WORD, ModelProto, NormalizerSpec, SentencePiece, TrainerSpec,
)

transformers = pytest.importorskip("transformers")

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "spm")
SPM = os.path.join(FIXTURES, "v3like", "spm.model")
with open(os.path.join(FIXTURES, "cases.json"), encoding="utf-8") as _handle:
    FIXTURE = json.load(_handle)
CASES = FIXTURE["cases"]
OPTIONS = {name: {"do_lower_case": f["do_lower_case"], "split_by_punct": f["split_by_punct"]}
           for name, f in FIXTURE["folders"].items()}
ALL_FIELDS = dict(return_special_tokens_mask=True, return_offsets_mapping=True, return_length=True)
HYPOTHESIS = settings()  # the suite's profile (tests/conftest.py)


# -- the tokenizers under test and the reference --------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """The three fixture folders, hub-like (the option folders get v3like's spm.model: see fixtures/spm/COPY.md)."""
    root = tmp_path_factory.mktemp("spm")
    out = {}
    for name in OPTIONS:
        shutil.copytree(os.path.join(FIXTURES, name), root / name)
        if not (root / name / "spm.model").exists():
            shutil.copy(SPM, root / name / "spm.model")
        out[name] = str(root / name)
    return out


@pytest.fixture(scope="module")
def toks(folders):
    return {name: DebertaV2Tokenizer.from_pretrained(folder) for name, folder in folders.items()}


@pytest.fixture(scope="module")
def tok(toks):
    return toks["v3like"]


def reference(spm_path, do_lower_case=False, split_by_punct=False, **kwargs):
    """transformers 4.57's DebertaV2TokenizerFast as from_pretrained builds it from ``spm_path``."""
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import DebertaV2Converter

    model, _ = spm_model.read_model(spm_path)
    index = {p.piece: i for i, p in enumerate(model.pieces)}
    converter = DebertaV2Converter.__new__(DebertaV2Converter)  # its __init__ only parses the file with protobuf
    converter.original_tokenizer = types.SimpleNamespace(
        do_lower_case=do_lower_case, split_by_punct=split_by_punct, vocab_file=spm_path,
        convert_tokens_to_ids=lambda token: index.get(token, model.trainer_spec.unk_id))
    converter.proto = model
    # The slow class's [UNK] (normalized), which the fast one takes over when it converts.
    return transformers.DebertaV2TokenizerFast(
        tokenizer_object=converter.converted(), do_lower_case=do_lower_case, split_by_punct=split_by_punct,
        unk_token=AddedToken(kwargs.pop("unk_token", "[UNK]"), normalized=True, special=True), model_max_length=512,
        **kwargs)


@pytest.fixture(scope="module")
def refs():
    return {name: reference(SPM, **options) for name, options in OPTIONS.items()}


def plain(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def same(ours, ref, where=""):
    assert list(ours.keys()) == list(ref.keys()), where
    for key in ref.keys():
        assert plain(ours[key]) == plain(ref[key]), f"{where} {key}"


# -- the recorded cases ---------------------------------------------------------------------------------------------

BASIC = ("input_ids", "token_type_ids", "attention_mask")


def run_case(tok, case):
    """The case's call form (cases.json 'call_forms') -> the fields it records."""
    kind = case["kind"]
    if kind == "single":
        enc = tok(case["text"], return_special_tokens_mask=True, return_offsets_mapping=True)
        got = {key: enc[key] for key in BASIC + ("special_tokens_mask",)}
        got["offset_mapping"] = [list(span) for span in enc["offset_mapping"]]
        got["tokens"] = tok.convert_ids_to_tokens(enc["input_ids"])
        got["decoded_skip_special"] = tok.decode(enc["input_ids"], skip_special_tokens=True)
        return got
    if kind == "single_truncated":
        enc = tok(case["text"], truncation=True, max_length=case["max_length"])
    elif kind == "pair":
        enc = tok(case["text"], case["text_pair"])
    elif kind == "pair_truncated":
        enc = tok(case["text"], case["text_pair"], truncation=case["truncation"], max_length=case["max_length"])
    elif kind == "words":
        enc = tok(case["words"], is_split_into_words=True)
        return {"input_ids": enc["input_ids"], "word_ids": enc.word_ids()}
    elif kind == "batch_padded":
        enc = tok(case["texts"], case.get("text_pairs"), padding=True)
    else:
        raise AssertionError(f"unknown fixture kind {kind!r}")
    return {key: enc[key] for key in BASIC}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_fixture_case(case, toks):
    tok = toks[case["folder"]]
    if "error" in case:  # the reference raises (a pair too short for only_first / only_second)
        with pytest.raises(ValueError, match="Sequence to truncate too short"):
            run_case(tok, case)
        return
    got = run_case(tok, case)
    assert got == {key: case[key] for key in got}


def test_the_reference_here_is_the_one_that_wrote_the_cases(refs):
    # The oracle of the other tests (transformers' converter on our decoded model) gives the recorded values.
    for case in CASES:
        if case["kind"] == "single":
            enc = refs[case["folder"]](case["text"], return_offsets_mapping=True)
            assert enc["input_ids"] == case["input_ids"], case["id"]
            assert [list(span) for span in enc["offset_mapping"]] == case["offset_mapping"], case["id"]


def test_layout_and_special_tokens(tok, refs):
    ref = refs["v3like"]
    assert (tok.pad_token_id, tok.cls_token_id, tok.sep_token_id, tok.unk_token_id, tok.mask_token_id) == (0, 1, 2, 3, 8000)
    assert (tok.vocab_size, len(tok)) == (ref.vocab_size, len(ref)) == (8000, 8001)
    assert tok.all_special_tokens == ref.all_special_tokens
    assert tok.all_special_ids == ref.all_special_ids
    assert tok.get_vocab() == ref.get_vocab()
    assert tok.backend_tokenizer.get_added_tokens_decoder() == ref.backend_tokenizer.get_added_tokens_decoder()
    assert DebertaV2TokenizerFast is DebertaV2Tokenizer
    assert "do_lower_case=False" in repr(tok)


# -- the reference on other inputs ------------------------------------------------------------------------------------

_PIECES = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(["[MASK]", " [MASK] ", "[CLS]", "[UNK]", " [UNK]", "[SEP]", " ", "\n", "  ", "\t", "🤗", "日本",
                     "é", "e\u0301", "'s", "\u00a0", "Ｆｕｌｌ", "ﬁ", "Hello,", "(x)", "DON'T", "İ", "ẞ"]),
)
TEXTS = st.lists(_PIECES, max_size=5).map("".join)
FOLDER = st.sampled_from(sorted(OPTIONS))


@HYPOTHESIS
@given(text=TEXTS, folder=FOLDER)
def test_property_single_matches_reference_and_round_trips(text, folder, toks, refs):
    tok, ref = toks[folder], refs[folder]
    same(tok(text, **ALL_FIELDS), ref(text, **ALL_FIELDS), repr(text))
    ids = tok.encode(text, add_special_tokens=False)
    decoded = tok.decode(ids)
    assert decoded == ref.decode(ids)
    if ref.decode(ref.encode(text, add_special_tokens=False)) == text:  # round-trips wherever the reference does
        assert decoded == text


@HYPOTHESIS
@given(text=TEXTS, text_pair=TEXTS.filter(bool), max_length=st.integers(3, 20),
       strategy=st.sampled_from(["longest_first", "only_first", "only_second"]), folder=FOLDER)
def test_property_pairs_and_truncation_match_reference(text, text_pair, max_length, strategy, folder, toks, refs):
    tok, ref = toks[folder], refs[folder]
    same(tok(text, text_pair, **ALL_FIELDS), ref(text, text_pair, **ALL_FIELDS))
    kwargs = dict(truncation=strategy, max_length=max_length, **ALL_FIELDS)
    try:
        expected = ref(text, text_pair, **kwargs)
    except Exception:
        with pytest.raises(ValueError):
            tok(text, text_pair, **kwargs)
        return
    same(tok(text, text_pair, **kwargs), expected)


@HYPOTHESIS
@given(words=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
                      max_size=5), folder=FOLDER)
def test_property_split_words_match_reference(words, folder, toks, refs):
    ours = toks[folder](words, is_split_into_words=True, **ALL_FIELDS)
    expected = refs[folder](words, is_split_into_words=True, **ALL_FIELDS)
    same(ours, expected)
    assert ours.word_ids() == expected.word_ids()


@pytest.mark.parametrize("kwargs", [
    dict(padding=True), dict(padding="max_length", max_length=12, truncation=True), dict(padding_side="left", padding=True),
    dict(truncation=True, max_length=6, stride=2, return_overflowing_tokens=True), dict(pad_to_multiple_of=8, padding=True),
])
def test_batches_match_reference(kwargs, tok, refs):
    texts = ["Hello world", "The capital of France is [MASK].", "naïve café", "", "Who was Jim Henson? He was nice."]
    same(tok(texts, **ALL_FIELDS, **kwargs), refs["v3like"](texts, **ALL_FIELDS, **kwargs))


@pytest.mark.parametrize("tensor_type", ["np", "pt"])
def test_return_tensors_and_alignment(tensor_type, tok, refs):
    ref = refs["v3like"]
    texts = ["Hello world", "Who was Jim Henson?"]
    ours = tok(texts, padding=True, return_tensors=tensor_type)
    expected = ref(texts, padding=True, return_tensors=tensor_type)
    for key in expected:
        assert np.array_equal(np.asarray(ours[key]), np.asarray(expected[key])), key
        assert str(ours[key].dtype) == str(expected[key].dtype), key
    assert ours.word_ids(1) == expected.word_ids(1)
    assert ours.sequence_ids(1) == expected.sequence_ids(1)
    assert ours.tokens(1) == expected.tokens(1)
    assert ours.char_to_token(1, 4) == expected.char_to_token(1, 4)
    assert tuple(ours.token_to_chars(1, 2)) == tuple(expected.token_to_chars(1, 2))


def test_conversions_and_decoding_match_reference(tok, refs):
    ref = refs["v3like"]
    ids = tok("Hello [MASK] world, naïve café!")["input_ids"]
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens == ref.convert_ids_to_tokens(ids)
    assert tok.convert_tokens_to_ids(tokens) == ref.convert_tokens_to_ids(tokens) == ids
    assert tok.convert_tokens_to_string(tokens) == ref.convert_tokens_to_string(tokens)
    assert tok.convert_ids_to_tokens(ids, skip_special_tokens=True) == ref.convert_ids_to_tokens(ids, skip_special_tokens=True)
    assert tok.batch_decode([ids, ids[:3]]) == ref.batch_decode([ids, ids[:3]])
    assert tok.decode(np.asarray(ids), skip_special_tokens=True) == ref.decode(ids, skip_special_tokens=True)
    assert tok.tokenize("Hello world") == ref.tokenize("Hello world")
    assert tok.get_special_tokens_mask(ids, already_has_special_tokens=True) == \
        ref.get_special_tokens_mask(ids, already_has_special_tokens=True)
    assert tok.build_inputs_with_special_tokens([5], [6]) == ref.build_inputs_with_special_tokens([5], [6])
    features = [dict(tok(t)) for t in ("a", "longer text here")]
    same(tok.pad(features), ref.pad(features))


# -- loading and saving -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", sorted(OPTIONS))
def test_save_pretrained_round_trip(folder, toks, tmp_path):
    tok = toks[folder]
    written = tok.save_pretrained(tmp_path)
    assert sorted(os.path.basename(p) for p in written) == [
        "special_tokens_map.json", "spm.model", "tokenizer.json", "tokenizer_config.json"]
    texts = [case.get("text", "") for case in CASES if case["kind"] == "single"]
    expected = tok(texts, **ALL_FIELDS)
    same(DebertaV2Tokenizer.from_pretrained(str(tmp_path))(texts, **ALL_FIELDS), expected)
    # The reference loads the folder (from our tokenizer.json: no sentencepiece needed) to the same ids.
    same(transformers.DebertaV2TokenizerFast.from_pretrained(str(tmp_path))(texts, **ALL_FIELDS), expected)
    same(pickle.loads(pickle.dumps(tok))(texts, **ALL_FIELDS), expected)
    assert tok.save_vocabulary(str(tmp_path), "pre") == (os.path.join(str(tmp_path), "pre-spm.model"),)


def test_added_tokens_json_and_tokenizer_json(folders, tok, tmp_path):
    shutil.copytree(folders["v3like"], tmp_path / "hub")
    (tmp_path / "hub" / "added_tokens.json").write_text(json.dumps({"[MASK]": 8000, "<extra>": 8001}))
    (tmp_path / "hub" / "tokenizer.json").write_text("{}")  # not read: spm.model wins
    loaded = DebertaV2Tokenizer.from_pretrained(str(tmp_path / "hub"))
    assert loaded.convert_tokens_to_ids(["[MASK]", "<extra>"]) == [8000, 8001]
    assert loaded("Hello world")["input_ids"] == tok("Hello world")["input_ids"]


def test_sentencepiece_and_protobuf_are_never_imported():
    code = ("import sys; sys.modules['sentencepiece'] = None; sys.modules['google.protobuf'] = None\n"
            "from deberta_core import DebertaV2Tokenizer\n"
            f"tok = DebertaV2Tokenizer({SPM!r})\n"
            "assert tok('Hello world')['input_ids'] == [1, 135, 144, 106, 221, 2]\n"
            "bad = [m for m in ('sentencepiece', 'google.protobuf', 'transformers', 'torch') if sys.modules.get(m)]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=HERE)


# -- models written by the test -------------------------------------------------------------------------------------

SPECIALS = [SentencePiece("[PAD]", 0.0, CONTROL), SentencePiece("[CLS]", 0.0, CONTROL),
            SentencePiece("[SEP]", 0.0, CONTROL), SentencePiece("[UNK]", 0.0, UNKNOWN)]
WORDS = ["▁", "▁the", "▁The", "the", "▁hello", "▁Hello", "hello", "▁world", "world", "▁wor", "ld", "▁don", "'", "t",
         "▁'", ",", "▁,", "!", "▁!", ".", "▁.", "(", ")", "▁(", "s", "e", "h", "l", "o", "w", "r", "d", "n", "a", "c",
         "T", "H", "W", "D", "O", "N", "é", "▁café", "caf", "1", "2", "▁1"]


def tiny_model(*, model_type=1, byte_fallback=False, charsmap=b"", user_defined=("<url>",), unk_id=3, pieces=None):
    pieces = list(SPECIALS) if pieces is None else pieces
    pieces += [SentencePiece(word, -1.0 - 0.25 * index, NORMAL) for index, word in enumerate(WORDS)]
    pieces += [SentencePiece(word, 0.0, USER_DEFINED) for word in user_defined]
    trainer = TrainerSpec(model_type=model_type, vocab_size=len(pieces), byte_fallback=byte_fallback, unk_id=unk_id,
                          bos_id=1, eos_id=2, pad_id=0, unk_piece="[UNK]", bos_piece="[CLS]", eos_piece="[SEP]",
                          pad_piece="[PAD]")
    name = "nmt_nfkc" if charsmap else "identity"
    return ModelProto(pieces=pieces, trainer_spec=trainer, normalizer_spec=NormalizerSpec(name, charsmap))


def write_model(path, model):
    path.write_bytes(spm_model.serialize(model))
    return str(path)


def test_serialize_and_parse_invert_each_other():
    model, data = spm_model.read_model(SPM)
    assert spm_model.parse_model(spm_model.serialize(model), "x") == model
    assert len(model.pieces) == 8000 and model.normalizer_spec.name == "nmt_nfkc"
    assert model.trainer_spec.pad_id == 0 and TrainerSpec().pad_id == -1  # negative int32 defaults survive


SMALL_TEXTS = ["Hello world", "hello, world!", "HELLO  WORLD", " the (world) ", "don't", "café 12", "ﬁ <url> x",
               "Hello [MASK] world [UNK]", "", "   ", "Ｈello\tworld\n", "Don't, (stop)!"]


@pytest.mark.parametrize("options", [{}, {"do_lower_case": True}, {"split_by_punct": True},
                                     {"do_lower_case": True, "split_by_punct": True}], ids=str)
@pytest.mark.parametrize("charsmap", ["none", "nfkc"])
def test_written_models_match_reference(options, charsmap, tmp_path):
    source = b"" if charsmap == "none" else spm_model.read_model(SPM)[0].normalizer_spec.precompiled_charsmap
    path = write_model(tmp_path / "spm.model", tiny_model(charsmap=source))
    ours, ref = DebertaV2Tokenizer(path, **options), reference(path, **options)
    assert ours.backend_tokenizer.get_added_tokens_decoder() == ref.backend_tokenizer.get_added_tokens_decoder()
    for text in SMALL_TEXTS:
        same(ours(text, **ALL_FIELDS), ref(text, **ALL_FIELDS), repr(text))
        ids = ours.encode(text)
        assert ours.decode(ids) == ref.decode(ids)
    same(ours(SMALL_TEXTS[:4], SMALL_TEXTS[4:8], padding=True, **ALL_FIELDS),
         ref(SMALL_TEXTS[:4], SMALL_TEXTS[4:8], padding=True, **ALL_FIELDS))


def test_a_model_that_holds_the_mask_and_other_special_pieces(tmp_path):
    # [MASK] as a control piece of the model: no token is appended, the piece's id is used.
    pieces = list(SPECIALS) + [SentencePiece("[MASK]", 0.0, CONTROL)]
    path = write_model(tmp_path / "spm.model", tiny_model(pieces=pieces))
    ours, ref = DebertaV2Tokenizer(path), reference(path)
    assert ours.mask_token_id == ref.mask_token_id == 4
    assert len(ours) == len(ref)
    same(ours("Hello [MASK] world", **ALL_FIELDS), ref("Hello [MASK] world", **ALL_FIELDS))


# -- bad input ------------------------------------------------------------------------------------------------------


def _corrupt(data: bytes) -> bytes:
    return data[:200] + b"\xff" * 12 + data[212:]


@pytest.mark.parametrize("content", [
    pytest.param(b'{"version": "1.0"}', id="json", marks=pytest.mark.bad_input(
        "spm.model that is not a SentencePiece model (a JSON file)", CheckpointError,
        "is not a valid SentencePiece model (expected a spm.model protobuf ModelProto)")),
    pytest.param(None, id="truncated", marks=pytest.mark.bad_input(
        "spm.model truncated", CheckpointError, "runs past the end of its message")),
    pytest.param(b"", id="empty", marks=pytest.mark.bad_input(
        "spm.model empty", CheckpointError, "with at least one piece, got 0 bytes and no pieces")),
    pytest.param(_corrupt, id="corrupted", marks=pytest.mark.bad_input(
        "spm.model with corrupted bytes", CheckpointError, "is not a valid SentencePiece model")),
])
def test_bad_model_files_are_clear_errors(content, tmp_path, expect_bad_input):
    with open(SPM, "rb") as handle:
        data = handle.read()
    if content is None:
        content = data[: len(data) // 2]
    elif callable(content):
        content = content(data)
    path = tmp_path / "spm.model"
    path.write_bytes(content)
    with expect_bad_input():
        DebertaV2Tokenizer(str(path))
    with pytest.raises(CheckpointError, match="spm.model"):
        DebertaV2Tokenizer(str(path))


@pytest.mark.parametrize("model_type", [
    pytest.param(BPE, id="bpe", marks=pytest.mark.bad_input(
        "spm.model of a BPE SentencePiece model", CheckpointError, "is a SentencePiece BPE model")),
    pytest.param(WORD, id="word", marks=pytest.mark.bad_input(
        "spm.model of a WORD SentencePiece model", CheckpointError, "is a SentencePiece WORD model")),
    pytest.param(CHAR, id="char", marks=pytest.mark.bad_input(
        "spm.model of a CHAR SentencePiece model", CheckpointError, "is a SentencePiece CHAR model")),
])
def test_model_types_other_than_unigram_are_refused(model_type, tmp_path, expect_bad_input):
    path = write_model(tmp_path / "spm.model", tiny_model(model_type=model_type))
    with expect_bad_input():
        DebertaV2Tokenizer(path)


@pytest.mark.bad_input("spm.model trained with byte_fallback=True", CheckpointError, "was trained with byte_fallback=True")
def test_byte_fallback_is_refused(tmp_path, expect_bad_input):
    pieces = list(SPECIALS) + [SentencePiece(f"<0x{byte:02X}>", 0.0, spm_model.BYTE) for byte in range(256)]
    path = write_model(tmp_path / "spm.model", tiny_model(byte_fallback=True, pieces=pieces))
    with expect_bad_input():
        DebertaV2Tokenizer(path)


@pytest.mark.bad_input("spm.model whose unk_id is not its UNKNOWN piece", CheckpointError,
                       "trainer_spec.unk_id is 1, expected the id of the model's UNKNOWN piece")
def test_unk_id_must_name_the_unknown_piece(tmp_path, expect_bad_input):
    with expect_bad_input():
        DebertaV2Tokenizer(write_model(tmp_path / "spm.model", tiny_model(unk_id=1)))


@pytest.mark.bad_input("spm.model listing a piece twice", CheckpointError, "is listed twice")
def test_duplicate_pieces_are_refused(tmp_path, expect_bad_input):
    with expect_bad_input():
        DebertaV2Tokenizer(write_model(tmp_path / "spm.model", tiny_model(user_defined=("▁the",))))


@pytest.mark.bad_input("a V2 tokenizer folder without spm.model", FileNotFoundError, "DebertaV2Tokenizer reads the "
                       "SentencePiece model (a tokenizer.json alone is not read)")
def test_missing_spm_model_is_a_clear_error(tmp_path, expect_bad_input):
    (tmp_path / "tokenizer.json").write_text("{}")
    with expect_bad_input():
        DebertaV2Tokenizer.from_pretrained(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="absent.model"):
        DebertaV2Tokenizer(str(tmp_path / "absent.model"))


@pytest.mark.bad_input("a V2 special token the SentencePiece vocabulary lacks", ValueError,
                       "pad_token '<pad>' is not in the vocabulary of")
def test_special_tokens_missing_from_the_vocabulary(tmp_path, expect_bad_input):
    with expect_bad_input():
        DebertaV2Tokenizer(SPM, pad_token="<pad>")


@pytest.mark.bad_input("added_tokens.json giving an id that does not follow the vocabulary", ValueError,
                       "added token '<extra>' is given id 9000, expected 8001")
def test_added_token_ids_must_follow_the_vocabulary(folders, tmp_path, expect_bad_input):
    shutil.copytree(folders["v3like"], tmp_path / "hub")
    (tmp_path / "hub" / "added_tokens.json").write_text(json.dumps({"[MASK]": 8000, "<extra>": 9000}))
    with expect_bad_input():
        DebertaV2Tokenizer.from_pretrained(str(tmp_path / "hub"))


def test_bad_options_are_clear_errors(tok):
    with pytest.raises(TypeError, match="do_lower_case must be a bool"):
        DebertaV2Tokenizer(SPM, do_lower_case="yes")
    with pytest.raises(ValueError, match="add_prefix_space=False is not supported"):
        tok("x", add_prefix_space=False)
    with pytest.raises(ValueError, match=r"max_length=2 is too small.*need 3"):
        tok("a", "b", truncation=True, max_length=2)
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 8001\)"):
        tok.decode([8001])


def test_v1_tokenizer_is_unchanged_by_the_shared_base():
    assert DebertaTokenizer()("Hello world")["input_ids"] == [1, 31414, 232, 2]
