"""Dataset fingerprints: shape, columns, dtypes and a content digest, without copying the data.

Small arrays (up to ``FULL_HASH_BYTES``) are hashed whole through a memoryview of their buffer
(no copy). Up to ``CHECKSUM_BYTES``, an array is hashed from a fixed sample of rows plus a
wrapping 64-bit sum of its whole buffer, which any single changed value changes: a third of the
cost of hashing it all (on the writer thread, for every fit of a training loop). Bigger arrays,
and DataFrames, are hashed from the sample of rows plus their shape, so a fingerprint costs the
same on a gigabyte as on a few megabytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

from autolog.entities import Dataset

FULL_HASH_BYTES = 64 * 1024
CHECKSUM_BYTES = 8 * 1024 * 1024
SAMPLE_ROWS = 1000


def _sample_index(n: int) -> Any:
    import numpy as np

    if n <= SAMPLE_ROWS:
        return slice(None)
    return np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64)


def _hash_array(h: Any, arr: Any) -> None:
    import numpy as np

    if arr.dtype == object:
        sample = arr[_sample_index(len(arr))] if arr.ndim else arr
        h.update(repr(sample.tolist()).encode())
        return
    contiguous = arr.flags.c_contiguous
    if arr.nbytes <= FULL_HASH_BYTES and contiguous:
        h.update(memoryview(arr).cast("B"))
        return
    index = _sample_index(arr.shape[0]) if arr.ndim else slice(None)
    h.update(np.ascontiguousarray(arr[index]).tobytes())
    if contiguous and arr.nbytes <= CHECKSUM_BYTES and not isinstance(index, slice):
        raw = memoryview(arr).cast("B")
        words = np.frombuffer(raw, dtype=np.uint64, count=len(raw) // 8)
        h.update(np.add.reduce(words, dtype=np.uint64).tobytes())
        h.update(bytes(raw[len(words) * 8:]))


def fingerprint(data: Any, name: str | None = None, context: str = "train",
                source: str | None = None) -> Dataset:
    """Describe ``data`` (numpy, pandas, scipy sparse, torch tensor, list) as a Dataset."""
    h = hashlib.sha256()
    module = type(data).__module__.split(".")[0]
    columns: tuple[str, ...] | None = None
    dtypes: tuple[str, ...] | None = None
    shape: tuple[int, ...] | None = None
    if module == "pandas" and hasattr(data, "columns"):
        shape = tuple(int(s) for s in data.shape)
        columns = tuple(str(c) for c in data.columns)
        dtypes = tuple(str(t) for t in data.dtypes)
        sample = data.iloc[_sample_index(len(data))]
        import pandas as pd

        h.update(pd.util.hash_pandas_object(sample, index=False).to_numpy().tobytes())
    elif module == "pandas":  # Series
        shape = (int(len(data)),)
        columns = (str(data.name),) if data.name is not None else None
        dtypes = (str(data.dtype),)
        import pandas as pd

        h.update(pd.util.hash_pandas_object(data.iloc[_sample_index(len(data))],
                                            index=False).to_numpy().tobytes())
    elif module == "scipy" and hasattr(data, "tocsr"):
        shape = tuple(int(s) for s in data.shape)
        dtypes = (str(data.dtype),)
        csr = data.tocsr()
        for part in (csr.data, csr.indices, csr.indptr):
            _hash_array(h, part)
    else:
        import numpy as np

        if module == "torch" and hasattr(data, "detach"):
            data = data.detach().cpu().numpy()
        arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        shape = tuple(int(s) for s in arr.shape)
        dtypes = (str(arr.dtype),)
        _hash_array(h, arr)
    h.update(repr((shape, columns, dtypes)).encode())
    digest = h.hexdigest()[:16]
    return Dataset(name=name or f"dataset_{digest[:8]}", digest=digest, context=context,
                   shape=shape, columns=columns, dtypes=dtypes, source=source)
