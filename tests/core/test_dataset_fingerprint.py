"""Dataset fingerprints: a change anywhere in an array up to a few megabytes changes the digest,
though only a sample of its rows is hashed."""

from __future__ import annotations

import numpy as np

from autolog import _datasets


def test_a_mid_size_array_changed_outside_the_sampled_rows_gets_another_digest():
    X = np.random.default_rng(0).normal(size=(10_000, 10))
    assert X.nbytes > _datasets.FULL_HASH_BYTES
    sampled = set(_datasets._sample_index(len(X)).tolist())
    row = next(i for i in range(len(X)) if i not in sampled)
    before = _datasets.fingerprint(X).digest
    assert _datasets.fingerprint(X.copy()).digest == before  # the content, not the object
    X[row, 3] += 1e-9
    assert _datasets.fingerprint(X).digest != before


def test_small_and_fully_sampled_arrays_are_hashed_whole():
    small = np.arange(100.0).reshape(25, 4)
    changed = small.copy()
    changed[7, 1] = -1.0
    assert _datasets.fingerprint(small).digest != _datasets.fingerprint(changed).digest
    # More bytes than the full-hash limit but fewer rows than the sample: every row is hashed.
    wide = np.random.default_rng(1).normal(size=(500, 40))
    assert wide.nbytes > _datasets.FULL_HASH_BYTES and len(wide) <= _datasets.SAMPLE_ROWS
    other = wide.copy()
    other[250, 20] += 1.0
    assert _datasets.fingerprint(wide).digest != _datasets.fingerprint(other).digest


def test_an_odd_byte_count_and_a_fortran_array_are_fingerprinted():
    odd = np.random.default_rng(2).normal(size=20_001).astype(np.float32)
    assert odd.nbytes % 8 and odd.nbytes > _datasets.FULL_HASH_BYTES
    changed = odd.copy()
    changed[-1] += 1.0  # in the bytes past the last whole 64-bit word
    assert _datasets.fingerprint(odd).digest != _datasets.fingerprint(changed).digest
    fortran = np.asfortranarray(np.random.default_rng(3).normal(size=(5_000, 8)))
    assert _datasets.fingerprint(fortran).shape == (5_000, 8)
