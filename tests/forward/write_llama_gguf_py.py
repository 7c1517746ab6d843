#!/usr/bin/python3
"""Write a small llama-architecture GGUF file with gguf-py's GGUFWriter (another writer than ours),
for the forward-pass tests. Weights are seeded numpy normals in F32 (not F16-exact).

usage: write_llama_gguf_py.py GGUF_PY_DIR OUT.gguf VARIANT [SEED]

VARIANT:
  gqa_tied    n_embd 48, 3 layers, 6 heads / 2 KV heads (head 8), ff 80, no output.weight (tied)
  mqa_output  n_embd 64, 2 layers, 4 heads / 1 KV head (head 16), ff 96, output.weight, freq_base
              500000, rms eps 1e-6
Prints nothing on success; exits 1 with a message otherwise.
"""
import sys


def main():
    gguf_py, out, variant = sys.argv[1], sys.argv[2], sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    sys.path.insert(0, gguf_py)
    import numpy as np
    from gguf import GGUFWriter

    shapes = {
        "gqa_tied": dict(embd=48, layers=3, heads=6, kv=2, ff=80, tied=True, base=10000.0, eps=1e-5),
        "mqa_output": dict(embd=64, layers=2, heads=4, kv=1, ff=96, tied=False, base=500000.0, eps=1e-6),
    }
    if variant not in shapes:
        sys.exit(f"unknown variant {variant!r}")
    s = shapes[variant]
    rng = np.random.default_rng(seed)
    head = s["embd"] // s["heads"]

    # An SPM vocabulary llama.cpp accepts: <unk> <s> </s>, the 256 byte tokens, and a few pieces.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + [f"\u2581p{i}" for i in range(41)]
    types = [2, 3, 3] + [6] * 256 + [1] * 41
    scores = [0.0] * 259 + [-float(i) for i in range(41)]
    n_vocab = len(tokens)

    w = GGUFWriter(out, "llama")
    w.add_name(f"gguf-py {variant}")
    w.add_context_length(256)
    w.add_embedding_length(s["embd"])
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ff"])
    w.add_head_count(s["heads"])
    w.add_head_count_kv(s["kv"])
    w.add_rope_dimension_count(head)
    w.add_rope_freq_base(s["base"])
    w.add_layer_norm_rms_eps(s["eps"])
    w.add_vocab_size(n_vocab)
    w.add_file_type(0)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def mat(name, rows, cols, scale):
        # numpy (rows, cols) is GGUF dims [cols, rows]: rows of `cols` elements.
        w.add_tensor(name, (rng.standard_normal((rows, cols)) * scale).astype(np.float32))

    def norm(name, n):
        w.add_tensor(name, (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32))

    e, ff, kv = s["embd"], s["ff"], s["kv"] * head
    mat("token_embd.weight", n_vocab, e, 1.0)
    norm("output_norm.weight", e)
    if not s["tied"]:
        mat("output.weight", n_vocab, e, 0.5)
    for i in range(s["layers"]):
        norm(f"blk.{i}.attn_norm.weight", e)
        mat(f"blk.{i}.attn_q.weight", e, e, 0.3)
        mat(f"blk.{i}.attn_k.weight", kv, e, 0.3)
        mat(f"blk.{i}.attn_v.weight", kv, e, 0.3)
        mat(f"blk.{i}.attn_output.weight", e, e, 0.3)
        norm(f"blk.{i}.ffn_norm.weight", e)
        mat(f"blk.{i}.ffn_gate.weight", ff, e, 0.3)
        mat(f"blk.{i}.ffn_up.weight", ff, e, 0.3)
        mat(f"blk.{i}.ffn_down.weight", e, ff, 0.3)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
