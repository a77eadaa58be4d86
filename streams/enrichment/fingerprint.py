"""64-bit simhash of a body (Charikar 2002), for near-duplicate detection.

Features are the word 3-shingles of the text (words = ``\\w+`` runs, NFKC,
case-folded), weighted by their count; each feature is hashed with the first
8 bytes of BLAKE2b (stable across processes and Python versions, unlike
``hash``). Two bodies that differ by a few words differ in a few bits: compare
with :func:`hamming`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

import numpy as np

_WORD = re.compile(r"\w+")
_SHINGLE = 3
_BITS = 64


def _features(text: str) -> Counter[str]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    if len(words) < _SHINGLE:
        return Counter([" ".join(words)]) if words else Counter()
    return Counter(" ".join(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def simhash(text: str) -> str | None:
    """Return the 64-bit simhash of ``text`` as 16 lower-case hex digits.

    Returns None when ``text`` has no word (empty or only punctuation).
    Bit ``i`` of the result is 1 when the weighted features whose hash has
    bit ``i`` set outweigh those where it is clear.
    """
    feats = _features(text)
    if not feats:
        return None
    digests = b"".join(hashlib.blake2b(f.encode("utf-8"), digest_size=8).digest() for f in feats)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(len(feats), _BITS)
    weights = np.fromiter(feats.values(), dtype=np.int64, count=len(feats))
    # +w where the bit is set, -w where clear; bit i of the fingerprint is (sum > 0).
    votes = (bits.astype(np.int64) * 2 - 1).T @ weights
    out = np.packbits(votes > 0)  # big-endian: bit 0 is the most significant
    return out.tobytes().hex()


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two fingerprints (16 hex digits each)."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
