// The hyperparameters of a llama or bitnet GGUF file, read from its key-values as llama.cpp's
// loader reads them (llama-model.cpp, llama-hparams.h of the pinned release), checked for the
// ranges the forward pass needs.
#pragma once

#include <cstdint>
#include <string>

#include "forward/error.hpp"
#include "gguf/reader.hpp"

namespace gguf::forward {

enum class Arch { llama, bitnet };

// How RoPE pairs the elements of a head: `normal` rotates (2i, 2i+1) (llama), `neox` rotates
// (i, i + n_rot/2) (bitnet). llama.cpp picks the mode from the architecture (llama_model_rope_type).
enum class RopeMode { normal, neox };

struct Hparams {
    Arch arch = Arch::llama;
    std::string arch_name;        // "llama" or "bitnet"
    std::uint32_t n_vocab = 0;    // from token_embd.weight's second dimension
    std::uint32_t n_embd = 0;     // {arch}.embedding_length
    std::uint32_t n_layer = 0;    // {arch}.block_count
    std::uint32_t n_head = 0;     // {arch}.attention.head_count
    std::uint32_t n_head_kv = 0;  // {arch}.attention.head_count_kv, default n_head
    std::uint32_t head_dim = 0;   // {arch}.attention.key_length (= value_length), default n_embd / n_head
    std::uint32_t n_ff = 0;       // {arch}.feed_forward_length
    std::uint32_t n_rot = 0;      // {arch}.rope.dimension_count, default head_dim
    double rms_eps = 0;           // {arch}.attention.layer_norm_rms_epsilon (required)
    double freq_base = 10000;     // {arch}.rope.freq_base
    double freq_scale = 1;        // 1 / {arch}.rope.scaling.factor for linear scaling, else 1
    double kq_scale = 0;          // {arch}.attention.scale (llama) or 1/sqrt(head_dim)
    RopeMode rope = RopeMode::normal;

    std::uint32_t n_embd_q() const { return head_dim * n_head; }
    std::uint32_t n_embd_kv() const { return head_dim * n_head_kv; }
};

// Reads and checks the hyperparameters (n_vocab is left 0: the model sets it from token_embd).
// Errors: unsupported_architecture, missing_key, bad_key (wrong type, per-layer arrays, zero or
// inconsistent values such as n_head not a multiple of n_head_kv), unsupported_feature (RoPE
// scaling other than none/linear, mixture of experts).
Result<Hparams> read_hparams(const File& file);

}  // namespace gguf::forward
