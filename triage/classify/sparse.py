"""A batch's feature matrix as compressed rows, in NumPy alone.

Serving needs three things of it: build it from (row, column) pairs with the duplicates
summed, multiply it by the dense weights of every head, and read each row's entries for the
evidence. scipy.sparse does all three, but importing it took a quarter of a second of every
`triage predict` run (scipy.special another twentieth); training, which hands the matrix to
scikit-learn, converts it with `to_scipy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(slots=True)
class SparseRows:
    """CSR: row r's entries are data[indptr[r]:indptr[r + 1]] at columns indices[...], the
    columns of a row ascending and unique (scipy's canonical form)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]

    @classmethod
    def from_pairs(cls, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> tuple[SparseRows, np.ndarray]:
        """The matrix of the pairs' counts (a pair given k times holds k), and the row of each
        entry. One sort of a 64-bit key, which was faster than scipy's COO to CSR and summing."""
        n_rows, n_cols = shape
        key = rows.astype(np.int64) * n_cols + cols
        unique, counts = np.unique(key, return_counts=True)
        entry_rows = unique // n_cols
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(entry_rows, minlength=n_rows), out=indptr[1:])
        columns = (unique - entry_rows * n_cols).astype(np.int32)
        return cls(counts.astype(np.float64), columns, indptr, shape), entry_rows

    @property
    def nnz(self) -> int:
        return len(self.data)

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        """This matrix times a dense (columns, k) array: (rows, k)."""
        out = np.zeros((self.shape[0], dense.shape[1]), dtype=np.result_type(self.data, dense))
        nonempty = np.flatnonzero(np.diff(self.indptr))
        if len(nonempty):
            # take and an in-place product: a third less than indexing and a new product array.
            products = dense.take(self.indices, axis=0).astype(out.dtype, copy=False)
            products *= self.data[:, None]
            # reduceat over the starts of the non-empty rows only: an empty row's start equals the next one's.
            out[nonempty] = np.add.reduceat(products, self.indptr[nonempty], axis=0)
        return out

    def to_scipy(self) -> sp.csr_matrix:
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
