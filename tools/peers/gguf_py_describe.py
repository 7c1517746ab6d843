#!/usr/bin/python3
"""What gguf-py's GGUFReader makes of a GGUF file, as ONE JSON object on stdout per file.

usage: gguf_py_describe.py GGUF_PY_DIR FILE [FILE...]

One line per FILE, in order, each written and flushed as soon as that file is done: if the process
dies on some file, the lines already printed stand and the caller knows which file it died on.

GGUF_PY_DIR is the directory holding the `gguf` package (the pinned reference's src/gguf-py).
The object has the form the reference probe's `header` mode prints (tools/ref-probe/mode_header.cpp),
so that gguf::reference::description_from_header turns it into a Description:
  {"ok": true, "reader", "version", "n_kv", "n_tensors", "alignment", "data_offset", "file_size",
   "kv": [{"key_hex", "type", "value"} | {"key_hex", "type": 9, "elem_type", "n", "values"}],
   "tensors": [{"name_hex", "type", "n_dims", "dims", "offset", "size"}]}
  - strings and keys as hex of their bytes; signed integers as JSON integers; unsigned integers,
    floats (their IEEE bit pattern) and bools (the stored byte) as the unsigned value of their bytes;
  - arrays in full; an element of an array of arrays is itself {"elem_type", "n", "values"};
  - dims as stored (gguf-py keeps the stored count), offset relative to the data section
    (ReaderTensor.data_offset - GGUFReader.data_offset), size = ReaderTensor.n_bytes.
Anything the reader raises: {"ok": false, "error": "<ExceptionType>: <message>"}, with
"unreadable": true when the file could not be opened at all (FileNotFoundError, PermissionError).

Thin on purpose: every number comes from the reader's own objects (fields, their parts, tensors);
nothing is checked or corrected here. The exit code is 0 whenever a JSON object was printed.
"""
import json
import os
import sys
import types


def load_reader(gguf_py_dir):
    # Import gguf.gguf_reader without running gguf/__init__.py, which pulls in the writer, vocab and
    # metadata modules the reader does not use (about half the start-up time). The reader's own
    # modules (constants, quants, lazy) load as they would inside the package.
    package = types.ModuleType("gguf")
    package.__path__ = [os.path.join(gguf_py_dir, "gguf")]
    sys.modules["gguf"] = package
    from gguf.gguf_reader import GGUFReader
    from gguf.constants import GGUFValueType
    return GGUFReader, GGUFValueType


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main(argv):
    if len(argv) < 3:
        emit({"ok": False, "error": "usage: gguf_py_describe.py GGUF_PY_DIR FILE [FILE...]"})
        return 0
    gguf_py_dir, paths = argv[1], argv[2:]
    try:
        GGUFReader, VT = load_reader(gguf_py_dir)
    except Exception as e:  # noqa: BLE001 -- the peer is not usable: say so, the caller marks it unavailable
        for _ in paths:
            emit({"ok": False, "unavailable": True, "error": f"cannot import gguf-py: {type(e).__name__}: {e}"})
        return 0
    import numpy as np

    signed = {VT.INT8, VT.INT16, VT.INT32, VT.INT64}

    def scalar(part, vtype):
        # part is the 1-element array the reader keeps, in the file's byte order.
        if vtype in signed:
            return int(part[0])
        bits = part.view(np.dtype(f"u{part.dtype.itemsize}").newbyteorder(part.dtype.byteorder))
        return int(bits[0])

    def value(parts, i, vtype):
        """The value whose parts start at parts[i]: (json, index after it)."""
        if vtype == VT.STRING:  # [length, bytes]
            return parts[i + 1].tobytes().hex(), i + 2
        if vtype == VT.ARRAY:  # [elem_type, n, element parts...]
            elem = VT(int(parts[i][0]))
            n = int(parts[i + 1][0])
            i += 2
            values = []
            for _ in range(n):
                v, i = value(parts, i, elem)
                values.append(v)
            return {"elem_type": int(elem), "n": n, "values": values}, i
        return scalar(parts[i], vtype), i + 1

    def describe(path):
        reader = GGUFReader(path, "r")
        fields = list(reader.fields.values())
        # The reader puts three fields of its own first: GGUF.version, GGUF.tensor_count, GGUF.kv_count.
        header, kv_fields = fields[:3], fields[3:]
        kvs = []
        for f in kv_fields:
            # parts: [key length, key bytes, value type, value parts...]
            vtype = VT(int(f.parts[2][0]))
            kv = {"key_hex": f.parts[1].tobytes().hex(), "type": int(vtype)}
            v, _ = value(f.parts, 3, vtype)
            if vtype == VT.ARRAY:
                kv.update(v)
            else:
                kv["value"] = v
            kvs.append(kv)
        tensors = []
        for t in reader.tensors:
            dims = [int(d) for d in t.shape]
            tensors.append({
                "name_hex": t.name.encode("utf-8").hex(),
                "type": int(t.tensor_type),
                "n_dims": len(dims),
                "dims": dims,
                "offset": int(t.data_offset) - int(reader.data_offset),
                "size": int(t.n_bytes),
            })
        return {
            "ok": True,
            "reader": "gguf-py GGUFReader",
            "version": int(header[0].contents()),
            "n_tensors": int(header[1].contents()),
            "n_kv": int(header[2].contents()),
            "alignment": int(reader.alignment),
            "data_offset": int(reader.data_offset),
            "file_size": int(reader.data.nbytes),
            "kv": kvs,
            "tensors": tensors,
        }

    for path in paths:
        try:
            out = describe(path)
        except (FileNotFoundError, PermissionError) as e:
            # The file is gone or cannot be opened (deleted during the run): no verdict on its bytes.
            out = {"ok": False, "unreadable": True, "error": f"{type(e).__name__}: {e}"}
        except Exception as e:  # noqa: BLE001 -- whatever the reader raises is its verdict: reject
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        emit(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
