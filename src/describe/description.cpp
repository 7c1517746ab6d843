// Rendering files and values into the neutral description.
#include "description.hpp"

#include <fmt/format.h>
#include <xxhash.h>
#include <cmath>

namespace gguf::describe {
namespace {

nlohmann::json render_scalar(const ValueView& v) {
    switch (v.type()) {
        case ValueType::uint8:
        case ValueType::uint16:
        case ValueType::uint32:
        case ValueType::uint64:
            return v.as_uint();
        case ValueType::int8:
        case ValueType::int16:
        case ValueType::int32:
        case ValueType::int64:
            return v.as_int();
        case ValueType::float32:
        case ValueType::float64:
            return render_float(v.as_float());
        case ValueType::boolean:
            return v.as_bool();
        case ValueType::string:
            return render_string(v.as_string());
        case ValueType::array:
            return render_value(v);
    }
    return nullptr;
}

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    for (std::size_t len = 1; len <= 4 && i + len <= s.size(); ++len) {
        if (is_valid_utf8(s.substr(i, len))) return len;
    }
    return 0;
}

// The canonical (little-endian) encoding of a value from a byte-swapped file, appended to `buf` and
// fed to `st` whenever buf passes 64 KiB: an array is walked element by element, never turned into
// a Value (about 80 bytes per element: a 20 MB u8 array would cost 1.6 GB).
void hash_canonical(XXH64_state_t* st, const ValueView& value, std::vector<std::byte>& buf) {
    constexpr std::size_t kFlush = 1 << 16;
    if (value.type() != ValueType::array) {
        Value::from_view(value).encode(buf, false);
    } else {
        const auto a = value.as_array();
        Value::encode_array_header(buf, a.elem_type(), a.size());
        for (auto e : a) hash_canonical(st, e, buf);
    }
    if (buf.size() >= kFlush) {
        XXH64_update(st, buf.data(), buf.size());
        buf.clear();
    }
}

}  // namespace

nlohmann::json render_float(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

std::string xxh64_hex(std::span<const std::byte> bytes) {
    return fmt::format("{:016x}", XXH64(bytes.data(), bytes.size(), 0));
}

std::string render_string(std::string_view s) {
    if (is_valid_utf8(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() + 16);
    for (std::size_t i = 0; i < s.size();) {
        const auto len = utf8_sequence(s, i);
        if (len == 0) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
            ++i;
        } else if (s[i] == '\\') {
            out += "\\\\";
            ++i;
        } else {
            out.append(s.substr(i, len));
            i += len;
        }
    }
    return out;
}

nlohmann::json render_value(const ValueView& value) {
    if (value.type() != ValueType::array) return render_scalar(value);
    const auto a = value.as_array();
    nlohmann::json values = nlohmann::json::array();
    std::size_t shown = 0;
    for (auto it = a.begin(); it != a.end() && shown < kArrayPreview; ++it, ++shown) {
        values.push_back(render_scalar(*it));
    }
    nlohmann::json out{{"type", value_type_name(a.elem_type())}, {"length", a.size()}, {"values", std::move(values)}};
    if (a.size() > kArrayPreview) out["hash"] = a.swapped() ? xxh64_hex(a.canonical_bytes()) : xxh64_hex(a.elements());
    return out;
}

Kv describe_kv(std::string_view key, const ValueView& value) {
    XXH64_state_t* st = XXH64_createState();
    XXH64_reset(st, 0);
    XXH64_update(st, key.data(), key.size());
    const auto type = static_cast<std::uint32_t>(value.type());
    XXH64_update(st, &type, sizeof type);
    if (value.swapped()) {
        std::vector<std::byte> canonical;
        hash_canonical(st, value, canonical);
        XXH64_update(st, canonical.data(), canonical.size());
    } else {
        XXH64_update(st, value.payload().data(), value.payload().size());
    }
    Kv kv{render_string(key), std::string(value_type_name(value.type())), render_value(value), XXH64_digest(st)};
    XXH64_freeState(st);
    return kv;
}

Description describe(const File& file) {
    Description d;
    d.version = file.version();
    d.n_kv = file.kvs().size();
    d.n_tensors = file.tensors().size();
    d.alignment = file.alignment();
    d.data_offset = file.data_offset();
    d.file_size = file.file_size();
    d.kv.reserve(file.kvs().size());
    for (const auto& kv : file.kvs()) d.kv.push_back(describe_kv(kv.key, kv.value));
    d.tensors.reserve(file.tensors().size());
    for (const auto& t : file.tensors()) {
        d.tensors.push_back(Tensor{render_string(t.name), std::string(t.traits.name),
                                   std::vector<std::uint64_t>(t.dims().begin(), t.dims().end()), t.offset, t.size});
    }
    return d;
}

nlohmann::json to_json(const Description& d) {
    nlohmann::json kv = nlohmann::json::array();
    for (const auto& e : d.kv) kv.push_back({{"key", e.key}, {"type", e.type}, {"value", e.value}});
    nlohmann::json tensors = nlohmann::json::array();
    for (const auto& t : d.tensors) {
        tensors.push_back(
            {{"name", t.name}, {"type", t.type}, {"dims", t.dims}, {"offset", t.offset}, {"size", t.size}});
    }
    return {{"version", d.version},         {"n_kv", d.n_kv},
            {"n_tensors", d.n_tensors},     {"alignment", d.alignment},
            {"data_offset", d.data_offset}, {"file_size", d.file_size},
            {"kv", std::move(kv)},          {"tensors", std::move(tensors)}};
}

}  // namespace gguf::describe
