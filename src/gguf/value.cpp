// Values: accessors of the zero-copy views, owned values and their encoding, UTF-8 validation.
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

#include "gguf/value.hpp"
#include "utf8_avx2.hpp"
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
        case 1:
            return static_cast<std::int8_t>(bits);
        case 2:
            return static_cast<std::int16_t>(bits);
        case 4:
            return static_cast<std::int32_t>(bits);
        default:
            return static_cast<std::int64_t>(bits);
    }
}

}  // namespace

std::uint64_t ValueView::bits() const {
    if (value_type_size(type_) == 0) return 0;
    return wire::load_bits(type_, payload_.data(), swapped_);
}

std::uint64_t ValueView::as_uint() const {
    return is_unsigned_int(type_) ? bits() : 0;
}

std::int64_t ValueView::as_int() const {
    return is_signed_int(type_) ? sign_extend(bits(), value_type_size(type_)) : 0;
}

double ValueView::as_float() const {
    if (type_ == ValueType::float32) return std::bit_cast<float>(static_cast<std::uint32_t>(bits()));
    if (type_ == ValueType::float64) return std::bit_cast<double>(bits());
    return 0.0;
}

bool ValueView::as_bool() const {
    return type_ == ValueType::boolean && bits() != 0;
}

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

Value Value::f32(float f) {
    return scalar(ValueType::float32, std::bit_cast<std::uint32_t>(f));
}
Value Value::f64(double d) {
    return scalar(ValueType::float64, std::bit_cast<std::uint64_t>(d));
}

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
        case ValueType::string:
            return string(view.as_string());
        case ValueType::array: {
            auto a = view.as_array();
            std::vector<Value> e;
            if (value_type_size(a.elem_type()) != 0) e.reserve(a.size());
            for (auto item : a) e.push_back(from_view(item));
            return array(a.elem_type(), std::move(e));
        }
        default:
            return scalar(view.type(), view.bits());
    }
}

void Value::encode_array_header(std::vector<std::byte>& out, ValueType elem_type, std::uint64_t count,
                                bool big_endian) {
    wire::append<std::uint32_t>(out, static_cast<std::uint32_t>(elem_type), big_endian);
    wire::append<std::uint64_t>(out, count, big_endian);
}

void Value::encode(std::vector<std::byte>& out, bool big_endian) const {
    switch (type_) {
        case ValueType::string:
            wire::append<std::uint64_t>(out, str_.size(), big_endian);
            out.insert(out.end(), reinterpret_cast<const std::byte*>(str_.data()),
                       reinterpret_cast<const std::byte*>(str_.data()) + str_.size());
            return;
        case ValueType::array:
            encode_array_header(out, elem_type_, elements_.size(), big_endian);
            for (const auto& e : elements_) e.encode(out, big_endian);
            return;
        default:
            switch (value_type_size(type_)) {
                case 1:
                    wire::append<std::uint8_t>(out, static_cast<std::uint8_t>(bits_), big_endian);
                    return;
                case 2:
                    wire::append<std::uint16_t>(out, static_cast<std::uint16_t>(bits_), big_endian);
                    return;
                case 4:
                    wire::append<std::uint32_t>(out, static_cast<std::uint32_t>(bits_), big_endian);
                    return;
                default:
                    wire::append<std::uint64_t>(out, bits_, big_endian);
                    return;
            }
    }
}

namespace {

// UTF-8 validation as a DFA whose transitions for one input byte are packed into one 64-bit row:
// each state is a multiple of 6, and the next state sits in the row at bit position `state`. A step
// is then a table load that does not depend on the state and a shift that does, with no branch per
// byte. States follow the Unicode Standard's Table 3-7 of well-formed sequences.
enum Utf8State : unsigned {
    kAccept = 0,    // between characters
    kCont1 = 6,     // one continuation byte (80..BF) to go
    kCont2 = 12,    // two to go
    kCont3 = 18,    // three to go
    kAfterE0 = 24,  // second byte must be A0..BF (no overlongs)
    kAfterED = 30,  // second byte must be 80..9F (no surrogates)
    kAfterF0 = 36,  // second byte must be 90..BF (no overlongs)
    kAfterF4 = 42,  // second byte must be 80..8F (nothing above U+10FFFF)
    kReject = 48,   // absorbing
};

constexpr unsigned utf8_next(unsigned state, unsigned b) {
    const bool cont = b >= 0x80 && b <= 0xBF;
    switch (state) {
        case kAccept:
            if (b < 0x80) return kAccept;
            if (b >= 0xC2 && b <= 0xDF) return kCont1;
            if (b == 0xE0) return kAfterE0;
            if (b == 0xED) return kAfterED;
            if (b >= 0xE1 && b <= 0xEF) return kCont2;
            if (b == 0xF0) return kAfterF0;
            if (b == 0xF4) return kAfterF4;
            if (b >= 0xF1 && b <= 0xF3) return kCont3;
            return kReject;
        case kCont1:
            return cont ? kAccept : kReject;
        case kCont2:
            return cont ? kCont1 : kReject;
        case kCont3:
            return cont ? kCont2 : kReject;
        case kAfterE0:
            return b >= 0xA0 && b <= 0xBF ? kCont1 : kReject;
        case kAfterED:
            return b >= 0x80 && b <= 0x9F ? kCont1 : kReject;
        case kAfterF0:
            return b >= 0x90 && b <= 0xBF ? kCont2 : kReject;
        case kAfterF4:
            return b >= 0x80 && b <= 0x8F ? kCont2 : kReject;
        default:
            return kReject;
    }
}

struct Utf8Table {
    std::uint64_t row[256];
    constexpr Utf8Table() : row{} {
        for (unsigned b = 0; b < 256; ++b) {
            for (unsigned st = kAccept; st <= kReject; st += 6) {
                row[b] |= std::uint64_t{utf8_next(st, b)} << st;
            }
        }
    }
};
constexpr Utf8Table kUtf8Table;

}  // namespace

