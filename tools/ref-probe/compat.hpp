// Differences between llama.cpp releases that the probe papers over, so that one source compiles
// against the pinned llama.cpp, a user's own build, and bitnet.cpp's 2024 fork. Every mode goes
// through these helpers instead of calling an API that only some releases have.
//
// Two kinds of detection:
//   - struct members: overloads that SFINAE on the member the headers at hand declare;
//   - free functions and headers: PROBE_HAS_<identifier> macros, 1 when the identifier occurs in the
//     reference's headers, 0 otherwise. src/reference/probe_build.cpp scans the headers and passes
//     them (-D); without them (a hand build) the defaults below assume a current llama.cpp.
//
// What bitnet.cpp (llama.cpp fork 406a503, 2024-10) lacks, and what stands in:
//   llama_model_load_from_file / llama_model_free  -> llama_load_model_from_file / llama_free_model
//   llama_init_from_model                          -> llama_new_context_with_model
//   llama_vocab (llama_model_get_vocab)            -> llama_n_vocab(model), llama_n_layer, llama_n_embd;
//                                                     the tokenizer calls take the model (see Tokenizer)
//   ggml_backend_load_all_from_path                -> nothing: the CPU backend is inside libggml
//   gguf.h, gguf_get_tensor_ne / _size             -> gguf_* in ggml.h; shapes from a metadata-only
//                                                     ggml context (see header_tensor_shapes)
//   flash_attn_type (enum)                         -> bool flash_attn
//   ggml-cpu.h (ggml_graph_compute_with_ctx)       -> declared in ggml.h
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "ggml.h"
#include "llama.h"

#ifndef PROBE_HAS_llama_model_load_from_file
#define PROBE_HAS_llama_model_load_from_file 1
#endif
#ifndef PROBE_HAS_llama_init_from_model
#define PROBE_HAS_llama_init_from_model 1
#endif
#ifndef PROBE_HAS_llama_model_get_vocab
#define PROBE_HAS_llama_model_get_vocab 1
#endif
#ifndef PROBE_HAS_ggml_backend_load_all_from_path
#define PROBE_HAS_ggml_backend_load_all_from_path 1
#endif
#ifndef PROBE_HAS_gguf_get_tensor_ne
#define PROBE_HAS_gguf_get_tensor_ne 1
#endif

#if __has_include("gguf.h")
#include "gguf.h"
#endif
#if __has_include("ggml-cpu.h")
#include "ggml-cpu.h"
#endif
#include "ggml-backend.h"

#if PROBE_HAS_ggml_backend_load_all_from_path
#include "cpu_backend.hpp"
#endif

