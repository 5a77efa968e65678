"""Dictionary, string and list work, as scripts that index and count text
do it: words are generated, counted in dicts, grouped into lists, joined,
split, formatted and sorted. Prints a digest of what it computed, so that
runs under different allocators can be compared.

    python3 dicts.py [SCALE]
"""

import hashlib
import random
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
rng = random.Random(1)
letters = "abcdefghijklmnopqrstuvwxyz"
digest = hashlib.sha256()
for _ in range(max(1, round(6 * scale))):
    words = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(40000)]
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    by_prefix = {}
    for position, word in enumerate(words):
        by_prefix.setdefault(word[:2], []).append(position)
    text = " ".join(words)
    upper = [part.upper() for part in text.split(" ")]
    pairs = {f"{a}-{b}" for a, b in zip(upper, upper[1:]) if len(a) + len(b) < 9}
    lines = [f"{word}={count}" for word, count in sorted(counts.items(), key=lambda c: (-c[1], c[0]))]
    longest = sorted(by_prefix.items(), key=lambda p: (-len(p[1]), p[0]))[:50]
    digest.update("\n".join(lines).encode())
    digest.update(repr([(prefix, len(positions), sum(positions)) for prefix, positions in longest]).encode())
    digest.update(repr(sorted(pairs)[:1000]).encode())
print("dicts", len(counts), digest.hexdigest()[:32])