// One DFA step. Only the low 6 bits of a state are meaningful: masking the shift count is free
// (x86 shifts take their count modulo 64) and lets the state carry garbage above them.
inline std::uint64_t utf8_step(std::uint64_t state, unsigned char b) {
    return kUtf8Table.row[b] >> (state & 63);
}

namespace {

bool is_valid_utf8_dfa(const unsigned char* p, std::size_t n) {
    std::size_t i = 0;
    std::uint64_t state = kAccept;
    // Sixteen bytes at a time: skipped when they are ASCII between characters, else stepped through
    // the DFA. kReject absorbs, so one check at the end suffices; a block checks early only to
    // stop scanning invalid input.
    while (i + 16 <= n) {
        std::uint64_t w[2];
        std::memcpy(w, p + i, 16);
        if (((w[0] | w[1]) & 0x8080808080808080ULL) == 0 && (state & 63) == kAccept) {
            i += 16;
            continue;
        }
        for (std::size_t k = 0; k < 16; ++k) state = utf8_step(state, p[i + k]);
        if ((state & 63) == kReject) return false;
        i += 16;
    }
    for (; i < n; ++i) state = utf8_step(state, p[i]);
    return (state & 63) == kAccept;
}

#ifdef GGUF_UTF8_AVX2
__attribute__((target("avx2"))) bool is_valid_utf8_avx2(const unsigned char* p, std::size_t n) {
    using namespace utf8;
    __m256i prev = _mm256_setzero_si256();
    __m256i err = _mm256_setzero_si256();
    std::size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i cur = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
        if (_mm256_movemask_epi8(cur) == 0) {
            err = _mm256_or_si256(err, utf8_incomplete(prev));
        } else {
            err = _mm256_or_si256(err, utf8_block_errors(cur, prev));
        }
        prev = cur;
        if ((i & 1023) == 992 && !_mm256_testz_si256(err, err)) return false;  // stop early on bad input
    }
    return rest_valid(p, i, n, prev, err);
}
#endif

}  // namespace

#ifdef GGUF_UTF8_AVX2
// Can AVX2 run here: the CPU has it (CPUID leaf 7, EBX bit 5) and the system saves the YMM registers
// (OSXSAVE set, XCR0 enabling the SSE and AVX state). Asked on first use: __builtin_cpu_supports
// would link libgcc's CPU probe, which runs a dozen CPUID instructions at every start (each a trap
// to the hypervisor on a virtual machine) even in a process that validates nothing.
// GGUF_CROSSVAL_NO_AVX2=1 says no: the portable code then runs, as on a CPU without AVX2 (the
// tests run both).
bool utf8::cpu_has_avx2() {
    static const bool yes = [] {
        if (const char* no = std::getenv("GGUF_CROSSVAL_NO_AVX2"); no != nullptr && *no != '\0' && *no != '0') {
            return false;
        }
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & bit_OSXSAVE) == 0 || (c & bit_AVX) == 0) return false;
        unsigned xcr0 = 0, xcr0_high = 0;
        __asm__("xgetbv" : "=a"(xcr0), "=d"(xcr0_high) : "c"(0));
        if ((xcr0 & 6) != 6) return false;
        return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & bit_AVX2) != 0;
    }();
    return yes;
}
#endif

bool is_valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
#ifdef GGUF_UTF8_AVX2
    if (s.size() >= 32 && utf8::cpu_has_avx2()) return is_valid_utf8_avx2(p, s.size());
#endif
    return is_valid_utf8_dfa(p, s.size());
}

}  // namespace gguf
