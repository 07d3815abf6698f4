"""The SentencePiece model file (``spm.model``) read and written without ``sentencepiece`` or ``protobuf``.

The file is one protobuf message, ``ModelProto`` of sentencepiece's ``sentencepiece_model.proto``; this module
decodes its wire format (varints, 32/64-bit fixed fields, length-delimited fields) for the fields a tokenizer
needs and skips the others:

- ``pieces`` (field 1, repeated): ``piece`` (1, str), ``score`` (2, float), ``type`` (3, enum: NORMAL 1, UNKNOWN 2,
  CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6);
- ``trainer_spec`` (2): ``model_type`` (3: UNIGRAM 1, BPE 2, WORD 3, CHAR 4), ``vocab_size`` (4),
  ``byte_fallback`` (35), ``unk_id`` / ``bos_id`` / ``eos_id`` / ``pad_id`` (40-43), ``unk_piece`` /
  ``bos_piece`` / ``eos_piece`` / ``pad_piece`` (45-48), ``split_digits`` (25), ``treat_whitespace_as_suffix`` (24);
- ``normalizer_spec`` (3) and ``denormalizer_spec`` (5): ``name`` (1), ``precompiled_charsmap`` (2, bytes),
  ``add_dummy_prefix`` (3), ``remove_extra_whitespaces`` (4), ``escape_whitespaces`` (5),
  ``normalization_rule_tsv`` (6).

Defaults are the proto's (a field absent from the file takes them). Anything the wire format cannot hold
(a truncated message, a bad wire type, a piece that is not UTF-8, an empty vocabulary) raises
:class:`~deberta_core.errors.CheckpointError` naming the file and the byte offset. ``serialize`` writes the same
fields back (used by the tests and the benchmark to build models; ``save_pretrained`` copies the original bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..errors import CheckpointError
from ..files import SPM_NAME


# SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
PIECE_TYPES = {NORMAL: "NORMAL", UNKNOWN: "UNKNOWN", CONTROL: "CONTROL", USER_DEFINED: "USER_DEFINED",
               UNUSED: "UNUSED", BYTE: "BYTE"}
# TrainerSpec.ModelType
UNIGRAM, BPE, WORD, CHAR = 1, 2, 3, 4
MODEL_TYPES = {UNIGRAM: "UNIGRAM", BPE: "BPE", WORD: "WORD", CHAR: "CHAR"}

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


@dataclass
class SentencePiece:
    """One vocabulary entry: its string, its log-probability score (Unigram) or rank (BPE) and its type."""

    piece: str = ""
    score: float = 0.0
    type: int = NORMAL


@dataclass
class TrainerSpec:
    """The trainer options a tokenizer needs (the proto's names and defaults)."""

    model_type: int = UNIGRAM
    vocab_size: int = 8000
    byte_fallback: bool = False
    split_digits: bool = False
    treat_whitespace_as_suffix: bool = False
    unk_id: int = 0
    bos_id: int = 1
    eos_id: int = 2
    pad_id: int = -1
    unk_piece: str = "<unk>"
    bos_piece: str = "<s>"
    eos_piece: str = "</s>"
    pad_piece: str = "<pad>"


@dataclass
class NormalizerSpec:
    """The normalization of the text before the model (the proto's names and defaults)."""

    name: str = ""
    precompiled_charsmap: bytes = b""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True
    normalization_rule_tsv: str = ""


@dataclass
class ModelProto:
    """A SentencePiece model: the pieces in id order, the trainer spec and the normalizer spec (the names of the
    protobuf message, so code written against ``sentencepiece_model_pb2`` reads it the same way)."""

    pieces: List[SentencePiece] = field(default_factory=list)
    trainer_spec: TrainerSpec = field(default_factory=TrainerSpec)
    normalizer_spec: NormalizerSpec = field(default_factory=NormalizerSpec)
    denormalizer_spec: Optional[NormalizerSpec] = None


# field number -> (attribute, kind) per message; kinds: "str", "bytes", "bool", "int" (int32, may be negative),
# "float" (fixed32), "enum"
_TRAINER_FIELDS: Dict[int, Tuple[str, str]] = {
    3: ("model_type", "enum"), 4: ("vocab_size", "int"), 35: ("byte_fallback", "bool"),
    25: ("split_digits", "bool"), 24: ("treat_whitespace_as_suffix", "bool"),
    40: ("unk_id", "int"), 41: ("bos_id", "int"), 42: ("eos_id", "int"), 43: ("pad_id", "int"),
    45: ("unk_piece", "str"), 46: ("bos_piece", "str"), 47: ("eos_piece", "str"), 48: ("pad_piece", "str"),
}
_NORMALIZER_FIELDS: Dict[int, Tuple[str, str]] = {
    1: ("name", "str"), 2: ("precompiled_charsmap", "bytes"), 3: ("add_dummy_prefix", "bool"),
    4: ("remove_extra_whitespaces", "bool"), 5: ("escape_whitespaces", "bool"), 6: ("normalization_rule_tsv", "str"),
}
_PIECE_FIELDS: Dict[int, Tuple[str, str]] = {1: ("piece", "str"), 2: ("score", "float"), 3: ("type", "enum")}
_KIND_WIRE = {"str": LENGTH, "bytes": LENGTH, "bool": VARINT, "int": VARINT, "enum": VARINT, "float": FIXED32}


class _Reader:
    """A cursor over one message's bytes; every failure names the file and the absolute offset."""

    def __init__(self, data: bytes, source: str, start: int = 0, end: Optional[int] = None):
        self.data, self.source, self.pos = data, source, start
        self.end = len(data) if end is None else end

    def fail(self, what: str) -> CheckpointError:
        return CheckpointError(
            f"{self.source!r} is not a valid SentencePiece model (expected a {SPM_NAME} protobuf ModelProto): "
            f"{what} at byte {self.pos}"
        )

    def varint(self) -> int:
        result, shift = 0, 0
        while True:
            if self.pos >= self.end:
                raise self.fail("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift >= 70:
                raise self.fail("varint longer than 10 bytes")

    def take(self, size: int) -> int:
        """Skip ``size`` bytes; returns where they start."""
        start = self.pos
        if size < 0 or start + size > self.end:
            raise self.fail(f"field of {size} bytes runs past the end of its message ({self.end - start} left)")
        self.pos = start + size
        return start

    def fields(self):
        """Yield (field number, wire type, value): an int for varints, (start, end) for length-delimited fields,
        the raw 4 / 8 bytes for fixed ones."""
        while self.pos < self.end:
            key = self.varint()
            number, wire = key >> 3, key & 7
            if number == 0:
                raise self.fail("field number 0")
            if wire == VARINT:
                yield number, wire, self.varint()
            elif wire == LENGTH:
                size = self.varint()
                start = self.take(size)
                yield number, wire, (start, start + size)
            elif wire == FIXED32:
                start = self.take(4)
                yield number, wire, self.data[start:start + 4]
            elif wire == FIXED64:
                start = self.take(8)
                yield number, wire, self.data[start:start + 8]
            else:
                raise self.fail(f"unsupported wire type {wire} (field {number})")

    def text(self, span: Tuple[int, int], what: str) -> str:
        try:
            return self.data[span[0]:span[1]].decode("utf-8")
        except UnicodeDecodeError as err:
            raise self.fail(f"{what} is not UTF-8 ({err.reason})") from None


def _decode_value(reader: _Reader, number: int, wire: int, value, kind: str, what: str):
    if wire != _KIND_WIRE[kind]:
        raise reader.fail(f"{what} (field {number}) has wire type {wire}, expected {_KIND_WIRE[kind]}")
    if kind == "str":
        return reader.text(value, what)
    if kind == "bytes":
        return bytes(reader.data[value[0]:value[1]])
    if kind == "bool":
        return bool(value)
    if kind == "float":
        return struct.unpack("<f", value)[0]
    value &= 0xFFFFFFFFFFFFFFFF  # int32 / enum: negative values are 10-byte two's complement varints
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_message(reader: _Reader, span: Tuple[int, int], target, table: Dict[int, Tuple[str, str]], what: str):
    sub = _Reader(reader.data, reader.source, span[0], span[1])
    for number, wire, value in sub.fields():
        if number in table:
            name, kind = table[number]
            setattr(target, name, _decode_value(sub, number, wire, value, kind, f"{what}.{name}"))
    return target


_FLOAT = struct.Struct("<f")


def _fast_piece(data: bytes, start: int, end: int) -> Optional[SentencePiece]:
    """The common layout of a piece (``piece`` with a one-byte length, ``score``, a one-byte ``type``) decoded
    directly; None for anything else (the generic reader then decodes it and reports any error)."""
    if end - start < 2 or data[start] != 0x0A or data[start + 1] >= 0x80:
        return None
    pos = start + 2 + data[start + 1]
    if pos > end:
        return None
    try:
        text = data[start + 2:pos].decode("utf-8")
    except UnicodeDecodeError:
        return None
    score, kind = 0.0, NORMAL
    if pos + 5 <= end and data[pos] == 0x15:
        score = _FLOAT.unpack_from(data, pos + 1)[0]
        pos += 5
    if pos + 2 <= end and data[pos] == 0x18 and data[pos + 1] < 0x80:
        kind = data[pos + 1]
        pos += 2
    return SentencePiece(text, score, kind) if pos == end else None


def parse_model(data: bytes, source: str) -> ModelProto:
    """Decode the bytes of an ``spm.model``.

    Args:
        data: the file's bytes.
        source: the file's path, named by every error.

    Returns:
        The model (pieces in id order).

    Raises:
        CheckpointError: the bytes are not a ModelProto with at least one piece (truncated or corrupted file,
            another kind of file), or a piece has an unknown type.
    """
    reader = _Reader(bytes(data), source)
    model = ModelProto()
    for number, wire, value in reader.fields():
        if number in (1, 2, 3, 5) and wire != LENGTH:
            raise reader.fail(f"field {number} has wire type {wire}, expected a message")
        if number == 1:
            piece = _fast_piece(reader.data, value[0], value[1])
            if piece is None:
                piece = _read_message(reader, value, SentencePiece(), _PIECE_FIELDS, f"pieces[{len(model.pieces)}]")
            model.pieces.append(piece)
        elif number == 2:
            _read_message(reader, value, model.trainer_spec, _TRAINER_FIELDS, "trainer_spec")
        elif number == 3:
            _read_message(reader, value, model.normalizer_spec, _NORMALIZER_FIELDS, "normalizer_spec")
        elif number == 5:
            model.denormalizer_spec = _read_message(reader, value, NormalizerSpec(), _NORMALIZER_FIELDS,
                                                    "denormalizer_spec")
    if not model.pieces:
        raise CheckpointError(f"{source!r} is not a SentencePiece model (expected a {SPM_NAME} protobuf ModelProto "
                              f"with at least one piece, got {len(data)} bytes and no pieces)")
    for index, piece in enumerate(model.pieces):
        if piece.type not in PIECE_TYPES:
            raise CheckpointError(f"{source!r}: piece {index} ({piece.piece!r}) has unknown type {piece.type}, "
                                  f"expected one of {sorted(PIECE_TYPES)}")
    return model


def read_model(path: str) -> Tuple[ModelProto, bytes]:
    """Read and decode an ``spm.model`` file.

    Args:
        path: the file.

    Returns:
        The model and the file's bytes.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a SentencePiece model.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"SentencePiece model not found: {path!r} (expected a {SPM_NAME})") from None
    except IsADirectoryError:
        raise FileNotFoundError(f"{path!r} is a folder; expected a SentencePiece model file ({SPM_NAME})") from None
    return parse_model(data, path), data


# -- writing ----------------------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, kind: str, value) -> bytes:
    key = _varint(number << 3 | _KIND_WIRE[kind])
    if kind in ("str", "bytes"):
        raw = value.encode("utf-8") if kind == "str" else bytes(value)
        return key + _varint(len(raw)) + raw
    if kind == "float":
        return key + struct.pack("<f", value)
    return key + _varint(int(value))


def _message(target, table: Dict[int, Tuple[str, str]]) -> bytes:
    # Every field is written (defaults included), so the file says the same to a reader with other defaults.
    return b"".join(_field(number, kind, getattr(target, name)) for number, (name, kind) in sorted(table.items()))


def serialize(model: ModelProto) -> bytes:
    """The protobuf bytes of ``model`` (the fields this module reads; ``parse_model`` inverts it).

    Args:
        model: the model to write.
    """
    out = [_field(1, "bytes", _message(piece, _PIECE_FIELDS)) for piece in model.pieces]
    out.append(_field(2, "bytes", _message(model.trainer_spec, _TRAINER_FIELDS)))
    out.append(_field(3, "bytes", _message(model.normalizer_spec, _NORMALIZER_FIELDS)))
    if model.denormalizer_spec is not None:
        out.append(_field(5, "bytes", _message(model.denormalizer_spec, _NORMALIZER_FIELDS)))
    return b"".join(out)


__all__ = [
    "BPE", "BYTE", "CHAR", "CONTROL", "MODEL_TYPES", "ModelProto", "NORMAL", "NormalizerSpec", "PIECE_TYPES",
    "SentencePiece", "TrainerSpec", "UNIGRAM", "UNKNOWN", "UNUSED", "USER_DEFINED", "WORD",
    "parse_model", "read_model", "serialize",
]
