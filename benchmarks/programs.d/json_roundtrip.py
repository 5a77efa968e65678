"""JSON round trips, as a web service or a configuration tool does them:
records with nested lists and dicts are built, dumped, parsed back,
compared, changed and dumped again. Prints a digest of the final texts.

    python3 json_roundtrip.py [SCALE]
"""

import hashlib
import json
import random
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
rng = random.Random(2)
digest = hashlib.sha256()


def record(index):
    return {
        "id": index,
        "name": f"user-{index:06d}",
        "email": f"user{index}@example.org",
        "score": rng.randint(0, 10000) / 100,
        "tags": [rng.choice(["red", "green", "blue", "admin", "guest", "beta"])
                 for _ in range(rng.randint(0, 6))],
        "history": [{"day": day, "visits": rng.randint(0, 50), "pages": [f"/p/{rng.randint(0, 999)}"
                     for _ in range(rng.randint(0, 4))]} for day in range(rng.randint(0, 8))],
        "active": rng.random() < 0.7,
        "note": None if rng.random() < 0.5 else "x" * rng.randint(0, 200),
    }


for _ in range(max(1, round(3 * scale))):
    records = [record(index) for index in range(3000)]
    text = json.dumps(records)
    parsed = json.loads(text)
    if parsed != records:
        sys.exit("json_roundtrip: a round trip changed the data")
    for entry in parsed:
        entry["visits"] = sum(day["visits"] for day in entry.pop("history"))
        entry["tags"] = sorted(set(entry["tags"]))
    pretty = json.dumps(parsed, indent=2, sort_keys=True)
    again = json.loads(pretty)
    digest.update(json.dumps(again, separators=(",", ":"), sort_keys=True).encode())
print("json_roundtrip", len(pretty), digest.hexdigest()[:32])
