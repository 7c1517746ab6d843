// The operations of the forward pass, each on row-major f32 matrices [rows, cols] with every sum
// accumulated in double. Each states which ggml operation it stands for and how it computes, so a
// reader can check it against ggml's CPU backend.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "forward/hparams.hpp"
#include "gguf/types.hpp"

namespace gguf::forward::ops {

// A row-major matrix of floats.
struct Matrix {
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::vector<float> v;

    Matrix() = default;
    Matrix(std::size_t r, std::size_t c) : rows(r), cols(c), v(r * c, 0.0f) {}
    std::span<float> row(std::size_t r) { return std::span<float>(v).subspan(r * cols, cols); }
    std::span<const float> row(std::size_t r) const { return std::span<const float>(v).subspan(r * cols, cols); }
};

// ggml_mul_mat(w, x): out[t][r] = sum_k w[r][k] * x[t][k]. `w` holds `w_rows` rows of x.cols
// elements (a GGUF weight with ne = [x.cols, w_rows]).
Matrix matmul(std::span<const float> w, std::size_t w_rows, const Matrix& x);

// ggml_rms_norm then ggml_mul by the weight: y = x / sqrt(mean(x^2) + eps) * weight, per row.
// With an empty `weight` only the normalisation.
Matrix rms_norm(const Matrix& x, double eps, std::span<const float> weight = {});

// ggml_rope_ext with ext_factor 0 and attn_factor 1, in place on x = [n_tokens, n_heads * head_dim]:
// for position p (token t has position t) and pair index i < n_rot/2, theta = p * freq_scale *
// freq_base^(-2i/n_rot); normal mode rotates (x[2i], x[2i+1]), neox mode (x[i], x[i + n_rot/2]);
// elements at and beyond n_rot are left as they are.
void rope(Matrix& x, std::size_t head_dim, std::size_t n_rot, double freq_base, double freq_scale, RopeMode mode);

// Causal self-attention over q = [T, n_head * head_dim], k and v = [T, n_head_kv * head_dim]:
// query head h reads KV head h / (n_head / n_head_kv) (ggml's broadcast in mul_mat); scores
// q.k * kq_scale with key positions after the query masked out, softmax with the maximum
// subtracted, then the weighted sum of v. Returns [T, n_head * head_dim] (llama.cpp's kqv_out).
Matrix attention(const Matrix& q, const Matrix& k, const Matrix& v, std::size_t n_head, std::size_t n_head_kv,
                 std::size_t head_dim, double kq_scale);

// ggml_swiglu_split(gate, up): silu(gate) * up elementwise, silu(x) = x / (1 + exp(-x)).
Matrix swiglu(const Matrix& gate, const Matrix& up);

// a + b elementwise (same shape).
Matrix add(const Matrix& a, const Matrix& b);

// What ggml's CPU backend does to the activations of a matrix product before the dot products: it
// converts each row of x to the weight type's "vec_dot" type. F32 weights: unchanged; F16: x rounded
// to F16; Q8_0: x quantized to Q8_0 (blocks of 32, d = amax / 127, q = round(x / d)); TQ1_0 and TQ2_0:
// x quantized to Q8_K (blocks of 256, d = -max / 127 where max is the element of largest magnitude,
// q = round(x / d) clamped to 127, d kept in f32). Here x is replaced by the dequantized result, so a
// matmul in double afterwards computes what llama.cpp's integer dot products compute, up to the
// order of the additions. Other types: unchanged (returns false).
bool round_like_vec_dot(Matrix& x, GgmlType weight_type);

// x * s elementwise (bitnet's per-matrix scales, ggml_mul by a one-element tensor).
void scale(Matrix& x, float s);

}  // namespace gguf::forward::ops
