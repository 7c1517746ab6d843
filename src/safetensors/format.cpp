// The format's vocabulary: error code names, dtype names and sizes, f16/bf16 widening.
#include <array>
#include <cstring>

#include "safetensors/safetensors.hpp"

namespace gguf::safetensors {

std::string_view code_name(Code code) {
    switch (code) {
        case Code::io_error:
            return "io_error";
        case Code::truncated:
            return "truncated";
        case Code::header_too_large:
            return "header_too_large";
        case Code::header_too_deep:
            return "header_too_deep";
        case Code::invalid_json:
            return "invalid_json";
        case Code::invalid_entry:
            return "invalid_entry";
        case Code::invalid_metadata:
            return "invalid_metadata";
        case Code::unknown_dtype:
            return "unknown_dtype";
        case Code::duplicate_name:
            return "duplicate_name";
        case Code::empty_name:
            return "empty_name";
        case Code::shape_overflow:
            return "shape_overflow";
        case Code::size_mismatch:
            return "size_mismatch";
        case Code::out_of_bounds:
            return "out_of_bounds";
        case Code::tensors_overlap:
            return "tensors_overlap";
        case Code::unsupported_dtype:
            return "unsupported_dtype";
        case Code::invalid_argument:
            return "invalid_argument";
    }
    return "unknown";
}

namespace {

struct DtypeInfo {
    Dtype dtype;
    std::string_view name;
    std::size_t size;
};

constexpr std::array<DtypeInfo, 15> kDtypes{{
    {Dtype::BOOL, "BOOL", 1},
    {Dtype::U8, "U8", 1},
    {Dtype::I8, "I8", 1},
    {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E4M3, "F8_E4M3", 1},
    {Dtype::I16, "I16", 2},
    {Dtype::U16, "U16", 2},
    {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},
    {Dtype::I32, "I32", 4},
    {Dtype::U32, "U32", 4},
    {Dtype::F32, "F32", 4},
    {Dtype::I64, "I64", 8},
    {Dtype::U64, "U64", 8},
    {Dtype::F64, "F64", 8},
}};

}  // namespace

std::string_view dtype_name(Dtype d) {
    return kDtypes[static_cast<std::size_t>(d)].name;
}
std::size_t dtype_size(Dtype d) {
    return kDtypes[static_cast<std::size_t>(d)].size;
}

std::optional<Dtype> dtype_from_name(std::string_view name) {
    for (const auto& info : kDtypes) {
        if (info.name == name) return info.dtype;
    }
    return std::nullopt;
}

std::uint64_t Tensor::element_count() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;  // checked when the file was parsed or the tensor declared
    return n;
}

namespace {

float bits_to_float(std::uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// IEEE 754 binary16 -> binary32, exact (every half is a float), subnormals, infinities and NaN
// payloads included.
float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1Fu;
    std::uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return bits_to_float(sign | 0x7F800000u | (mant << 13));
    if (exp != 0) return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return bits_to_float(sign);
    // Subnormal: normalise the mantissa; the value is mant * 2^-24.
    std::uint32_t e = 113;
    while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --e;
    }
    return bits_to_float(sign | (e << 23) | ((mant & 0x3FFu) << 13));
}

}  // namespace

Result<std::vector<float>> to_f32(const Tensor& t) {
    const std::size_t n = static_cast<std::size_t>(t.element_count());
    std::vector<float> out(n);
    const std::byte* p = t.data.data();
    switch (t.dtype) {
        case Dtype::F32:
            if (n != 0) std::memcpy(out.data(), p, n * 4);
            return out;
        case Dtype::F16:
            for (std::size_t i = 0; i < n; ++i) {
                std::uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                out[i] = half_to_float(h);
            }
            return out;
        case Dtype::BF16:
            for (std::size_t i = 0; i < n; ++i) {
                std::uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                out[i] = bits_to_float(static_cast<std::uint32_t>(h) << 16);
            }
            return out;
        default:
            return Error{Code::unsupported_dtype, 0,
                         "tensor '" + t.name + "' has dtype " + std::string(dtype_name(t.dtype)) +
                             "; only F32, F16 and BF16 convert to f32"};
    }
}

}  // namespace gguf::safetensors
