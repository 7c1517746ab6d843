// Test support: the smallest llama model llama.cpp loads (docs/gguf-notes.md, "The reference's model loader"), built
// with our Writer, with knobs to break it in named ways.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gguf/writer.hpp"

namespace testing_support {

struct TinyLlama {
    std::uint32_t n_embd = 32;
    std::uint32_t n_layer = 1;
    std::uint32_t n_head = 4;
    std::uint32_t n_ff = 64;
    std::uint32_t n_vocab = 8;
    std::string skip_tensor;  // leave this tensor out
    std::string nan_tensor;   // put a NaN in this tensor's data
    bool skip_context_length = false;
};

inline std::vector<std::byte> tiny_f32(std::uint64_t n, std::uint64_t seed, bool nan) {
    std::vector<std::byte> out(n * 4);
    for (std::uint64_t i = 0; i < n; ++i) {
        float v = static_cast<float>(static_cast<int>((i * 7 + seed * 13) % 17) - 8) / 64.0f;
        if (nan && i == n / 2) v = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(out.data() + 4 * i, &v, 4);
    }
    return out;
}

inline gguf::Writer tiny_llama(const TinyLlama& m = {}) {
    gguf::Writer w;
    w.add("general.architecture", gguf::Value::string("llama"));
    w.add("general.name", gguf::Value::string("tiny llama for gguf-crossval tests"));
    if (!m.skip_context_length) w.add("llama.context_length", gguf::Value::u32(64));
    w.add("llama.embedding_length", gguf::Value::u32(m.n_embd));
    w.add("llama.block_count", gguf::Value::u32(m.n_layer));
    w.add("llama.feed_forward_length", gguf::Value::u32(m.n_ff));
    w.add("llama.attention.head_count", gguf::Value::u32(m.n_head));
    w.add("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
    w.add("llama.vocab_size", gguf::Value::u32(m.n_vocab));
    w.add("tokenizer.ggml.model", gguf::Value::string("none"));
    std::uint64_t seed = 0;
    auto tensor = [&](const std::string& name, std::vector<std::uint64_t> dims) {
        if (name == m.skip_tensor) return;
        std::uint64_t n = 1;
        for (auto d : dims) n *= d;
        (void)w.add_tensor(name, 0, std::move(dims), tiny_f32(n, ++seed, name == m.nan_tensor));
    };
    const std::uint64_t e = m.n_embd, ff = m.n_ff, v = m.n_vocab;
    tensor("token_embd.weight", {e, v});
    tensor("output_norm.weight", {e});
    for (std::uint32_t l = 0; l < m.n_layer; ++l) {
        const auto p = "blk." + std::to_string(l) + ".";
        tensor(p + "attn_norm.weight", {e});
        tensor(p + "attn_q.weight", {e, e});
        tensor(p + "attn_k.weight", {e, e});
        tensor(p + "attn_v.weight", {e, e});
        tensor(p + "attn_output.weight", {e, e});
        tensor(p + "ffn_norm.weight", {e});
        tensor(p + "ffn_gate.weight", {e, ff});
        tensor(p + "ffn_up.weight", {e, ff});
        tensor(p + "ffn_down.weight", {ff, e});
    }
    return w;
}

// Number of parameters of tiny_llama(m), worked out from the shapes above.
inline std::uint64_t tiny_llama_params(const TinyLlama& m) {
    const std::uint64_t e = m.n_embd, ff = m.n_ff, v = m.n_vocab;
    return e * v + e + m.n_layer * (e + 4 * e * e + e + 3 * e * ff);
}

}  // namespace testing_support
