"""Numba kernel packing activation codes into bit planes along input channels."""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def pack_pixels(first, last, x, lo, hi, offset, shift, pad_h, pad_w, out, pix_sum, bad):
    """For image rows ``first .. last - 1`` (row ``n * H + y``), pack codes ``x[n, y, x, c]``
    (any memory order) into ``out[n, y + pad_h, x + pad_w, p, w]``.

    ``out`` (zeroed, uint64; any memory order) receives bit p of the pattern
    ``(v + offset) >> shift`` of channel ``64 w + t`` at bit t (channels past C stay 0, as do
    the padding pixels); ``pix_sum[n, y + pad_h, x + pad_w]`` (zeroed) the pixel's sum of
    patterns over channels; ``bad[n, y]`` the number of codes of image row y outside
    [lo, hi] or with ``v + offset`` not a multiple of ``2**shift``.
    """
    h, w, c = x.shape[1:]
    n_p = out.shape[3]
    n_w = out.shape[4]
    parity = (np.int64(1) << shift) - 1
    patterns = np.empty(64, np.int64)
    for task in range(first, last):
        img = task // h
        y = task - img * h
        nbad = 0
        for col in range(w):
            total = 0
            codes = x[img, y, col]
            for word in range(n_w):
                c0 = word * 64
                span = min(c, c0 + 64) - c0
                for t in range(span):
                    v = np.int64(codes[c0 + t])
                    nbad += (v < lo) | (v > hi) | (((v + offset) & parity) != 0)
                    patterns[t] = (v + offset) >> shift
                for t in range(span):
                    total += patterns[t]
                for p in range(n_p):
                    bits = np.uint64(0)
                    for t in range(span):
                        bits |= np.uint64((patterns[t] >> p) & 1) << np.uint64(t)
                    out[img, y + pad_h, col + pad_w, p, word] = bits
            pix_sum[img, y + pad_h, col + pad_w] = total
        bad[img, y] = nbad
