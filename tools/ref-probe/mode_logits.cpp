// Mode `logits`: decode one token sequence with llama.cpp on the CPU and print the logits of every
// position, for comparison with an implementation under test (src/crossval/logits.hpp).
//
//   logits FILE [--tokens 1,72,101] [--threads 1] [--flash-attn off|on] [--kv f32|f16] [--libdir D]
//
// One sequence, one batch, one thread by default, a context just large enough for the tokens, and
// an output requested for every position. The KV cache is f32 by default (llama.cpp's own default
// is f16, which rounds K and V and moves the logits by about 1e-3 on the tiny models): an
// implementation under test computing in f32 is then compared with an f32 computation. Fields: "n_vocab", "n_positions", "tokens", and
// "logits_bits": one array per position of the IEEE-754 bit patterns (u32) of the n_vocab floats:
// lossless, NaN and infinities included (JSON numbers could not carry those).
// Default tokens: BOS then the byte tokens of "Hi!" when the vocabulary has them, else 1, 2, 3.
#include <dlfcn.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "compat.hpp"
#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"
#include "probe.hpp"

namespace probe {
namespace {

std::string libllama_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&llama_model_default_params), &info) == 0 || info.dli_fname == nullptr) return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// "1,2,3" -> {1,2,3}; false on anything else (empty items, signs, overflow).
bool parse_tokens(const std::string& text, std::vector<llama_token>& out) {
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const std::size_t comma = std::min(text.find(',', pos), text.size());
        const std::string item = text.substr(pos, comma - pos);
        if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos) return false;
        errno = 0;
        const unsigned long v = std::strtoul(item.c_str(), nullptr, 10);
        if (errno != 0 || v > 0x7FFFFFFFul) return false;
        out.push_back(static_cast<llama_token>(v));
        pos = comma + 1;
    }
    return !out.empty();
}

std::uint32_t float_bits(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

struct ModelFree {
    llama_model* p;
    ~ModelFree() { if (p) compat::free_model(p); }
};
struct ContextFree {
    llama_context* p;
    ~ContextFree() { if (p) llama_free(p); }
};

}  // namespace

bool mode_logits(const Args& args, Json& out, std::string& error) {
    if (!args.file) {
        error = "mode logits needs a FILE";
        return false;
    }
    int threads = 1;
    if (auto t = args.option("threads")) {
        threads = std::atoi(t->c_str());
        if (threads < 1 || threads > 256) {
            error = "--threads must be 1..256";
            return false;
        }
    }
    const std::string fa = args.option("flash-attn").value_or("off");
    if (fa != "off" && fa != "on") {
        error = "--flash-attn must be off or on";
        return false;
    }
    const std::string kv = args.option("kv").value_or("f32");
    if (kv != "f32" && kv != "f16") {
        error = "--kv must be f32 or f16";
        return false;
    }
    const std::string libdir = args.option("libdir").value_or(libllama_dir());
    llama_backend_init();
    compat::load_backends(libdir.c_str());

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    compat::set_mmap(mparams);
    ModelFree model{compat::load_model(args.file->c_str(), mparams)};
    if (model.p == nullptr) {
        error = "llama_model_load_from_file returned NULL";
        return false;
    }
    const int n_vocab = compat::n_vocab(model.p);

    std::vector<llama_token> tokens;
    if (auto t = args.option("tokens")) {
        if (!parse_tokens(*t, tokens)) {
            error = "--tokens must be a comma-separated list of token ids, e.g. 1,72,101";
            return false;
        }
    } else if (n_vocab >= 3 + 256) {
        tokens = {1, 3 + 'H', 3 + 'i', 3 + '!'};  // BOS, then the SPM byte tokens <0x48> <0x69> <0x21>
    } else {
        tokens = {1, 2, 3};
    }
    for (llama_token t : tokens) {
        if (t >= n_vocab) {
            error = "token id " + std::to_string(t) + " is not below n_vocab " + std::to_string(n_vocab);
            return false;
        }
    }
    const auto n = static_cast<std::uint32_t>(tokens.size());

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = n < 16 ? 16 : n;
    cparams.n_batch = cparams.n_ctx;
    cparams.n_ubatch = cparams.n_ctx;
    cparams.n_seq_max = 1;
    cparams.n_threads = threads;
    cparams.n_threads_batch = threads;
    compat::set_flash_attn(cparams, fa == "on");
    cparams.type_k = kv == "f32" ? GGML_TYPE_F32 : GGML_TYPE_F16;
    cparams.type_v = cparams.type_k;
    cparams.no_perf = true;
    ContextFree ctx{compat::new_context(model.p, cparams)};
    // Releases before 2025 (bitnet.cpp's fork among them) refuse a V cache other than f16 without
    // flash attention ("V cache quantization requires flash_attn"), and the fork's CPU flash attention
    // crashes on an f32 cache. When the cache type was not asked for explicitly, such a reference
    // decodes with its own default, an f16 cache; the output says so ("kv", "kv_note").
    std::string kv_used = kv;
    std::string kv_note;
    if (ctx.p == nullptr && kv == "f32" && fa == "off" && !args.option("kv")) {
        cparams.type_k = GGML_TYPE_F16;
        cparams.type_v = GGML_TYPE_F16;
        ctx.p = compat::new_context(model.p, cparams);
        if (ctx.p != nullptr) {
            kv_used = "f16";
            kv_note = "this reference refuses an f32 V cache without flash attention: its default f16 KV cache is used";
        }
    }
    if (ctx.p == nullptr) {
        error = "llama_init_from_model returned NULL";
        return false;
    }

    llama_batch batch = llama_batch_init(static_cast<std::int32_t>(n), 0, 1);
    for (std::uint32_t i = 0; i < n; ++i) {
        batch.token[i] = tokens[i];
        batch.pos[i] = static_cast<llama_pos>(i);
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = static_cast<std::int32_t>(n);
    const std::int32_t rc = llama_decode(ctx.p, batch);
    llama_batch_free(batch);
    if (rc != 0) {
        error = "llama_decode returned " + std::to_string(rc);
        return false;
    }

    out.field("n_vocab", n_vocab);
    out.field("n_positions", n);
    out.field("threads", threads);
    out.field("flash_attn", fa == "on");
    out.field("kv", kv_used);
    if (!kv_note.empty()) out.field("kv_note", kv_note);
    out.key("tokens").begin_array();
    for (llama_token t : tokens) out.value(t);
    out.end_array();
    out.key("logits_bits").begin_array();
    for (std::uint32_t i = 0; i < n; ++i) {
        const float* row = llama_get_logits_ith(ctx.p, static_cast<std::int32_t>(i));
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
