// I2_S, bitnet.cpp's ternary type (ggml type id 36 in its llama.cpp fork), in the x86 layout its
// build uses on this machine class (see src/gguf_data/i2_s.cpp and docs/i2_s.md). Internal to
// gguf_data: reached through gguf::quantize / gguf::dequantize with GgmlType::I2_S.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gguf/error.hpp"
#include "gguf/value.hpp"

namespace gguf::detail {

inline constexpr std::size_t kI2SBlock = 128;      // elements per block
inline constexpr std::size_t kI2SBlockBytes = 32;  // bytes per block: 4 codes a byte
inline constexpr std::size_t kI2STail = 32;        // after the codes: the f32 scale, then 28 zero bytes

// The whole tensor (row-major, rows of row_size) as I2_S: n/4 code bytes, then the tail.
// Errors: shape_not_block_aligned when row_size is 0 or not a multiple of 128, or does not divide
// values.size().
Result<std::vector<std::byte>> quantize_i2_s(std::span<const float> values, std::uint64_t row_size);

// n_elements of I2_S back to f32: (code - 1) * scale. Errors: shape_not_block_aligned when
// n_elements is not a multiple of 128; tensor_data_out_of_bounds unless data.size() is n/4 + 32.
Result<std::vector<float>> dequantize_i2_s(Bytes data, std::uint64_t n_elements);

}  // namespace gguf::detail
