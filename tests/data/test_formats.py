"""The raw-format readers: the idx parser and the numpy-only unpickler."""

import os
import pickle
import struct

import numpy as np
import pytest

from dlcurriculum.data.formats import parse_idx, restricted_loads


def _idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_parse_idx_uint8_images() -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    parsed = parse_idx(_idx_bytes(images, 0x08))
    assert parsed.dtype == np.uint8
    np.testing.assert_array_equal(parsed, images)


def test_parse_idx_big_endian_int32_to_native() -> None:
    values = np.array([1, -2, 70000, 2**31 - 1], dtype=np.int32)
    data = _idx_bytes(values, 0x0C)
    assert data[8:12] == b"\x00\x00\x00\x01"  # the file really is big-endian
    parsed = parse_idx(data)
    assert parsed.dtype == np.dtype("=i4")
    np.testing.assert_array_equal(parsed, values)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "first two bytes"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown idx type"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "header is truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x00\x01", "header implies 11"),
    ],
)
def test_parse_idx_rejects_malformed(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_idx(data)


def test_restricted_loads_rebuilds_classic_array_pickle() -> None:
    # Protocol 4 rebuilds arrays with multiarray._reconstruct, as the Python 2 pickle of
    # mnist.pkl.gz does; Python 3 at protocol 2 would route bytes through _codecs instead.
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 256
    y = np.array([5, 0, 4], dtype=np.int64)
    loaded = restricted_loads(pickle.dumps(((x, y), (x, y)), protocol=4))
    np.testing.assert_array_equal(loaded[0][0], x)
    np.testing.assert_array_equal(loaded[1][1], y)


class _RunsCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


class _Evals:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return eval, ("1 + 1",)


def test_restricted_loads_refuses_code_and_does_not_run_it(tmp_path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps((np.zeros(3), _RunsCommand(f"touch {marker}")), protocol=4)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load .*system"):
        restricted_loads(payload)
    assert not marker.exists()
    # Control: the same payload does run the command under a plain loader.
    pickle.loads(pickle.dumps(_RunsCommand(f"touch {tmp_path / 'control'}"), protocol=4))
    assert (tmp_path / "control").exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_restricted_loads_refuses_builtins(protocol: int) -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load .*builtin.*\.eval"):
        restricted_loads(pickle.dumps(_Evals(), protocol=protocol))
