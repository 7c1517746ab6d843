// gguf::dequantize: the one dispatcher over the per-family block decoders (dequant_*.cpp), with
// the size checks that make them safe on any input.
#include <fmt/format.h>

#include "i2_s.hpp"

#include <string>

#include "dequant_kernels.hpp"
#include "gguf/data/quantize.hpp"

namespace gguf {
namespace {

using detail::BlockDecoder;

BlockDecoder decoder_of(std::uint32_t id) {
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::F32:
            return detail::decode_f32;
        case GgmlType::F16:
            return detail::decode_f16;
        case GgmlType::BF16:
            return detail::decode_bf16;
        case GgmlType::Q4_0:
            return detail::decode_q4_0;
        case GgmlType::Q4_1:
            return detail::decode_q4_1;
        case GgmlType::Q5_0:
            return detail::decode_q5_0;
        case GgmlType::Q5_1:
            return detail::decode_q5_1;
        case GgmlType::Q8_0:
            return detail::decode_q8_0;
        case GgmlType::Q8_1:
            return detail::decode_q8_1;
        case GgmlType::Q1_0:
            return detail::decode_q1_0;
        case GgmlType::Q2_0:
            return detail::decode_q2_0;
        case GgmlType::Q2_K:
            return detail::decode_q2_k;
        case GgmlType::Q3_K:
            return detail::decode_q3_k;
        case GgmlType::Q4_K:
            return detail::decode_q4_k;
        case GgmlType::Q5_K:
            return detail::decode_q5_k;
        case GgmlType::Q6_K:
            return detail::decode_q6_k;
        case GgmlType::Q8_K:
            return detail::decode_q8_k;
        case GgmlType::IQ4_NL:
            return detail::decode_iq4_nl;
        case GgmlType::IQ4_XS:
            return detail::decode_iq4_xs;
        case GgmlType::MXFP4:
            return detail::decode_mxfp4;
        case GgmlType::NVFP4:
            return detail::decode_nvfp4;
        case GgmlType::TQ1_0:
            return detail::decode_tq1_0;
        case GgmlType::TQ2_0:
            return detail::decode_tq2_0;
        default:
            return nullptr;
    }
}

bool needs_grid(std::uint32_t id) {
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::IQ1_S:
        case GgmlType::IQ1_M:
        case GgmlType::IQ2_XXS:
        case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S:
        case GgmlType::IQ3_XXS:
        case GgmlType::IQ3_S:
            return true;
        default:
            return false;
    }
}

std::string type_label(std::uint32_t id) {
    if (id == kTypeI2S) return "I2_S";
    const auto traits = ggml_type(id);
    return traits ? std::string(traits->name) : fmt::format("type {}", id);
}

Error not_supported(std::uint32_t id) {
    switch (dequant_support(id)) {
        case DequantSupport::needs_lookup_grid:
            return Error{Code::type_not_supported, 0,
                         fmt::format("dequantization of {} is not supported: its values come from ggml's lookup grids, "
                                     "which no format definition states",
                                     type_label(id))};
        case DequantSupport::not_yet:
            return Error{Code::type_not_supported, 0,
                         fmt::format("dequantization of {} is not supported yet: it is not a float or quantized type",
                                     type_label(id))};
        default:
            return Error{Code::invalid_tensor_type, 0,
                         fmt::format("{} is not a tensor type that can be read", type_label(id))};
    }
}

}  // namespace

DequantSupport dequant_support(std::uint32_t id) {
    if (decoder_of(id) != nullptr) return DequantSupport::supported;
    if (needs_grid(id)) return DequantSupport::needs_lookup_grid;
    if (id == kTypeI2S) return DequantSupport::supported;  // whole tensors only: one tensor-wide scale
    const auto traits = ggml_type(id);
    if (!traits || traits->removed) return DequantSupport::invalid;
    return DequantSupport::not_yet;  // I8, I16, I32, I64, F64
}

Status dequantize_into(GgmlType type, Bytes data, std::span<float> out) {
    const auto id = static_cast<std::uint32_t>(type);
    if (id == kTypeI2S) {  // its scale follows the codes of the whole tensor: data must be the whole tensor
        auto values = detail::dequantize_i2_s(data, out.size());
        if (!values) return values.error();
        std::copy(values->begin(), values->end(), out.begin());
        return Ok{};
    }
    const BlockDecoder decode = decoder_of(id);
    if (decode == nullptr) return not_supported(id);
    const TypeTraits traits = *ggml_type(id);  // every decoded id is in the table
    if (out.size() % traits.block_size != 0) {
        return Error{Code::shape_not_block_aligned, 0,
                     fmt::format("{} elements are not a multiple of the {} block size {}", out.size(), traits.name,
                                 traits.block_size)};
    }
    const std::size_t n_blocks = out.size() / traits.block_size;
    if (data.size() / traits.bytes_per_block != n_blocks || data.size() % traits.bytes_per_block != 0) {
        return Error{Code::tensor_data_out_of_bounds, 0,
                     fmt::format("{} elements of {} need {} blocks of {} bytes, got {} bytes", out.size(), traits.name,
                                 n_blocks, traits.bytes_per_block, data.size())};
    }
    decode(reinterpret_cast<const std::uint8_t*>(data.data()), n_blocks, out.data());
    return Ok{};
}

Result<std::vector<float>> dequantize(GgmlType type, Bytes data, std::uint64_t n_elements) {
    const auto id = static_cast<std::uint32_t>(type);
    if (id == kTypeI2S) return detail::dequantize_i2_s(data, n_elements);
    if (decoder_of(id) == nullptr) return not_supported(id);
    const TypeTraits traits = *ggml_type(id);
    if (n_elements % traits.block_size != 0) {
        return Error{Code::shape_not_block_aligned, 0,
                     fmt::format("{} elements are not a multiple of the {} block size {}", n_elements, traits.name,
                                 traits.block_size)};
    }
    const std::uint64_t n_blocks = n_elements / traits.block_size;
    if (data.size() / traits.bytes_per_block != n_blocks || data.size() % traits.bytes_per_block != 0) {
        return Error{Code::tensor_data_out_of_bounds, 0,
                     fmt::format("{} elements of {} need {} blocks of {} bytes, got {} bytes", n_elements, traits.name,
                                 n_blocks, traits.bytes_per_block, data.size())};
    }
    std::vector<float> out(static_cast<std::size_t>(n_elements));  // bounded by data.size() * 32 / 1.0625
    auto status = dequantize_into(type, data, out);
    if (!status) return status.error();
    return out;
}

}  // namespace gguf
