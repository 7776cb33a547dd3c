"""Polyphase resampling in NumPy, equal to ``scipy.signal.resample_poly(x, up, down)`` (its defaults).

The filter is scipy's: ``firwin(2 * half_len + 1, 1 / max(up, down), window=("kaiser", 5.0))`` times
``up``, ``half_len = 10 * max(up, down)``, zero-padded in front so that output sample m sits at
input time ``m * down / up``; the signal is taken as zero outside itself. Output sample m is one
dot product of a phase of the filter with the inputs at or before ``((m + r) * down) // up``, so
the result can be computed in blocks as the input arrives (``Resampler``) and equals the one-shot
result. Computed in float64; returned as float32.
"""
from __future__ import annotations

from math import gcd

import numpy as np


def lowpass(up: int, down: int) -> np.ndarray:
    """scipy's anti-aliasing filter for ``up/down``: windowed sinc (Kaiser, beta 5), unit DC gain, times up."""
    max_rate = max(up, down)
    half_len = 10 * max_rate
    taps = 2 * half_len + 1
    m = np.arange(taps) - 0.5 * (taps - 1)
    h = (1.0 / max_rate) * np.sinc(m / max_rate) * np.kaiser(taps, 5.0)
    return h / h.sum() * up


class Resampler:
    """Streaming ``resample_poly``: ``feed`` chunks, then ``finish``; the pieces join to the one-shot result."""

    def __init__(self, up: int, down: int):
        g = gcd(int(up), int(down))
        self.up, self.down = int(up) // g, int(down) // g
        half_len = 10 * max(self.up, self.down)
        pre_pad = self.down - half_len % self.down
        self.delay = (half_len + pre_pad) // self.down  # output samples scipy removes from the front
        h = np.concatenate([np.zeros(pre_pad), lowpass(self.up, self.down)])
        self.taps_per_phase = -(-h.size // self.up)
        h = np.concatenate([h, np.zeros(self.taps_per_phase * self.up - h.size)])
        # phase p: taps h[p], h[p + up], ... reversed, to meet the inputs in increasing time order
        self.phases = np.ascontiguousarray(h.reshape(self.taps_per_phase, self.up).T[:, ::-1])
        self.buffer = np.zeros(0)  # the inputs still needed, from sample index ``buffer_start`` on
        self.buffer_start = 0
        self.received = 0
        self.done = 0  # output samples produced so far

    def _source(self, m: int) -> int:
        """Index of the latest input that output sample ``m`` uses."""
        return ((m + self.delay) * self.down) // self.up

    def _outputs(self, m0: int, m1: int) -> np.ndarray:
        """Output samples [m0, m1) from the buffer (inputs outside it are zeros)."""
        if m1 <= m0:
            return np.zeros(0, dtype=np.float32)
        span = self.taps_per_phase
        lo, hi = self._source(m0) - span + 1, self._source(m1 - 1) + 1
        seg = np.zeros(hi - lo)
        a, b = max(lo, self.buffer_start), min(hi, self.buffer_start + self.buffer.size)
        if b > a:
            seg[a - lo: b - lo] = self.buffer[a - self.buffer_start: b - self.buffer_start]
        out = np.empty(m1 - m0)
        step = seg.strides[0]
        for c in range(min(self.up, m1 - m0)):  # outputs c, c + up, ... share a phase
            n = (m0 + c + self.delay) * self.down
            count = len(range(m0 + c, m1, self.up))
            rows = np.lib.stride_tricks.as_strided(seg[n // self.up - span + 1 - lo:], (count, span),
                                                   (step * self.down, step), writeable=False)
            out[c::self.up] = rows @ self.phases[n % self.up]
        return out.astype(np.float32)

    def _advance(self, m1: int) -> np.ndarray:
        out = self._outputs(self.done, m1)
        self.done = max(self.done, m1)
        keep = max(self.buffer_start, self._source(self.done) - self.taps_per_phase + 1)
        self.buffer = self.buffer[keep - self.buffer_start:]
        self.buffer_start = keep
        return out

    def feed(self, chunk: np.ndarray) -> np.ndarray:
        """Take the next input samples; return every output sample they complete."""
        self.buffer = np.concatenate([self.buffer, np.asarray(chunk, dtype=np.float64).reshape(-1)])
        self.received += int(np.size(chunk))
        # output m is complete once its latest input has arrived: (m + delay) * down < received * up
        return self._advance(max(self.done, -(-self.received * self.up // self.down) - self.delay))

    def finish(self) -> np.ndarray:
        """The remaining output samples (the signal ends here: zeros after it), ``ceil(n * up / down)`` in all."""
        return self._advance(-(-self.received * self.up // self.down))


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """``scipy.signal.resample_poly(x, up, down)`` for a 1-D signal, as float32."""
    x = np.asarray(x)
    r = Resampler(up, down)
    if r.up == r.down == 1:
        return x.astype(np.float32)
    head = r.feed(x)
    return np.concatenate([head, r.finish()])
