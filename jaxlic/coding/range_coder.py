"""Host-side range coding with constriction: the only module that imports it.

Symbols are coded with per-symbol integer frequency tables (``[M, A]`` rows of a fixed
sum, see ``jaxlic.coding.tables``) in one vectorised call per batch of symbols.
Unbounded integers (escapes of values outside a table) use an Elias-gamma style code:
the position ``k`` of the leading one of ``v + 1`` with a uniform model over ``{0..30}``,
then the ``k`` bits below it, uniformly, in a low chunk of up to 16 bits and a high chunk.
"""

from __future__ import annotations

import constriction
import numpy as np

from jaxlic.coding.errors import BitstreamError

MAX_ESCAPE = 2**31 - 2  # largest value the unbounded code carries
_LENGTH = constriction.stream.model.Uniform(31)  # bit length k in {0..30}
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
_UNIFORM = constriction.stream.model.Uniform()
_LOW_BITS = 16


def _split(bit_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Widths of the low (<= 16 bits) and high (the rest) chunk of each payload."""
    low = np.minimum(bit_lengths, _LOW_BITS)
    return low, bit_lengths - low


class Encoder:
    """Accumulates symbols into one range-coded stream."""

    def __init__(self):
        self._coder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, frequencies: np.ndarray) -> None:
        """Code ``symbols [M]`` (int, in ``[0, A)``) with ``frequencies [M, A]``."""
        if symbols.size:
            self._coder.encode(np.ascontiguousarray(symbols, np.int32), _CATEGORICAL,
                               np.ascontiguousarray(frequencies, np.float32))

    def encode_unbounded(self, values: np.ndarray) -> None:
        """Code non-negative integers ``values [M]`` (at most ``MAX_ESCAPE``)."""
        values = np.asarray(values, np.int64)
        if not values.size:
            return
        if values.min() < 0 or values.max() > MAX_ESCAPE:
            raise ValueError(f"escape values must lie in [0, {MAX_ESCAPE}]")
        plus_one = values + 1
        bit_lengths = np.frexp(plus_one.astype(np.float64))[1].astype(np.int64) - 1
        payload = plus_one - (np.int64(1) << bit_lengths)
        low, high = _split(bit_lengths)
        self._coder.encode(bit_lengths.astype(np.int32), _LENGTH)
        for chunk, width in ((payload & ((1 << low) - 1), low), (payload >> _LOW_BITS, high)):
            used = width > 0
            if used.any():
                self._coder.encode(chunk[used].astype(np.int32), _UNIFORM,
                                   (1 << width[used]).astype(np.int32))

    def num_words(self) -> int:
        """32-bit words the stream takes if it ends now."""
        return self._coder.num_words()

    def to_bytes(self) -> bytes:
        return self._coder.get_compressed().astype("<u4").tobytes()


class Decoder:
    """Reads symbols back from the bytes of one ``Encoder`` stream.

    Any failure inside constriction is reported as ``BitstreamError``. constriction's
    decoder reads zeros past the end of its data and cannot tell where a stream ends, so
    the decoder codes every symbol it returns again (an ``Encoder`` fed the same
    symbols and tables, a few percent of the decoding time); ``finish`` checks that this
    gives back the stream word for word: no unused words, no reads past the end.
    """

    def __init__(self, data: bytes):
        if len(data) % 4:
            raise BitstreamError("range-coded payload length is not a multiple of 4 bytes")
        self._words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        self._coder = constriction.stream.queue.RangeDecoder(self._words)
        self._echo = Encoder()

    def decode(self, frequencies: np.ndarray) -> np.ndarray:
        """Symbols ``[M]`` (int32) coded with ``frequencies [M, A]``."""
        if not frequencies.shape[0]:
            return np.zeros((0,), np.int32)
        try:
            symbols = self._coder.decode(_CATEGORICAL,
                                         np.ascontiguousarray(frequencies, np.float32))
        except Exception as e:  # constriction raises ValueError/RuntimeError on bad state
            raise BitstreamError(f"range decoding failed: {e}") from e
        self._echo.encode(symbols, frequencies)
        self._check_length()
        return symbols

    def decode_unbounded(self, count: int) -> np.ndarray:
        """``count`` non-negative integers written by ``Encoder.encode_unbounded``."""
        if not count:
            return np.zeros((0,), np.int64)
        try:
            bit_lengths = self._coder.decode(_LENGTH, count).astype(np.int64)
            low, high = _split(bit_lengths)
            payload = np.zeros(count, np.int64)
            for width, shift in ((low, 0), (high, _LOW_BITS)):
                used = width > 0
                if used.any():
                    chunk = self._coder.decode(_UNIFORM, (1 << width[used]).astype(np.int32))
                    payload[used] += chunk.astype(np.int64) << shift
        except Exception as e:  # constriction raises ValueError/RuntimeError on bad state
            raise BitstreamError(f"range decoding failed: {e}") from e
        values = (np.int64(1) << bit_lengths) + payload - 1
        self._echo.encode_unbounded(values)
        self._check_length()
        return values

    def _check_length(self) -> None:
        """Stop as soon as the symbols decoded so far need more words than the stream has
        (a short or empty stream is otherwise read on as zeros to the end of the image)."""
        if self._echo.num_words() > len(self._words) + 2:
            raise BitstreamError("the stream ends before its last symbol: the file is "
                                 "truncated or corrupted")

    def finish(self) -> None:
        """Raise ``BitstreamError`` unless the symbols decoded so far are exactly the
        whole stream."""
        echo = np.frombuffer(self._echo.to_bytes(), "<u4")
        if np.array_equal(echo, self._words):
            return
        if len(self._words) > len(echo):
            raise BitstreamError(f"{4 * (len(self._words) - len(echo))} bytes of the stream "
                                 "are left over after its last symbol: the file is corrupted")
        raise BitstreamError("the stream ends before its last symbol or differs from what its "
                             "symbols code to: the file is truncated or corrupted")
