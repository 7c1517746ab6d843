// The built-in reference forward pass: a plain implementation of llama.cpp's `llama` and `bitnet`
// graphs (src/models/llama.cpp, src/models/bitnet.cpp and llama-graph.cpp of the pinned release)
// in f32 storage with every sum accumulated in double. It reads weights through the data layer's
// dequantize(), one tensor at a time when it needs it, so its memory stays within the largest
// tensor in f32 plus the activations. What it computes, and how it names each intermediate tensor
// so that traces line up with llama.cpp's, is documented in docs/forward-pass.md.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "forward/error.hpp"
#include "forward/hparams.hpp"
#include "gguf/reader.hpp"

namespace gguf::forward {

// One intermediate tensor as the forward pass produces it. `name` is llama.cpp's graph name
// ("attn_norm-0", "result_output"); `occurrence` counts earlier tensors of the same name in this
// run (llama.cpp names several nodes "Qcur-0": the projection, its reshape, the RoPE output; the
// last one is the RoPE output). `shape` is row-major, outermost first ({n_tokens, n_embd}); `data`
// holds the product of `shape` floats. Both views are valid only during the call.
struct TraceTensor {
    std::string_view name;
    std::uint32_t occurrence = 0;
    std::span<const std::size_t> shape;
    std::span<const float> data;
};

// Receives every named intermediate tensor, in the order the forward pass computes them.
class TraceSink {
public:
    virtual ~TraceSink() = default;
    virtual void tensor(const TraceTensor& t) = 0;
};

// How the activations enter each matrix product with a weight.
enum class Activations {
    exact,               // in f32, as the architecture defines the computation (the default)
    like_llama_cpp_cpu,  // rounded first as ggml's CPU backend rounds them for the weight's type
                         // (ops::round_like_vec_dot): isolates what llama.cpp's activation rounding
                         // contributes to a difference (docs/forward-pass.md)
};

// The name used on the command line and in reports: "exact", "llama-cpp-cpu".
const char* activations_name(Activations a);

class Model {
public:
    // Checks the architecture, the hyperparameters, and that every tensor the graph needs is
    // present with the shape the hyperparameters imply and a type the library dequantizes. The
    // Model keeps its own copy of `file` (which shares the mapping of a File from gguf::open();
    // a File from gguf::parse() views a buffer that must outlive the Model).
    // Errors: those of read_hparams(), missing_tensor, wrong_shape, unsupported_type,
    // unsupported_feature (a tensor the graph does not use: biases, rope_freqs, experts, ...).
    static Result<Model> load(const File& file);

    const Hparams& hparams() const { return h_; }

    // Decodes `tokens` as one sequence at positions 0..n-1 and returns the logits of every
    // position, row-major [n_tokens, n_vocab]. Errors: bad_tokens (empty, or an id outside
    // 0..n_vocab-1), bad_data (a tensor's data could not be dequantized).
    Result<std::vector<float>> run(std::span<const std::int32_t> tokens, TraceSink* sink = nullptr,
                                   Activations activations = Activations::exact) const;

private:
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    struct Layer {
        std::size_t attn_norm, wq, wk, wv, wo, ffn_norm, ffn_gate, ffn_up, ffn_down;
        // bitnet only
        std::size_t attn_sub_norm = kNone, ffn_sub_norm = kNone;
        std::size_t wq_s = kNone, wk_s = kNone, wv_s = kNone, wo_s = kNone;
        std::size_t ffn_gate_s = kNone, ffn_up_s = kNone, ffn_down_s = kNone;
    };

    Result<std::vector<float>> weights(std::size_t index) const;

    File file_;
    Hparams h_;
    std::size_t token_embd_ = kNone, output_norm_ = kNone, output_ = kNone;
    std::vector<Layer> layers_;
};

}  // namespace gguf::forward
