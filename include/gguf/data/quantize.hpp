// Quantizers and dequantizers for the tensor types the fixtures write: F16, Q8_0, TQ1_0, TQ2_0, I2_S
// (and F32 as a plain little-endian copy). Written from the block layouts of ggml-common.h and the
// rounding rules of ggml's reference quantizers, so that for the same finite F32 input the bytes are
// identical to what ggml_quantize_chunk / llama_model_quantize produce.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gguf/error.hpp"
#include "gguf/types.hpp"
#include "gguf/value.hpp"

namespace gguf {

// IEEE binary32 -> binary16, round to nearest, ties to even; overflow -> infinity; NaN -> the quiet
// NaN 0x7E00 with the input's sign (what ggml produces).
std::uint16_t fp32_to_fp16(float value);

// IEEE binary16 -> binary32, exact (subnormals included); a NaN comes back quiet, payload kept.
float fp16_to_fp32(std::uint16_t bits);

// True for the types quantize() and dequantize() handle: F32, F16, Q8_0, TQ1_0, TQ2_0, I2_S.
// I2_S is bitnet.cpp's x86 layout: one tensor-wide scale, so quantize() must get the whole tensor
// and the result is n/4 code bytes plus a 32-byte tail (docs/i2_s.md).
bool can_quantize(GgmlType type);

// Quantize `values`, a row-major matrix with rows of `row_size` elements, to `type`. The result is
// the tensor data exactly as it is stored in a GGUF file (little-endian).
// Errors: invalid_tensor_type for a type not handled here; shape_not_block_aligned when row_size is
// 0, not a multiple of the type's block size, or does not divide values.size().
// Non-finite inputs give deterministic bytes, but only finite inputs are promised to match ggml.
Result<std::vector<std::byte>> quantize(GgmlType type, std::span<const float> values, std::uint64_t row_size);

// Turn `data` (n_elements of `type`, as stored in a GGUF file) back to F32.
// Errors: invalid_tensor_type; shape_not_block_aligned when n_elements is not a multiple of the block
// size; tensor_data_out_of_bounds when data.size() is not exactly the size n_elements needs.
Result<std::vector<float>> dequantize(GgmlType type, Bytes data, std::uint64_t n_elements);

}  // namespace gguf
