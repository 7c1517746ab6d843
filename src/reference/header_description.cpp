// The probe's header payload (raw values, hex strings) turned into our neutral Description. No GGUF
// is parsed here: each value is rebuilt as a gguf::Value, encoded, and rendered by the same
// describe_kv that renders our own reader's values.
#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "gguf/types.hpp"
#include "gguf/value.hpp"
#include "reference.hpp"

namespace gguf::reference {
namespace {

using nlohmann::json;

gguf::Error payload_error(std::string message) {
    return gguf::Error{gguf::Code::io_error, 0, "reference payload: " + std::move(message)};
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> unhex(const json& j) {
    if (!j.is_string()) return std::nullopt;
    const auto& s = j.get_ref<const std::string&>();
    if (s.size() % 2 != 0) return std::nullopt;
    std::string out(s.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>(hi * 16 + lo);
    }
    return out;
}

// A field that is not the integer it must be (a float, a negative number, out of range).
struct BadField : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The JSON number as an unsigned integer that fits T. nlohmann's get<> would convert a float with
// undefined behaviour (a 40-digit number parses as a double) and cut a large one silently.
template <class T = std::uint64_t>
T as_unsigned(const json& v, const char* what) {
    // is_number_integer: a JSON built in code holds a positive literal as a signed integer
    const bool non_negative = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
    if (!non_negative || v.get<std::uint64_t>() > std::numeric_limits<T>::max()) {
        throw BadField(fmt::format("{} is not an unsigned integer below 2^{}", what, 8 * sizeof(T)));
    }
    return static_cast<T>(v.get<std::uint64_t>());
}

// An optional unsigned field of an object: `fallback` when absent.
std::uint64_t unsigned_or(const json& obj, const char* key, std::uint64_t fallback) {
    const auto it = obj.find(key);
    return it == obj.end() ? fallback : as_unsigned(*it, key);
}

// An optional integer field of an object: `fallback` when absent; a float is an error.
std::int64_t integer_or(const json& obj, const char* key, std::int64_t fallback) {
    const auto it = obj.find(key);
    if (it == obj.end()) return fallback;
    if (!it->is_number_integer()) throw BadField(fmt::format("{} is not an integer", key));
    return it->get<std::int64_t>();
}

bool is_signed(ValueType t) {
    return t == ValueType::int8 || t == ValueType::int16 || t == ValueType::int32 || t == ValueType::int64;
}

bool append_array(const json& j, std::vector<std::byte>& out);

// One element as the probe reports it (see tools/ref-probe/mode_header.cpp), appended to `out` in the
// canonical encoding: a string comes as hex, a fixed-size scalar as an integer. An element of an
// array of arrays, which ggml never reports but the peer adapters (tools/peers/) do, is itself
// {"elem_type", "n", "values"}. False when it is not of the type.
bool append_element(ValueType type, const json& j, std::vector<std::byte>& out) {
    if (type == ValueType::array) return append_array(j, out);
    if (type == ValueType::string) {
        auto s = unhex(j);
        if (!s) return false;
        Value::string(*s).encode(out);
        return true;
    }
    if (!j.is_number_integer()) return false;  // floats come as bit patterns, bools as the raw byte
    const std::uint64_t bits =
        is_signed(type) ? static_cast<std::uint64_t>(j.get<std::int64_t>()) : j.get<std::uint64_t>();
    Value::scalar(type, bits).encode(out);
    return true;
}

// {"elem_type", "n", "values"} appended as the canonical encoding of the array (element type, count,
// elements), one element at a time: no Value of the whole array is built (a vocabulary of 262,144
// tokens would cost about 50 bytes per token beside its JSON). False when the element type is missing
// or out of range, or the values do not match n or the type.
bool append_array(const json& j, std::vector<std::byte>& out) {
    if (!j.is_object()) return false;
    const auto elem_it = j.find("elem_type");
    if (elem_it == j.end()) return false;
    const auto& elem_id = *elem_it;
    if (!elem_id.is_number_integer() || elem_id.get<std::int64_t>() < 0 ||
        !is_valid_value_type(static_cast<std::uint32_t>(elem_id.get<std::int64_t>()))) {
        return false;
    }
    const auto elem = static_cast<ValueType>(elem_id.get<std::int64_t>());
    // find, not value(): value() returns a copy, and "values" may be a vocabulary of 262,144 strings.
    static const json kNoValues = json::array();
    const auto values_it = j.find("values");
    const auto& values = values_it == j.end() ? kNoValues : *values_it;
    if (!values.is_array() || values.size() != unsigned_or(j, "n", 0)) return false;
    Value::encode_array_header(out, elem, values.size());
    for (const auto& v : values) {
        if (!append_element(elem, v, out)) return false;
    }
    return true;
}

gguf::Result<describe::Kv> kv_from(const json& j, std::size_t index) {
    const auto where = fmt::format("kv {}", index);
    const auto key = unhex(j.value("key_hex", json()));
    if (!key) return payload_error(where + ": key_hex missing or not hex");
    const auto type_id = integer_or(j, "type", -1);
    if (type_id < 0 || type_id > 0xffff || !is_valid_value_type(static_cast<std::uint32_t>(type_id))) {
        return payload_error(fmt::format("{}: value type {} out of range", where, type_id));
    }
    const auto type = static_cast<ValueType>(type_id);
    std::vector<std::byte> payload;
    if (type == ValueType::array) {
        if (!append_array(j, payload)) {
            return payload_error(where + ": malformed array (element type, length n or values)");
        }
    } else if (!append_element(type, j.value("value", json()), payload)) {
        return payload_error(where + ": malformed value");
    }
    const ValueView view(type, Bytes(payload.data(), payload.size()), 0, false);
    return describe::describe_kv(*key, view);
}

gguf::Result<describe::Tensor> tensor_from(const json& j, std::size_t index) {
    const auto where = fmt::format("tensor {}", index);
    const auto name = unhex(j.value("name_hex", json()));
    if (!name) return payload_error(where + ": name_hex missing or not hex");
    const auto type_id = integer_or(j, "type", -1);
    if (type_id < 0) return payload_error(where + ": no type");
    // A reference whose own type table names id 36 "i2_s" (bitnet.cpp) reads it as I2_S, as we do.
    const bool i2_s = type_id == kTypeI2S && j.value("type_name", std::string()) == "i2_s";
    const auto traits =
        i2_s ? std::optional<TypeTraits>(i2_s_traits()) : ggml_type(static_cast<std::uint32_t>(type_id));
    describe::Tensor t;
    t.name = describe::render_string(*name);
    t.type = traits ? std::string(traits->name) : fmt::format("type_{}", type_id);
    for (const auto& d : j.value("dims", json::array())) t.dims.push_back(as_unsigned(d, "a dimension"));
    t.offset = unsigned_or(j, "offset", 0);
    t.size = unsigned_or(j, "size", 0);
    return t;
}

// `consumed`, when given, is `payload` itself: each key-value's JSON is freed once it is converted, so
// that the peak is the JSON plus one key-value's encoding, not the JSON plus every conversion.
gguf::Result<describe::Description> convert(const json& payload, json* consumed) {
    if (!payload.is_object()) return payload_error("not a JSON object");
    try {
        if (payload.value("ok", false) != true) {
            return payload_error("the reference failed: " + payload.value("error", std::string("(no error text)")));
        }
        describe::Description d;
        d.version = as_unsigned<std::uint32_t>(payload.at("version"), "version");
        d.n_kv = as_unsigned(payload.at("n_kv"), "n_kv");
        d.n_tensors = as_unsigned(payload.at("n_tensors"), "n_tensors");
        d.alignment = as_unsigned<std::uint32_t>(payload.at("alignment"), "alignment");
        d.data_offset = as_unsigned(payload.at("data_offset"), "data_offset");
        d.file_size = unsigned_or(payload, "file_size", 0);
        const auto& kvs = payload.at("kv");
        const auto& tensors = payload.at("tensors");
        if (!kvs.is_array() || !tensors.is_array()) return payload_error("kv/tensors are not arrays");
        d.kv.reserve(kvs.size());
        for (std::size_t i = 0; i < kvs.size(); ++i) {
            auto kv = kv_from(kvs[i], i);
            if (!kv) return kv.error();
            if (consumed != nullptr) (*consumed)["kv"][i] = nullptr;
            d.kv.push_back(std::move(kv).value());
        }
        d.tensors.reserve(tensors.size());
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            auto t = tensor_from(tensors[i], i);
            if (!t) return t.error();
            d.tensors.push_back(std::move(t).value());
        }
        return d;
    } catch (const json::exception& e) {  // a field of the wrong JSON type: never let it escape
        return payload_error(e.what());
    } catch (const BadField& e) {
        return payload_error(e.what());
    }
}

}  // namespace

gguf::Result<describe::Description> description_from_header(const json& payload) {
    return convert(payload, nullptr);
}

gguf::Result<describe::Description> description_from_header(json&& payload) {
    return convert(payload, &payload);
}

}  // namespace gguf::reference
