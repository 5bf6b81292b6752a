"""Cell-key rounding: published counts of people that cannot be worked out by comparing figures.

The method follows the cell-key idea of the ONS (Census 2021): every person (record) has a
stable random *record key*; a cell's key is the sum of its records' keys; a fixed *perturbation
table* looked up with the cell's true count and its key gives the published count. The same
people in a cell therefore always get the same published count, whichever page, filter or day
it is reached from, and averaging many pages learns nothing new.

The table here rounds every count to a multiple of the threshold, up or down, chosen by the
cell key with the chances that make the adjustment zero on average (a count ``r`` above a
multiple goes up with chance ``r / base``). So every published count, and every sum or
difference of published counts, is a multiple of the threshold: no subtraction of one page from
another (one project from all projects, before from after an import) can ever give a number
between 1 and the threshold less one. A published 0 is shown as "fewer than" the threshold:
true zeros and small counts look the same.

Record keys are an HMAC of the record's kind and id under a secret (``PORTAL_STATS_KEY_SECRET``):
stable while the secret is kept, and not guessable by anyone who does not hold it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from functools import cache

KEY_SPACE = 256  # record and cell keys are 0..255


def record_key(secret: str, kind: str, record_id: int) -> int:
    """The stable random key of one record (0..255)."""
    digest = hmac.new(secret.encode(), f"{kind}:{record_id}".encode(), hashlib.sha256).digest()
    return digest[0]


def cell_key(keys: Iterable[int]) -> int:
    """A cell's key: its records' keys added up, modulo the key space (uniform again)."""
    return sum(keys) % KEY_SPACE


@cache
def perturbation_table(base: int) -> tuple[tuple[int, ...], ...]:
    """Adjustment by (true count modulo base) x cell key; every adjusted count is a multiple of base.

    Row ``r`` rounds up (by ``base - r``) for the first ``r / base`` of the cell keys and down
    (by ``r``) for the rest, so the average adjustment over the keys is zero (to within the
    1/256 steps of the key space).
    """
    rows = []
    for remainder in range(base):
        rounds_up = (KEY_SPACE * remainder + base // 2) // base  # keys below this round up
        rows.append(tuple(base - remainder if key < rounds_up else -remainder for key in range(KEY_SPACE)))
    return tuple(rows)


def publish(count: int, key: int, threshold: int) -> int | None:
    """The published count of a cell, or None for "fewer than threshold"."""
    if threshold <= 1:
        return count
    published = count + perturbation_table(threshold)[count % threshold][key % KEY_SPACE]
    return published if published >= threshold else None


def possible_counts(published: int | None, threshold: int) -> range:
    """Every true count that could have been published as ``published`` (what an outsider can infer)."""
    if threshold <= 1:
        return range(published or 0, (published or 0) + 1)
    if published is None:
        return range(0, threshold)
    return range(published - threshold + 1, published + threshold)
