// Values: zero-copy views into a parsed file (ValueView) and owned values for the writer (Value).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/format.hpp"

namespace gguf {

using Bytes = std::span<const std::byte>;

class ArrayView;

// A value inside a parsed file. It does not own its bytes: it is valid while the File lives.
// `payload` is the value's encoding after its type tag (for an array: element type, count, elements),
// already checked by the reader, so the accessors below never read out of bounds.
class ValueView {
public:
    ValueView() = default;
    ValueView(ValueType type, Bytes payload, std::uint64_t offset, bool swapped)
        : type_(type), payload_(payload), offset_(offset), swapped_(swapped) {}

    ValueType type() const { return type_; }
    std::uint64_t offset() const { return offset_; }  // file offset of the payload
    Bytes payload() const { return payload_; }
    bool swapped() const { return swapped_; }

    // Scalars. Each requires the matching type (checked: the wrong type returns 0 / false / "").
    std::uint64_t as_uint() const;  // any unsigned integer type
    std::int64_t as_int() const;    // any signed integer type
    double as_float() const;        // float32 or float64
    bool as_bool() const;
    std::string_view as_string() const;
    ArrayView as_array() const;

    // The raw bits of a fixed-size scalar, host order, zero-extended (floats: their bit pattern).
    std::uint64_t bits() const;

private:
    ValueType type_ = ValueType::uint8;
    Bytes payload_;
    std::uint64_t offset_ = 0;
    bool swapped_ = false;
};

// An array inside a parsed file. Fixed-size elements are indexed directly; strings and nested
// arrays are reached by iteration.
class ArrayView {
public:
    ArrayView() = default;
    ArrayView(ValueType elem_type, std::uint64_t size, Bytes elements, std::uint64_t offset, bool swapped)
        : elem_type_(elem_type), size_(size), elements_(elements), offset_(offset), swapped_(swapped) {}

    ValueType elem_type() const { return elem_type_; }
    std::uint64_t size() const { return size_; }
    Bytes elements() const { return elements_; }  // the encoded elements, file byte order
    bool swapped() const { return swapped_; }

    // Element i of a fixed-size array (precondition: i < size, fixed-size element type).
    ValueView at(std::uint64_t i) const;

    class iterator {
    public:
        using value_type = ValueView;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const ArrayView* a, std::uint64_t index, std::size_t pos) : a_(a), index_(index), pos_(pos) {}
        ValueView operator*() const;
        iterator& operator++();
        iterator operator++(int) {
            auto t = *this;
            ++*this;
            return t;
        }
        bool operator==(const iterator& o) const { return index_ == o.index_; }

    private:
        const ArrayView* a_ = nullptr;
        std::uint64_t index_ = 0;
        std::size_t pos_ = 0;  // byte position of the element in elements_
    };
    iterator begin() const { return {this, 0, 0}; }
    iterator end() const { return {this, size_, elements_.size()}; }

    // The canonical little-endian encoding of the elements (equal to elements() for LE files).
    // It is what array hashes are computed over, so that byte-swapped files hash the same.
    std::vector<std::byte> canonical_bytes() const;

private:
    ValueType elem_type_ = ValueType::uint8;
    std::uint64_t size_ = 0;
    Bytes elements_;
    std::uint64_t offset_ = 0;
    bool swapped_ = false;
};

// An owned value, for building files. Arrays hold their elements, which may themselves be arrays.
class Value {
public:
    Value() = default;
    static Value u8(std::uint8_t v) { return scalar(ValueType::uint8, v); }
    static Value i8(std::int8_t v) { return scalar(ValueType::int8, static_cast<std::uint8_t>(v)); }
    static Value u16(std::uint16_t v) { return scalar(ValueType::uint16, v); }
    static Value i16(std::int16_t v) { return scalar(ValueType::int16, static_cast<std::uint16_t>(v)); }
    static Value u32(std::uint32_t v) { return scalar(ValueType::uint32, v); }
    static Value i32(std::int32_t v) { return scalar(ValueType::int32, static_cast<std::uint32_t>(v)); }
    static Value u64(std::uint64_t v) { return scalar(ValueType::uint64, v); }
    static Value i64(std::int64_t v) { return scalar(ValueType::int64, static_cast<std::uint64_t>(v)); }
    static Value f32(float v);
    static Value f64(double v);
    static Value boolean(bool v) { return scalar(ValueType::boolean, v ? 1 : 0); }
    static Value string(std::string_view s);
    static Value array(ValueType elem_type, std::vector<Value> elements);
    static Value strings(const std::vector<std::string>& items);
    static Value f32s(std::span<const float> items);
    static Value i32s(std::span<const std::int32_t> items);
    // A scalar of any fixed-size type from its raw bits (host order, low bytes used).
    static Value scalar(ValueType type, std::uint64_t bits);
    // An owned copy of a value read from a file.
    static Value from_view(const ValueView& view);

    ValueType type() const { return type_; }
    std::uint64_t bits() const { return bits_; }
    const std::string& str() const { return str_; }
    ValueType elem_type() const { return elem_type_; }
    const std::vector<Value>& elements() const { return elements_; }

    // Canonical little-endian encoding of the payload (what follows the type tag).
    void encode(std::vector<std::byte>& out, bool big_endian = false) const;
    // The start of an array's encoding (its element type and count), for writing the elements one at a
    // time without building the array: encode() of an array is this, then each element's encode().
    static void encode_array_header(std::vector<std::byte>& out, ValueType elem_type, std::uint64_t count,
                                    bool big_endian = false);

    friend bool operator==(const Value&, const Value&) = default;

private:
    ValueType type_ = ValueType::uint8;
    std::uint64_t bits_ = 0;
    std::string str_;
    ValueType elem_type_ = ValueType::uint8;
    std::vector<Value> elements_;
};

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace gguf
