#include "decode.hpp"

#include <dlfcn.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "compat.hpp"

namespace probe {

std::string libllama_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&llama_model_default_params), &info) == 0 || info.dli_fname == nullptr)
        return {};
    std::string path = info.dli_fname;
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

namespace {

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

}  // namespace

bool parse_decode_options(const Args& args, DecodeOptions& out, std::string& error) {
    if (auto t = args.option("threads")) {
        out.threads = std::atoi(t->c_str());
        if (out.threads < 1 || out.threads > 256) {
            error = "--threads must be 1..256";
            return false;
        }
    }
    const std::string fa = args.option("flash-attn").value_or("off");
    if (fa != "off" && fa != "on") {
        error = "--flash-attn must be off or on";
        return false;
    }
    out.flash_attn = fa == "on";
    out.kv_given = args.option("kv").has_value();
    out.kv = args.option("kv").value_or("f32");
    if (out.kv != "f32" && out.kv != "f16") {
        error = "--kv must be f32 or f16";
        return false;
    }
    out.tokens = args.option("tokens").value_or("");
    const std::string bos = args.option("bos-first").value_or("no");
    if (bos != "yes" && bos != "no") {
        error = "--bos-first must be yes or no";
        return false;
    }
    out.bos_first = bos == "yes";
    out.libdir = args.option("libdir").value_or(libllama_dir());
    return true;
}

Session::~Session() {
    if (ctx) llama_free(ctx);
    if (model) compat::free_model(model);
}

bool load_and_decode(const std::string& file, const DecodeOptions& o, ggml_backend_sched_eval_callback cb_eval,
                     void* cb_data, Session& s, std::string& error) {
    llama_backend_init();
    compat::load_backends(o.libdir.c_str());

    llama_model_params mparams = llama_model_default_params();
    mparams.n_gpu_layers = 0;
    compat::set_mmap(mparams);
    s.model = compat::load_model(file.c_str(), mparams);
    if (s.model == nullptr) {
        error = "llama_model_load_from_file returned NULL";
        return false;
    }
    s.n_vocab = compat::n_vocab(s.model);

    if (!o.tokens.empty()) {
        if (!parse_tokens(o.tokens, s.tokens)) {
            error = "--tokens must be a comma-separated list of token ids, e.g. 1,72,101";
            return false;
        }
    } else if (s.n_vocab >= 3 + 256) {
        s.tokens = {1, 3 + 'H', 3 + 'i', 3 + '!'};  // BOS, then the SPM byte tokens <0x48> <0x69> <0x21>
    } else {
        s.tokens = {1, 2, 3};
    }
    if (o.bos_first) {
        if (const int bos = compat::bos_if_added(s.model); bos >= 0) s.tokens[0] = bos;
    }
    for (llama_token t : s.tokens) {
        if (t >= s.n_vocab) {
            error = "token id " + std::to_string(t) + " is not below n_vocab " + std::to_string(s.n_vocab);
            return false;
        }
    }
    const auto n = static_cast<std::uint32_t>(s.tokens.size());

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = n < 16 ? 16 : n;
    cparams.n_batch = cparams.n_ctx;
    cparams.n_ubatch = cparams.n_ctx;  // one micro-batch: every token in one graph
    cparams.n_seq_max = 1;
    cparams.n_threads = o.threads;
    cparams.n_threads_batch = o.threads;
    compat::set_flash_attn(cparams, o.flash_attn);
    cparams.type_k = o.kv == "f32" ? GGML_TYPE_F32 : GGML_TYPE_F16;
    cparams.type_v = cparams.type_k;
    cparams.no_perf = true;
    cparams.cb_eval = cb_eval;
    cparams.cb_eval_user_data = cb_data;
    s.ctx = compat::new_context(s.model, cparams);
    // Releases before 2025 (bitnet.cpp's fork among them) refuse a V cache other than f16 without
    // flash attention ("V cache quantization requires flash_attn"), and the fork's CPU flash attention
    // crashes on an f32 cache. When the cache type was not asked for explicitly, such a reference
    // decodes with its own default, an f16 cache; the output says so ("kv", "kv_note").
    s.kv_used = o.kv;
    if (s.ctx == nullptr && o.kv == "f32" && !o.flash_attn && !o.kv_given) {
        cparams.type_k = GGML_TYPE_F16;
        cparams.type_v = GGML_TYPE_F16;
        s.ctx = compat::new_context(s.model, cparams);
        if (s.ctx != nullptr) {
            s.kv_used = "f16";
            s.kv_note =
                "this reference refuses an f32 V cache without flash attention: its default f16 KV cache is used";
        }
    }
    if (s.ctx == nullptr) {
        error = "llama_init_from_model returned NULL";
        return false;
    }

    llama_batch batch = llama_batch_init(static_cast<std::int32_t>(n), 0, 1);
    for (std::uint32_t i = 0; i < n; ++i) {
        batch.token[i] = s.tokens[i];
        batch.pos[i] = static_cast<llama_pos>(i);
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = static_cast<std::int32_t>(n);
    const auto start = std::chrono::steady_clock::now();
    const std::int32_t rc = llama_decode(s.ctx, batch);
    s.decode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    llama_batch_free(batch);
    if (rc != 0) {
        error = "llama_decode returned " + std::to_string(rc);
        return false;
    }
    return true;
}

}  // namespace probe
