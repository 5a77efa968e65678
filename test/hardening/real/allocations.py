# Allocation-heavy and deterministic: prints digests of what it built.
import hashlib
import json
import threading


def digest(value):
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def objects(n):
    class Node:
        __slots__ = ("key", "children")

        def __init__(self, key):
            self.key = key
            self.children = []

    nodes = [Node(i) for i in range(n)]
    for i in range(1, n):
        nodes[(i * 7919) % i].children.append(nodes[i])
    return sum(len(node.children) * node.key for node in nodes)


def strings(n):
    parts = [str(i) * (i % 50) for i in range(n)]
    joined = "|".join(parts)
    return digest(sorted(set(joined.split("|")), key=len)[-20:])


def big_integers():
    value = 1
    for i in range(1, 3000):
        value *= i
    return digest(hex(value))


def dicts(n):
    table = {}
    for i in range(n):
        table[f"key{i}"] = {"i": i, "list": list(range(i % 20)), "text": "x" * (i % 300)}
    for i in range(0, n, 3):
        del table[f"key{i}"]
    return digest(json.loads(json.dumps(table, sort_keys=True)))


def in_threads():
    results = [None] * 4

    def work(slot):
        results[slot] = dicts(20000 + slot)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


print("objects", objects(200000))
print("strings", strings(100000))
print("big integers", big_integers())
print("dicts", dicts(50000))
print("threads", in_threads())
