// F32, F16 and BF16 to f32: exact widenings, bit patterns of NaNs included as ggml leaves them.
//   F32:  the four little-endian bytes as they are (ggml has no to_float for F32; the copy is the reading).
//   F16:  widen_half (exact; a NaN comes back quiet with its payload, as ggml's widening does).
//   BF16: the 16 bits become the top half of an f32; nothing is rounded or quieted.
#include "dequant_kernels.hpp"

namespace gguf::detail {

void decode_f32(const std::uint8_t* blocks, std::size_t n_blocks, float* out) {
    for (std::size_t i = 0; i < n_blocks; ++i) out[i] = f32_bits(le32(blocks + 4 * i));
}

void decode_f16(const std::uint8_t* blocks, std::size_t n_blocks, float* out) {
    for (std::size_t i = 0; i < n_blocks; ++i) out[i] = half_at(blocks + 2 * i);
}

void decode_bf16(const std::uint8_t* blocks, std::size_t n_blocks, float* out) {
    for (std::size_t i = 0; i < n_blocks; ++i)
        out[i] = f32_bits(static_cast<std::uint32_t>(le16(blocks + 2 * i)) << 16);
}

}  // namespace gguf::detail
