"""The one exception type for malformed compressed data."""


class BitstreamError(ValueError):
    """A compressed file is truncated, corrupted, of another format or version, or was
    written with other weights than the ones decoding it."""
