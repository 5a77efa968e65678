"""A small object graph that churns, as an interpreter's programs build and
drop structures: nodes with attribute dicts and child lists form graphs
(with cycles, so the collector has work), a window of recent graphs stays
alive while older ones are dropped, and every graph is walked before it
goes. Prints a digest of the walks.

    python3 objects.py [SCALE]
"""

import gc
import hashlib
import random
import sys

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
rng = random.Random(3)
digest = hashlib.sha256()


class Node:
    def __init__(self, label, weight):
        self.label = label
        self.weight = weight
        self.children = []
        self.parent = None
        self.attributes = {"seen": 0, "name": f"n{label}"}


def build(size):
    nodes = [Node(i, rng.randint(1, 1000)) for i in range(size)]
    for node in nodes[1:]:
        parent = nodes[rng.randrange(0, node.label)]
        parent.children.append(node)
        node.parent = parent  # a cycle: only the collector frees it
        if rng.random() < 0.1:
            node.attributes["friend"] = nodes[rng.randrange(0, size)]
    return nodes[0]


def walk(root):
    total, count, stack = 0, 0, [root]
    while stack:
        node = stack.pop()
        node.attributes["seen"] += 1
        total += node.weight * (len(node.children) + 1)
        count += 1
        stack.extend(node.children)
    return total, count


window, walked = [], 0
for step in range(max(1, round(100 * scale))):
    window.append(build(rng.randint(100, 3000)))
    if len(window) > 20:
        digest.update(repr(walk(window.pop(rng.randrange(0, len(window))))).encode())
        walked += 1
    if step % 25 == 24:
        gc.collect()
for root in window:
    digest.update(repr(walk(root)).encode())
    walked += 1
print("objects", walked, digest.hexdigest()[:32])
