"""How common an English word is: its Zipf frequency (log10 of occurrences per
billion words, 0-8) from wordfreq's "best" English list."""

from __future__ import annotations

import functools
import math

from wordfreq import get_frequency_dict

#: Words rarer than this Zipf value are not stored (their Zipf is taken as this).
_ZIPF_FLOOR = 3.0


@functools.lru_cache(maxsize=1)
def zipf_table() -> dict[str, float]:
    """``{word: Zipf frequency}`` of the English words at or above
    :data:`_ZIPF_FLOOR` (about 29,000), from wordfreq's "best" list; built
    once per process (0.2 s, about 3 MiB)."""
    out = {}
    for word, freq in get_frequency_dict("en", "best").items():
        z = math.log10(freq) + 9
        if z >= _ZIPF_FLOOR:
            out[word] = round(z, 2)
    return out


def zipf(word: str) -> float:
    """Zipf frequency of a lower-case word (at least :data:`_ZIPF_FLOOR`)."""
    return zipf_table().get(word, _ZIPF_FLOOR)
