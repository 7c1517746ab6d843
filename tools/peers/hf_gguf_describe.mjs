// What @huggingface/gguf makes of a GGUF file, as ONE JSON object on stdout per file.
//
// usage: node hf_gguf_describe.mjs HF_GGUF_DIR FILE [FILE...]
//
// One line per FILE, in order, each written as soon as that file is done (writes to a pipe are
// synchronous on Linux): if the process dies on some file, the lines already printed stand.
//
// HF_GGUF_DIR is the installed package (node_modules/@huggingface/gguf, see scripts/fetch-peers).
// The call is gguf(FILE, {allowLocalFile: true, typedMetadata: true}): typedMetadata only adds the
// value type ids the plain call drops. The object has the form the reference probe's `header` mode
// prints (tools/ref-probe/mode_header.cpp), so that gguf::reference::description_from_header turns
// it into a Description, with these differences, all because the library does not return the field:
//   - no "alignment": the library uses general.alignment internally and does not return it;
//   - tensors carry no "size": GGUFTensorInfo is {name, n_dims, shape, dtype, offset};
//   - bools are 0/1: the library returns `byte !== 0`, not the stored byte;
//   - strings are hex of the UTF-8 encoding of the string the library decoded (TextDecoder replaces
//     invalid sequences with U+FFFD);
//   - floats are the bit pattern of the JS number the library returned, written back as float32/64
//     (JS may not keep a NaN's payload);
//   - an element of an array of arrays is {"elem_type": null, "n", "values"}: the library returns
//     the nested JS arrays but not the inner element type.
// "version", "n_tensors" and "n_kv" are the library's metadata.version / tensor_count / kv_count;
// "kv" is every other entry of typedMetadata, in the object's own key order.
// Anything the library throws (or a rejected promise): {"ok": false, "error": "<name>: <message>"},
// with "unreadable": true when the file could not be opened at all (ENOENT, EACCES, EPERM).
import { createRequire } from "node:module";
import { statSync } from "node:fs";
import path from "node:path";

const T = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
            UINT64: 10, INT64: 11, FLOAT64: 12 };
const BUILTIN = new Set(["version", "tensor_count", "kv_count"]);

// JSON with BigInt as plain integers (JSON.stringify refuses BigInt).
function toJson(v) {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return "[" + v.map(toJson).join(",") + "]";
  if (v !== null && typeof v === "object") {
    return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ":" + toJson(x)).join(",") + "}";
  }
  return JSON.stringify(v);
}

function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

function floatBits(x, size) {
  const view = new DataView(new ArrayBuffer(size));
  if (size === 4) {
    view.setFloat32(0, x, true);
    return view.getUint32(0, true);
  }
  view.setFloat64(0, x, true);
  return view.getBigUint64(0, true);
}

// One element as the probe's form has it. elemType null: unknown (inside a nested array).
function element(v, type) {
  if (Array.isArray(v)) {
    return { elem_type: null, n: v.length, values: v.map((x) => element(x, null)) };
  }
  switch (type) {
    case T.STRING: return hex(new TextEncoder().encode(v));
    case T.FLOAT32: return floatBits(v, 4);
    case T.FLOAT64: return floatBits(v, 8);
    case T.BOOL: return v ? 1 : 0;
    default: return typeof v === "string" ? hex(new TextEncoder().encode(v)) : v;  // integers (number or bigint)
  }
}

// The library's gguf() from the package directory, or an error message.
async function load(dir) {
  try {
    const require = createRequire(path.join(path.resolve(dir), "package.json"));
    return { gguf: require(path.resolve(dir)).gguf };
  } catch (e) {
    return { error: `cannot load @huggingface/gguf from ${dir}: ${e}` };
  }
}

async function describe(gguf, file) {
  try {
    const r = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    const kv = [];
    for (const [key, entry] of Object.entries(r.typedMetadata)) {
      if (BUILTIN.has(key)) continue;
      const item = { key_hex: hex(new TextEncoder().encode(key)), type: entry.type };
      if (entry.type === T.ARRAY) {
        item.elem_type = entry.subType ?? null;
        item.n = entry.value.length;
        item.values = entry.value.map((x) => element(x, entry.subType));
      } else {
        item.value = element(entry.value, entry.type);
      }
      kv.push(item);
    }
    const tensors = r.tensorInfos.map((t) => ({
      name_hex: hex(new TextEncoder().encode(t.name)),
      type: t.dtype,
      n_dims: t.n_dims,
      dims: t.shape,
      offset: t.offset,
    }));
    return {
      ok: true,
      reader: "@huggingface/gguf",
      version: r.metadata.version,
      n_tensors: r.metadata.tensor_count,
      n_kv: r.metadata.kv_count,
      data_offset: r.tensorDataOffset,
      file_size: statSync(file).size,
      kv,
      tensors,
    };
  } catch (e) {
    const out = { ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    // The file is gone or cannot be opened (deleted during the run): no verdict on its bytes.
    if (e && (e.code === "ENOENT" || e.code === "EACCES" || e.code === "EPERM")) out.unreadable = true;
    return out;
  }
}

async function main() {
  const emit = (obj) => process.stdout.write(toJson(obj) + "\n");
  const args = process.argv.slice(2);
  if (args.length < 2) {
    emit({ ok: false, error: "usage: node hf_gguf_describe.mjs HF_GGUF_DIR FILE [FILE...]" });
    return;
  }
  const [dir, ...files] = args;
  const lib = await load(dir);
  for (const file of files) {
    if (lib.error) emit({ ok: false, unavailable: true, error: lib.error });
    else emit(await describe(lib.gguf, file));
  }
}

main().catch((e) => process.stdout.write(toJson({ ok: false, error: `unexpected: ${e}` }) + "\n"));
