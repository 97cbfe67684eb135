"""Readers for the two raw MNIST formats: LeCun's idx files and the classic numpy pickle."""

import importlib
import io
import pickle
from typing import Any

import numpy as np

# idx type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS")
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes) -> np.ndarray:
    """Parse an idx file (already gunzipped) into an array in native byte order.

    Layout: two zero bytes, a type byte, the number of dimensions, then one big-endian
    uint32 per dimension, then the values in C order, big-endian.

    Raises:
        ValueError: bad magic, unknown type, or a length that does not match the header.
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an idx file: the first two bytes must be zero")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"unknown idx type byte 0x{type_code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("idx header is truncated")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"idx file has {len(data)} bytes, its header implies {expected}")
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _reconstruct() -> Any:
    # numpy 2 renamed numpy.core to numpy._core; 1.26 has both, and touching numpy.core
    # under numpy 2 warns, so the new name comes first.
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("this numpy has no multiarray._reconstruct")


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else.

    A pickle can name any importable callable (os.system, subprocess.Popen ...) and have
    the loader call it; refusing every global except the three that array reconstruction
    needs makes loading a downloaded pickle safe.
    """

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        """Resolve only the allowed numpy globals; refuse everything else."""
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed in this pickle"
            )
        if name == "_reconstruct":
            return _reconstruct()
        return getattr(np, name)


def restricted_loads(data: bytes) -> Any:
    """Unpickle `data` allowing only numpy arrays (and plain containers and scalars).

    `latin1` decodes the byte strings inside arrays pickled by Python 2, as the classic
    mnist.pkl.gz was.

    Raises:
        pickle.UnpicklingError: the pickle asks for anything but numpy array reconstruction.
    """
    return NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
