// Quantizers for the tensor types the fixtures write: F16, Q8_0, TQ1_0, TQ2_0, I2_S (and F32 as a
// plain little-endian copy), and dequantizers for every type whose values follow from its block
// layout, I2_S included. Written from the block layouts of ggml-common.h and the
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

// True for the types quantize() handles: F32, F16, Q8_0, TQ1_0, TQ2_0, I2_S.
// I2_S is bitnet.cpp's x86 layout: one tensor-wide scale, so quantize() must get the whole tensor
// and the result is n/4 code bytes plus a 32-byte tail (docs/i2_s.md).
bool can_quantize(GgmlType type);

// Quantize `values`, a row-major matrix with rows of `row_size` elements, to `type`. The result is
// the tensor data exactly as it is stored in a GGUF file (little-endian).
// Errors: invalid_tensor_type for a type not handled here; shape_not_block_aligned when row_size is
// 0, not a multiple of the type's block size, or does not divide values.size().
// Non-finite inputs give deterministic bytes, but only finite inputs are promised to match ggml.
Result<std::vector<std::byte>> quantize(GgmlType type, std::span<const float> values, std::uint64_t row_size);

// ---- Dequantization -----------------------------------------------------------------------------
// Every type whose values follow from its block layout alone: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q8_1, Q1_0, Q2_0, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4. The f32
// results are bit-identical to ggml's to_float for the same bytes (docs/dequantization.md says how,
// and where ggml has no to_float to compare with).

// How far dequantization handles a type id.
enum class DequantSupport {
    supported,
    needs_lookup_grid,  // IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S: values come from ggml's grids
    not_yet,            // I2_S (bitnet.cpp, id 36), and the integer types I8..I64 and F64
    invalid,            // not a type id, or a removed one
};
DequantSupport dequant_support(std::uint32_t type_id);

// Decode whole blocks of `type` into a caller-provided buffer: `data` holds exactly out.size()
// elements, i.e. out.size() / block_size blocks of the type's byte size. Meant for streaming a
// tensor row by row (or in any run of whole blocks) without materialising it.
// Errors: type_not_supported (needs a lookup grid or is not handled yet; the message names the
// type and why); invalid_tensor_type (unknown or removed id); shape_not_block_aligned (out.size()
// not a multiple of the block size); tensor_data_out_of_bounds (data.size() is not what out.size()
// elements need).
Status dequantize_into(GgmlType type, Bytes data, std::span<float> out);

// Turn `data` (n_elements of `type`, as stored in a GGUF file) back to F32: dequantize_into on a
// fresh vector. The size is checked against data.size() before anything is allocated.
Result<std::vector<float>> dequantize(GgmlType type, Bytes data, std::uint64_t n_elements);

}  // namespace gguf
