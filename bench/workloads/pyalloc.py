"""The `python` workload: Debian's python3 with PYTHONMALLOC=malloc (every object through the
malloc under test) building and dropping many dicts, lists and strings. Fixed seed."""
import random
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
rng = random.Random(42)
total = 0
for r in range(rounds):
    table = {}
    for i in range(20000):
        key = "k%d-%d" % (rng.randrange(100000), i % 7)
        table[key] = [str(j) * (j % 5) for j in range(rng.randrange(12))]
    words = " ".join(table).split()
    total += len(words) + sum(len(v) for v in table.values())
    del table, words
print(total)
