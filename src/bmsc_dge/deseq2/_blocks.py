"""Gene blocks for the vectorised fits, and R DESeq2's numerical constants."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

MIN_MU = 0.5  # DESeq2's minmu
R_RIDGE = 1e-6 / np.log(2) ** 2  # DESeq2's lambda (log2 scale) expressed on the natural-log scale
#: samples x genes elements per block of the vectorised fits (~160 MB per float64 temporary):
#: large studies are fitted in gene blocks so memory stays bounded (60,000 x 1,000 in < 8 GB)
CHUNK_ELEMENTS = 20_000_000
MIN_BLOCK_GENES = 2_000


def by_gene_blocks(
    fit: Callable[[slice], tuple[np.ndarray, ...]],
    n_samples: int,
    n_genes: int,
    gene_axes: tuple[int, ...],
    threads: int = 1,
) -> tuple[np.ndarray, ...]:
    """Run ``fit`` on blocks of genes (in ``threads`` threads) and join the outputs along each gene axis.

    Parameters
    ----------
    fit
        Fits the genes of one slice; returns arrays whose gene axis is given by ``gene_axes``.
    n_samples, n_genes
        Problem size; a block holds at most :data:`CHUNK_ELEMENTS` / ``threads`` samples x genes
        (so memory does not grow with threads) and at least :data:`MIN_BLOCK_GENES` genes.
    gene_axes
        Axis of each returned array that runs over genes (0 for per-gene vectors and
        genes x p matrices, 1 for samples x genes matrices).
    threads
        Blocks fitted at once; numpy releases the GIL in its array loops, so two threads use two
        cores. Genes are independent, so the answers do not depend on the blocking.
    """
    threads = max(1, threads)
    size = max(MIN_BLOCK_GENES, CHUNK_ELEMENTS // threads // max(n_samples, 1))
    if threads > 1:
        size = min(size, max(MIN_BLOCK_GENES, -(-n_genes // threads)))
    if n_genes <= size:
        return fit(slice(None))
    blocks = [slice(i, min(i + size, n_genes)) for i in range(0, n_genes, size)]
    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(fit, blocks))
    else:
        parts = [fit(b) for b in blocks]
    return tuple(np.concatenate([p[k] for p in parts], axis=ax) for k, ax in enumerate(gene_axes))


def one_blas_thread() -> Any:
    """Context manager limiting BLAS (OpenBLAS, MKL) to one thread, restored on exit.

    The fits solve thousands of tiny (p x p) systems and batched products; a multi-threaded BLAS
    spends more time waking and synchronising its threads than computing (on the 20,000 x 12
    example a fit takes 0.8 s with OpenBLAS's default two threads and 0.5 s with one, and twelve
    leave-one-out refits 10.1 s vs 7.1 s). Parallelism comes from gene blocks
    (:func:`by_gene_blocks`) and processes instead.
    """
    return threadpool_limits(limits=1, user_api="blas")


def outer_rows(x: np.ndarray) -> np.ndarray:
    """Row-wise outer products of ``x`` (samples x p), flattened: samples x p*p."""
    n, p = x.shape
    return (x[:, :, None] * x[:, None, :]).reshape(n, p * p)


def crossprod(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``X' diag(w_g) X`` for every gene g (w: samples x genes) -> genes x p x p.

    One matrix product of ``w'`` with the rows' outer products (an einsum with ``optimize=True``
    spent more time choosing its contraction path than contracting, at ~2,000 calls per fit).
    """
    p = x.shape[1]
    return (w.T @ outer_rows(x)).reshape(w.shape[1], p, p)


def as_offsets(factors: np.ndarray) -> np.ndarray:
    """Size factors (one per sample) as a samples x 1 column; normalization factors as they are.

    R DESeq2 fits ``mu = s_j * q_ij`` with size factors, or ``mu = NF_ij * q_ij`` with gene- and
    sample-specific normalization factors (``normalizationFactors``, e.g. from tximport's average
    transcript lengths). Every fit here takes either: a samples x 1 column broadcasts over genes.
    """
    a = np.asarray(factors, dtype=float)
    return a[:, None] if a.ndim == 1 else a


def gene_columns(offsets: np.ndarray, genes: slice | np.ndarray) -> np.ndarray:
    """The columns of ``offsets`` (:func:`as_offsets`) for ``genes``; a size-factor column serves all."""
    return offsets if offsets.shape[1] == 1 else offsets[:, genes]
