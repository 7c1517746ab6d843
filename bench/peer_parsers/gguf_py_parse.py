"""Time gguf-py's GGUFReader on one file inside the interpreter (start-up and import excluded).

usage: gguf_py_parse.py GGUF_PY_DIR FILE REPEATS
Prints one JSON object: the median, minimum and count of the parse times, in milliseconds.
"""
import json
import statistics
import sys
import time

gguf_py_dir, path, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, gguf_py_dir)
from gguf import GGUFReader  # noqa: E402  (the path above is where it lives)

times = []
for _ in range(repeats):
    start = time.perf_counter()
    reader = GGUFReader(path, "r")
    count = len(reader.fields) + len(reader.tensors)
    times.append((time.perf_counter() - start) * 1000.0)
    del reader
print(json.dumps({"median_ms": statistics.median(times), "min_ms": min(times), "runs": len(times),
                  "fields_and_tensors": count}))