namespace probe::compat {

// Memory-mapped loading: older releases have `bool use_mmap`, newer ones `load_mode` (1 = mmap).
template <class P>
auto set_mmap(P& p, int) -> decltype(p.use_mmap = true, void()) {
    p.use_mmap = true;
}
template <class P>
auto set_mmap(P& p, long) -> decltype(p.load_mode, void()) {
    p.load_mode = static_cast<decltype(p.load_mode)>(1);
}
template <class P>
void set_mmap(P& p) {
    set_mmap(p, 0);
}

// Flash attention on or off: `flash_attn_type` (an enum, 1 = enabled) or the older `bool flash_attn`.
template <class P>
auto set_flash_attn(P& p, bool on, int) -> decltype(p.flash_attn_type, void()) {
    p.flash_attn_type = static_cast<decltype(p.flash_attn_type)>(on ? 1 : 0);
}
template <class P>
auto set_flash_attn(P& p, bool on, long) -> decltype(p.flash_attn = on, void()) {
    p.flash_attn = on;
}
template <class P>
void set_flash_attn(P& p, bool on) {
    set_flash_attn(p, on, 0);
}

inline llama_model* load_model(const char* path, llama_model_params params) {
#if PROBE_HAS_llama_model_load_from_file
    return llama_model_load_from_file(path, params);
#else
    return llama_load_model_from_file(path, params);
#endif
}

inline void free_model(llama_model* model) {
#if PROBE_HAS_llama_model_load_from_file
    llama_model_free(model);
#else
    llama_free_model(model);
#endif
}

inline llama_context* new_context(llama_model* model, llama_context_params params) {
#if PROBE_HAS_llama_init_from_model
    return llama_init_from_model(model, params);
#else
    return llama_new_context_with_model(model, params);
#endif
}

inline int n_vocab(const llama_model* model) {
#if PROBE_HAS_llama_model_get_vocab
    return llama_vocab_n_tokens(llama_model_get_vocab(model));
#else
    return llama_n_vocab(model);
#endif
}

// The vocabulary's BOS token when the model's tokenizer adds one (llama-perplexity puts it at the start
// of every chunk), else -1.
inline int bos_if_added(const llama_model* model) {
#if PROBE_HAS_llama_model_get_vocab
    const llama_vocab* vocab = llama_model_get_vocab(model);
    return llama_vocab_get_add_bos(vocab) ? llama_vocab_bos(vocab) : -1;
#else
    return llama_add_bos_token(model) != 0 ? llama_token_bos(model) : -1;
#endif
}

inline int n_layer(const llama_model* model) {
#if PROBE_HAS_llama_model_get_vocab
    return llama_model_n_layer(model);
#else
    return llama_n_layer(model);
#endif
}

inline int n_embd(const llama_model* model) {
#if PROBE_HAS_llama_model_get_vocab
    return llama_model_n_embd(model);
#else
    return llama_n_embd(model);
#endif
}

// The handle the tokenizer calls take: the model's llama_vocab, or the model itself where the release
// has no llama_vocab (bitnet.cpp). llama_tokenize, llama_token_to_piece and llama_detokenize take it first.
#if PROBE_HAS_llama_model_get_vocab
using Tokenizer = const llama_vocab*;
inline Tokenizer tokenizer(const llama_model* model) {
    return llama_model_get_vocab(model);
}
#else
using Tokenizer = const llama_model*;
inline Tokenizer tokenizer(const llama_model* model) {
    return model;
}
#endif

// Make the CPU backend available: load the backend variants beside libggml where the release has a
// dynamic registry; a no-op (false) where the CPU backend is linked into libggml.
// Only the variant this CPU uses is opened when an earlier run has found it (cpu_backend.hpp).
inline bool load_backends(const char* libdir) {
#if PROBE_HAS_ggml_backend_load_all_from_path
    if (cpu_backend::load_remembered(libdir)) return true;
    ggml_backend_load_all_from_path(libdir);
    cpu_backend::remember(libdir);
    return true;
#else
    (void)libdir;
    return false;
#endif
}

// The type's row dequantizer from the ggml type traits, or nullptr when the type has none
// (bitnet.cpp's I2_S has none: its kernels read the codes directly).
inline ggml_to_float_t to_float(ggml_type type) {
    const auto* traits = ggml_get_type_traits(type);
    return traits != nullptr ? traits->to_float : nullptr;
}

}  // namespace probe::compat

namespace probe::compat {

// A file opened with the reference's GGUF reader for a header dump (no_alloc: the data section is
// never read), with each tensor's ne[0..3] and byte size. Releases with gguf.h answer from the
// gguf_context alone (ctx = NULL); older ones (bitnet.cpp) have no gguf_get_tensor_ne/_size, so the
// reader is also asked for a metadata-only ggml context and the shape and ggml_nbytes come from its
// tensors (for I2_S: n/4 + 32 bytes, the size its loader and kernels use).
class GgufHeader {
public:
    explicit GgufHeader(const char* path) {
        gguf_init_params params{};
        params.no_alloc = true;
#if PROBE_HAS_gguf_get_tensor_ne
        params.ctx = nullptr;
#else
        params.ctx = &meta_;
#endif
        ctx_ = gguf_init_from_file(path, params);
    }
    ~GgufHeader() {
        if (ctx_ != nullptr) gguf_free(ctx_);
        if (meta_ != nullptr) ggml_free(meta_);
    }
    GgufHeader(const GgufHeader&) = delete;
    GgufHeader& operator=(const GgufHeader&) = delete;

    const gguf_context* get() const {
        return ctx_;
    }

    // ne[0..GGML_MAX_DIMS) of tensor i (1 past its dims), or nullptr.
    const std::int64_t* ne(std::int64_t i) const {
#if PROBE_HAS_gguf_get_tensor_ne
        return gguf_get_tensor_ne(ctx_, i);
#else
        const ggml_tensor* t = tensor(i);
        return t != nullptr ? t->ne : nullptr;
#endif
    }

    std::size_t size(std::int64_t i) const {
#if PROBE_HAS_gguf_get_tensor_ne
        return gguf_get_tensor_size(ctx_, i);
#else
        const ggml_tensor* t = tensor(i);
        return t != nullptr ? ggml_nbytes(t) : 0;
#endif
    }

private:
#if !PROBE_HAS_gguf_get_tensor_ne
    const ggml_tensor* tensor(std::int64_t i) const {
        return meta_ != nullptr ? ggml_get_tensor(meta_, gguf_get_tensor_name(ctx_, static_cast<int>(i))) : nullptr;
    }
#endif
    gguf_context* ctx_ = nullptr;
    ggml_context* meta_ = nullptr;
};

}  // namespace probe::compat
