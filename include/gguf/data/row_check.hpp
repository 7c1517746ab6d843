// The row check of llama.cpp's --check-tensors, written from its definition: no NaN or infinity in
// float tensor data (F32, F16, BF16, F64), nor in the block scales of quantized types (the f16 d,
// and m / dmin where the type has one; Q8_K's f32 d; IQ1_M's scale assembled from its four
// nibbles; MXFP4's E8M0 exponent 0xFF, which ggml refuses). Integer types, NVFP4 (every UE4M3 byte
// is a number) and I2_S carry nothing to check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gguf {

// The first non-finite item in a run of whole blocks.
struct BlockFinding {
    std::uint64_t block = 0;    // index of the block within the run
    std::uint32_t element = 0;  // element within the block (float types: 0, each element is a block)
    std::string_view field;     // "value" (float data), "d", "m", "dmin", "scale" (IQ1_M), "e" (MXFP4)
    double value = 0;           // the offending value (NaN or +-inf; for "e", 2^128 is reported as inf)
};

// True when the type has something the row check looks at.
bool row_check_applies(std::uint32_t type_id);

// Check `n_blocks` whole blocks of `type_id` at `blocks` (bytes_per_block each, as in the type
// table). Returns the first finding, or nullopt when everything is finite (or the type has nothing
// to check).
std::optional<BlockFinding> check_blocks(std::uint32_t type_id, const std::byte* blocks, std::size_t n_blocks);

}  // namespace gguf
