// Mode `logits`: decode one token sequence with llama.cpp on the CPU and print the logits of every
// position, for comparison with an implementation under test (src/crossval/logits.hpp).
//
//   logits FILE [--tokens 1,72,101] [--bos-first yes|no] [--threads 1] [--flash-attn off|on] [--kv f32|f16]
//          [--output PATH] [--libdir D]
//
// One sequence, one batch, one thread by default, a context just large enough for the tokens, and
// an output requested for every position. --bos-first yes replaces the first token by BOS when the
// model's tokenizer adds one, as llama-perplexity does at the start of each chunk.
// The KV cache is f32 by default (llama.cpp's own default
// is f16, which rounds K and V and moves the logits by about 1e-3 on the tiny models): an
// implementation under test computing in f32 is then compared with an f32 computation. Fields: "n_vocab",
// "n_positions", "tokens", "decode_us" (the wall time of llama_decode alone, microseconds), and "logits_bits": one
// array per position of the IEEE-754 bit patterns (u32) of the n_vocab floats: lossless, NaN and infinities included
// (JSON numbers could not carry those). Default tokens: BOS then the byte tokens of "Hi!" when the vocabulary has them,
// else 1, 2, 3.
// With --output PATH the logits are written to PATH as a binary GLOG file (docs/logits-format.md: "GLOG",
// u32 version 1, u32 n_positions, u32 n_vocab, the f32 rows, little-endian), one row at a time, and the
// JSON carries "output" instead of "logits_bits": a long run is then not printed as text.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "decode.hpp"
#include "probe.hpp"

namespace probe {
namespace {

std::uint32_t float_bits(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

void put_u32(std::FILE* f, std::uint32_t v) {
    const unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                                static_cast<unsigned char>(v >> 16), static_cast<unsigned char>(v >> 24)};
    std::fwrite(b, 1, 4, f);
}

// Every position's logits as a GLOG file at `path`.
bool write_glog(const Session& s, std::uint32_t n, const std::string& path, std::string& error) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) {
        error = "cannot create " + path;
        return false;
    }
    std::fwrite("GLOG", 1, 4, f.get());
    put_u32(f.get(), 1);
    put_u32(f.get(), n);
    put_u32(f.get(), static_cast<std::uint32_t>(s.n_vocab));
    for (std::uint32_t i = 0; i < n; ++i) {
        const float* row = llama_get_logits_ith(s.ctx, static_cast<std::int32_t>(i));
        if (row == nullptr) {
            error = "llama_get_logits_ith returned NULL for position " + std::to_string(i);
            return false;
        }
        for (int v = 0; v < s.n_vocab; ++v) put_u32(f.get(), float_bits(row[v]));
    }
    if (std::ferror(f.get()) || std::fclose(f.release()) != 0) {
        error = "cannot write " + path;
        return false;
    }
    return true;
}

}  // namespace

bool mode_logits(const Args& args, Json& out, std::string& error) {
    if (!args.file) {
        error = "mode logits needs a FILE";
        return false;
    }
    DecodeOptions o;
    if (!parse_decode_options(args, o, error)) return false;
    Session s;
    if (!load_and_decode(*args.file, o, nullptr, nullptr, s, error)) return false;
    const int n_vocab = s.n_vocab;
    const auto n = static_cast<std::uint32_t>(s.tokens.size());

    out.field("n_vocab", n_vocab);
    out.field("n_positions", n);
    out.field("threads", o.threads);
    out.field("flash_attn", o.flash_attn);
    out.field("kv", s.kv_used);
    if (!s.kv_note.empty()) out.field("kv_note", s.kv_note);
    out.field("decode_us", static_cast<long long>(s.decode_ms * 1000));  // llama_decode alone
    out.key("tokens").begin_array();
    for (llama_token t : s.tokens) out.value(t);
    out.end_array();
    if (const auto output = args.option("output")) {
        if (!write_glog(s, n, *output, error)) return false;
        out.field("output", *output);
        return true;
    }
    out.key("logits_bits").begin_array();
    for (std::uint32_t i = 0; i < n; ++i) {
        const float* row = llama_get_logits_ith(s.ctx, static_cast<std::int32_t>(i));
        if (row == nullptr) {
            error = "llama_get_logits_ith returned NULL for position " + std::to_string(i);
            return false;
        }
        out.begin_array();
        for (int v = 0; v < n_vocab; ++v) out.value(float_bits(row[v]));
        out.end_array();
    }
    out.end_array();
    return true;
}

}  // namespace probe
