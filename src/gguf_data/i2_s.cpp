// I2_S in bitnet.cpp's x86 layout (src/ggml-bitnet-mad.cpp of microsoft/BitNet 16da220 with
// ACT_PARALLEL, as include/gemm-config.h ships it; the kernels of ggml.c in its llama.cpp fork read
// the same layout back). Written from that layout; docs/i2_s.md has the details and the ARM variant.
//
//   tensor = codes[n/4] | f32 scale | 28 bytes        (n = all elements of the tensor, row-major)
//
//   scale   = max |x| over the whole tensor (one per tensor, not per row or block)
//   code(x) = 1 (zero)  if |x| < 1e-6, else 2 (+1) if x * scale > 0, else 0 (-1); the comparisons are
//             made in double, as bitnet.cpp does, so NaN becomes 0 and an infinite scale still works
//   blocks of 128 elements in 32 bytes over the flattened tensor: element j of a block goes to byte
//             j % 32, bits 7-6 for j < 32, 5-4 for j < 64, 3-2 for j < 96, 1-0 for the rest
//   value   = (code - 1) * scale  (code 3 never written; the kernels would read it as +2)
//
// The 28 bytes after the scale are not written by bitnet.cpp's quantizer (its llama-quantize leaves
// whatever its work buffer held); we write zeros.
#include "i2_s.hpp"

#include <fmt/format.h>
#include <bit>
#include <cmath>
#include <cstring>

namespace gguf::detail {
namespace {

std::uint8_t code_of(float x, double scale) {
    const double v = static_cast<double>(x);
    if (std::fabs(v) < 1e-6) return 1;
    return v * scale > 0.0 ? 2 : 0;
}

}  // namespace

Result<std::vector<std::byte>> quantize_i2_s(std::span<const float> values, std::uint64_t row_size) {
    if (row_size == 0 || row_size % kI2SBlock != 0) {
        return Error{
            Code::shape_not_block_aligned, 0,
            fmt::format("row size {} is not a positive multiple of the I2_S block size {}", row_size, kI2SBlock)};
    }
    if (values.size() % row_size != 0) {
        return Error{Code::shape_not_block_aligned, 0,
                     fmt::format("{} values do not make whole rows of {}", values.size(), row_size)};
    }
    double scale = 0.0;
    for (float x : values) scale = std::fmax(scale, std::fabs(static_cast<double>(x)));  // fmax skips NaN

    const std::size_t n_codes = values.size() / 4;
    std::vector<std::byte> out(n_codes + kI2STail);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::size_t block = i / kI2SBlock, j = i % kI2SBlock;
        const unsigned shift = 6 - 2 * static_cast<unsigned>(j / 32);
        out[block * kI2SBlockBytes + j % 32] |= static_cast<std::byte>(code_of(values[i], scale) << shift);
    }
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(static_cast<float>(scale));
    for (unsigned k = 0; k < 4; ++k) out[n_codes + k] = static_cast<std::byte>((bits >> (8 * k)) & 0xFF);
    return out;
}

Result<std::vector<float>> dequantize_i2_s(Bytes data, std::uint64_t n_elements) {
    if (n_elements % kI2SBlock != 0) {
        return Error{Code::shape_not_block_aligned, 0,
                     fmt::format("{} elements are not a multiple of the I2_S block size {}", n_elements, kI2SBlock)};
    }
    const std::uint64_t n_codes = n_elements / 4;
    if (data.size() < kI2STail || data.size() - kI2STail != n_codes) {
        return Error{Code::tensor_data_out_of_bounds, 0,
                     fmt::format("{} elements of I2_S need {} bytes ({} of codes, then the scale and its padding), "
                                 "got {} bytes",
                                 n_elements, n_codes + kI2STail, n_codes, data.size())};
    }
    std::uint32_t bits = 0;
    for (unsigned k = 0; k < 4; ++k) bits |= std::to_integer<std::uint32_t>(data[n_codes + k]) << (8 * k);
    const float scale = std::bit_cast<float>(bits);

    std::vector<float> out(n_elements);
    for (std::uint64_t i = 0; i < n_elements; ++i) {
        const std::uint64_t block = i / kI2SBlock, j = i % kI2SBlock;
        const unsigned shift = 6 - 2 * static_cast<unsigned>(j / 32);
        const unsigned code = (std::to_integer<unsigned>(data[block * kI2SBlockBytes + j % 32]) >> shift) & 3u;
        out[i] = static_cast<float>(static_cast<int>(code) - 1) * scale;
    }
    return out;
}

}  // namespace gguf::detail
