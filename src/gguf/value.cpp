// Values: accessors of the zero-copy views, owned values and their encoding, UTF-8 validation.
#include <bit>
#include <cstring>

#include "gguf/value.hpp"
#include "wire.hpp"

namespace gguf {

namespace wire {

std::size_t payload_size(ValueType type, const std::byte* p, std::size_t avail, bool swapped) {
    if (type == ValueType::string) return 8 + load<std::uint64_t>(p, swapped);
    if (type != ValueType::array) return value_type_size(type);
    auto elem = static_cast<ValueType>(load<std::uint32_t>(p, swapped));
    auto n = load<std::uint64_t>(p + 4, swapped);
    std::size_t pos = 12;
    if (auto sz = value_type_size(elem); sz != 0) return pos + n * sz;
    for (std::uint64_t i = 0; i < n; ++i) pos += payload_size(elem, p + pos, avail - pos, swapped);
    return pos;
}

}  // namespace wire

namespace {

bool is_unsigned_int(ValueType t) {
    return t == ValueType::uint8 || t == ValueType::uint16 || t == ValueType::uint32 || t == ValueType::uint64;
}
bool is_signed_int(ValueType t) {
    return t == ValueType::int8 || t == ValueType::int16 || t == ValueType::int32 || t == ValueType::int64;
}

std::int64_t sign_extend(std::uint64_t bits, std::size_t size) {
    switch (size) {
        case 1: return static_cast<std::int8_t>(bits);
        case 2: return static_cast<std::int16_t>(bits);
        case 4: return static_cast<std::int32_t>(bits);
        default: return static_cast<std::int64_t>(bits);
    }
}

}  // namespace

std::uint64_t ValueView::bits() const {
    if (value_type_size(type_) == 0) return 0;
    return wire::load_bits(type_, payload_.data(), swapped_);
}

std::uint64_t ValueView::as_uint() const { return is_unsigned_int(type_) ? bits() : 0; }

std::int64_t ValueView::as_int() const {
    return is_signed_int(type_) ? sign_extend(bits(), value_type_size(type_)) : 0;
}

double ValueView::as_float() const {
    if (type_ == ValueType::float32) return std::bit_cast<float>(static_cast<std::uint32_t>(bits()));
    if (type_ == ValueType::float64) return std::bit_cast<double>(bits());
    return 0.0;
}

bool ValueView::as_bool() const { return type_ == ValueType::boolean && bits() != 0; }

std::string_view ValueView::as_string() const {
    if (type_ != ValueType::string) return {};
    auto n = wire::load<std::uint64_t>(payload_.data(), swapped_);
    return {reinterpret_cast<const char*>(payload_.data() + 8), static_cast<std::size_t>(n)};
}

ArrayView ValueView::as_array() const {
    if (type_ != ValueType::array) return {};
    auto elem = static_cast<ValueType>(wire::load<std::uint32_t>(payload_.data(), swapped_));
    auto n = wire::load<std::uint64_t>(payload_.data() + 4, swapped_);
    return {elem, n, payload_.subspan(12), offset_ + 12, swapped_};
}

ValueView ArrayView::at(std::uint64_t i) const {
    auto sz = value_type_size(elem_type_);
    return {elem_type_, elements_.subspan(i * sz, sz), offset_ + i * sz, swapped_};
}

ValueView ArrayView::iterator::operator*() const {
    auto rest = a_->elements_.subspan(pos_);
    auto n = wire::payload_size(a_->elem_type_, rest.data(), rest.size(), a_->swapped_);
    return {a_->elem_type_, rest.first(n), a_->offset_ + pos_, a_->swapped_};
}

ArrayView::iterator& ArrayView::iterator::operator++() {
    auto rest = a_->elements_.subspan(pos_);
    pos_ += wire::payload_size(a_->elem_type_, rest.data(), rest.size(), a_->swapped_);
    ++index_;
    return *this;
}

std::vector<std::byte> ArrayView::canonical_bytes() const {
    if (!swapped_) return {elements_.begin(), elements_.end()};
    std::vector<std::byte> out;
    out.reserve(elements_.size());
    for (auto v : *this) Value::from_view(v).encode(out, false);
    return out;
}

Value Value::scalar(ValueType type, std::uint64_t bits) {
    Value v;
    v.type_ = type;
    auto size = value_type_size(type);
    v.bits_ = size >= 8 ? bits : (bits & ((std::uint64_t{1} << (8 * size)) - 1));
    return v;
}

Value Value::f32(float f) { return scalar(ValueType::float32, std::bit_cast<std::uint32_t>(f)); }
Value Value::f64(double d) { return scalar(ValueType::float64, std::bit_cast<std::uint64_t>(d)); }

Value Value::string(std::string_view s) {
    Value v;
    v.type_ = ValueType::string;
    v.str_ = std::string(s);
    return v;
}

Value Value::array(ValueType elem_type, std::vector<Value> elements) {
    Value v;
    v.type_ = ValueType::array;
    v.elem_type_ = elem_type;
    v.elements_ = std::move(elements);
    return v;
}

Value Value::strings(const std::vector<std::string>& items) {
    std::vector<Value> e;
    e.reserve(items.size());
    for (const auto& s : items) e.push_back(string(s));
    return array(ValueType::string, std::move(e));
}

Value Value::f32s(std::span<const float> items) {
    std::vector<Value> e;
    e.reserve(items.size());
    for (float f : items) e.push_back(f32(f));
    return array(ValueType::float32, std::move(e));
}

Value Value::i32s(std::span<const std::int32_t> items) {
    std::vector<Value> e;
    e.reserve(items.size());
    for (auto i : items) e.push_back(i32(i));
    return array(ValueType::int32, std::move(e));
}

Value Value::from_view(const ValueView& view) {
    switch (view.type()) {
        case ValueType::string: return string(view.as_string());
        case ValueType::array: {
            auto a = view.as_array();
            std::vector<Value> e;
            if (value_type_size(a.elem_type()) != 0) e.reserve(a.size());
            for (auto item : a) e.push_back(from_view(item));
            return array(a.elem_type(), std::move(e));
        }
        default: return scalar(view.type(), view.bits());
    }
}

void Value::encode(std::vector<std::byte>& out, bool big_endian) const {
    switch (type_) {
        case ValueType::string:
            wire::append<std::uint64_t>(out, str_.size(), big_endian);
            out.insert(out.end(), reinterpret_cast<const std::byte*>(str_.data()),
                       reinterpret_cast<const std::byte*>(str_.data()) + str_.size());
            return;
        case ValueType::array:
            wire::append<std::uint32_t>(out, static_cast<std::uint32_t>(elem_type_), big_endian);
            wire::append<std::uint64_t>(out, elements_.size(), big_endian);
            for (const auto& e : elements_) e.encode(out, big_endian);
            return;
        default:
            switch (value_type_size(type_)) {
                case 1: wire::append<std::uint8_t>(out, static_cast<std::uint8_t>(bits_), big_endian); return;
                case 2: wire::append<std::uint16_t>(out, static_cast<std::uint16_t>(bits_), big_endian); return;
                case 4: wire::append<std::uint32_t>(out, static_cast<std::uint32_t>(bits_), big_endian); return;
                default: wire::append<std::uint64_t>(out, bits_, big_endian); return;
            }
    }
}

bool is_valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        // Fast path: eight ASCII bytes at a time.
        if (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) { i += 8; continue; }
        }
        unsigned c = p[i];
        if (c < 0x80) { ++i; continue; }
        std::size_t len;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;  // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (i + len > n) return false;
        if (p[i + 1] < lo || p[i + 1] > hi) return false;
        for (std::size_t k = 2; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return true;
}

}  // namespace gguf
