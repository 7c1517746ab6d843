// The GGUF reader. A cursor walks the buffer; every size read from the file is checked against
// the bytes that remain before it is used, and every failure becomes an Issue with the offset of
// the field at fault. Nothing is allocated in proportion to a count the file claims: containers
// grow only as real records are parsed.
#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <type_traits>

#include "gguf/reader.hpp"
#include "name_set.hpp"
#include "utf8_avx2.hpp"
#include "wire.hpp"

static_assert(std::endian::native == std::endian::little, "the reader assumes a little-endian host");

namespace gguf {
namespace {

// A length or count whose byte size exceeds this cannot belong to any real file, even a truncated
// one: we call it impossible (string_too_long, count_too_large) rather than truncated.
constexpr std::uint64_t kPlausibleBytes = std::uint64_t{1} << 50;  // 1 PiB

// The smallest encodings: a key-value (length, a 1-byte key, type, a 1-byte value) and a tensor
// info (name length, n_dims, type, offset).
constexpr std::uint64_t kMinKeyValueSize = 8 + 1 + 4 + 1;
constexpr std::uint64_t kMinTensorInfoSize = 8 + 4 + 4 + 8;

std::string describe_bytes(std::uint64_t n) {
    return n == 1 ? "1 byte" : fmt::format("{} bytes", n);
}

bool is_power_of_two(std::uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

// Messages quote keys and tensor names taken from the file. Keep them valid UTF-8, each stray byte
// shown as \xNN, so that every consumer can carry them (a JSON serializer refuses invalid UTF-8).
std::string utf8_safe(std::string message) {
    if (is_valid_utf8(message)) return message;
    std::string out;
    for (std::size_t i = 0; i < message.size();) {
        const auto c = static_cast<unsigned char>(message[i]);
        const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (i + len <= message.size() && is_valid_utf8(std::string_view(message).substr(i, len))) {
            out.append(message, i, len);
            i += len;
        } else {
            out += fmt::format("\\x{:02x}", c);
            ++i;
        }
    }
    return out;
}

}  // namespace

// Parses one buffer. Each step returns false after setting `error_`.
class Parser {
public:
    explicit Parser(Bytes bytes) : b_(bytes) { file_.bytes_ = bytes; }

    // `extent`, when given, receives how far into the buffer the parse may have read: the end of
    // the metadata, or past the point of failure. Past the metadata only arithmetic is done.
    Result<File> run(std::uint64_t* extent = nullptr) {
        const bool metadata = header() && key_values() && tensor_infos();
        if (extent != nullptr) *extent = metadata ? pos_ : std::max(pos_, error_.offset) + kFailureLookahead;
        if (!metadata || !data_layout()) return error_;
        return std::move(file_);
    }

private:
    // Bytes a failing check may have looked at beyond the cursor (a header probe, an element scan).
    static constexpr std::uint64_t kFailureLookahead = 4096;

    // ---- low level ---------------------------------------------------------------------------

    std::uint64_t remaining() const { return b_.size() - pos_; }

    // How many records to make room for up front when the header claims `n` of at least
    // `min_size` bytes each: no more than the remaining bytes could hold, and never more than a
    // fixed cap, so a hostile count costs nothing and a real one saves the regrowth.
    std::size_t plausible_count(std::uint64_t n, std::uint64_t min_size) const {
        constexpr std::uint64_t kCap = 16384;
        return static_cast<std::size_t>(std::min({n, remaining() / min_size, kCap}));
    }

    bool fail(Code code, std::uint64_t offset, std::string message) {
        error_ = Error{code, offset, utf8_safe(std::move(message))};
        return false;
    }

    void warn(Code code, std::uint64_t offset, std::string message) {
        file_.warnings_.push_back(Issue{code, offset, utf8_safe(std::move(message))});
    }

    // `what` names the structure for an error message: a string, or a callable returning one, which
    // is called only when the read fails (building the text on every read would dominate parsing).
    template <class What>
    static std::string text(const What& what) {
        if constexpr (std::is_invocable_v<const What&>) {
            return std::string(what());
        } else {
            return std::string(what);
        }
    }

    template <class What>
    bool need(std::uint64_t n, const What& what) {
        if (n <= remaining()) [[likely]]
            return true;
        return fail(Code::truncated, pos_,
                    fmt::format("file ends at byte {} inside {}: it needs {} more at offset {}", b_.size(), text(what),
                                describe_bytes(n - remaining()), pos_));
    }

    template <class T, class What>
    bool read(T& out, const What& what) {
        if (!need(sizeof(T), what)) return false;
        out = wire::load<T>(b_.data() + pos_, file_.swapped_);
        pos_ += sizeof(T);
        return true;
    }

    // A string: u64 length then bytes. The view points into the buffer.
    template <class What>
    bool read_string(std::string_view& out, const What& what) {
        const std::uint64_t at = pos_;
        std::uint64_t len = 0;
        if (!read(len, what)) return false;
        if (len > remaining()) {
            if (len >= kPlausibleBytes) {
                return fail(Code::string_too_long, at,
                            fmt::format("{} at offset {} claims a length of {} bytes, which no file can hold",
                                        text(what), at, len));
            }
            pos_ = at + 8;
            return fail(Code::truncated, at,
                        fmt::format("{} at offset {} claims {} but only {} remain: the file is cut short", text(what),
                                    at, describe_bytes(len), describe_bytes(remaining())));
        }
        out = {reinterpret_cast<const char*>(b_.data() + pos_), static_cast<std::size_t>(len)};
        pos_ += len;
        return true;
    }

    // ---- header --------------------------------------------------------------------------------

    bool header() {
        static constexpr char kMagicText[] = {'G', 'G', 'U', 'F'};
        const auto n = std::min<std::size_t>(4, b_.size());
        if (!std::equal(b_.begin(), b_.begin() + n, reinterpret_cast<const std::byte*>(kMagicText))) {
            return fail(Code::bad_magic, 0,
                        fmt::format("not a GGUF file: the first bytes are {} instead of \"GGUF\"", hex_prefix(4)));
        }
        if (!need(4, "the magic")) return false;
        pos_ = 4;
        std::uint32_t v = 0;
        if (!read(v, "the version")) return false;
        if (v == 0 || (v > 3 && (v & 0xFFFF) != 0)) {
            return fail(
                Code::unsupported_version, 4,
                fmt::format("GGUF version {} is not supported: only versions 2 and 3 exist (1 is obsolete)", v));
        }
        if (v > 3) {  // low half zero: a byte-swapped (big-endian) file
            const auto swapped = wire::bswap(v);
            if (swapped < 1 || swapped > 3) {
                return fail(Code::unsupported_version, 4,
                            fmt::format("GGUF version {} (0x{:08x}) is not supported, in either byte order", v, v));
            }
            file_.swapped_ = true;
            v = swapped;
        }
        if (v == 1) {
            return fail(Code::unsupported_version, 4,
                        "GGUF version 1 (32-bit counts and lengths, 2023) is obsolete and no current reader loads "
                        "it: convert the model again with a current converter");
        }
        file_.version_ = v;
        if (file_.swapped_) {
            warn(Code::byte_swapped, 4,
                 "the file is byte-swapped (big-endian): valid GGUF, but llama.cpp reads only files in the host's "
                 "byte order");
        }
        if (!read(n_tensors_, "the tensor count") || !read(n_kv_, "the key-value count")) return false;
        if (n_tensors_ >= kPlausibleBytes) {
            return fail(Code::count_too_large, 8,
                        fmt::format("the header claims {} tensors, more than any file could describe", n_tensors_));
        }
        if (n_kv_ >= kPlausibleBytes) {
            return fail(Code::count_too_large, 16,
                        fmt::format("the header claims {} key-value pairs, more than any file could hold", n_kv_));
        }
        return true;
    }

    std::string hex_prefix(std::size_t n) const {
        std::string out;
        for (std::size_t i = 0; i < std::min(n, b_.size()); ++i) {
            out += fmt::format("{}{:02x}", i ? " " : "", static_cast<unsigned>(b_[i]));
        }
        return out.empty() ? "(empty file)" : out;
    }

    // ---- key-value pairs -----------------------------------------------------------------------

    bool key_values() {
        const auto expected = plausible_count(n_kv_, kMinKeyValueSize);
        NameSet seen(expected);
        file_.kvs_.reserve(expected);
        for (std::uint64_t i = 0; i < n_kv_; ++i) {
            const std::uint64_t at = pos_;
            if (!key_value(i, seen)) {
                if (i == 0) nonstandard_layout();
                return false;
            }
            (void)at;
        }
        return true;
    }

    bool key_value(std::uint64_t index, NameSet& seen) {
        KeyValue kv{};
        kv.offset = pos_;
        const auto what = [&] { return fmt::format("the key of key-value {}", index); };
        if (!read_string(kv.key, what)) return false;
        if (kv.key.empty())
            return fail(Code::empty_key, kv.offset, fmt::format("key-value {} has an empty key", index));
        if (!seen.insert(kv.key)) {
            return fail(Code::duplicate_key, kv.offset, fmt::format("key '{}' appears twice", kv.key));
        }
        if (!is_valid_utf8(kv.key)) {
            warn(Code::invalid_utf8, kv.offset, fmt::format("key {} is not valid UTF-8", index));
        }
        std::uint32_t type = 0;
        const std::uint64_t type_at = pos_;
        if (!read(type, [&] { return fmt::format("the type of key '{}'", kv.key); })) return false;
        if (!is_valid_value_type(type)) {
            return fail(Code::invalid_value_type, type_at,
                        fmt::format("key '{}' has value type {}; valid types are 0 to 12", kv.key, type));
        }
        if (!value(static_cast<ValueType>(type), kv.key, 0, kv.value)) return false;
        if (kv.key == "general.alignment" && !alignment(kv)) return false;
        file_.kvs_.push_back(kv);
        return true;
    }

    // Parse one value payload at the cursor, validating it whole.
    bool value(ValueType type, std::string_view key, std::uint32_t depth, ValueView& out) {
        const std::uint64_t at = pos_;
        if (type == ValueType::string) {
            std::string_view s;
            if (!read_string(s, [&] { return fmt::format("the string value of '{}'", key); })) return false;
            if (!utf8_warned_ && !is_valid_utf8(s)) {
                utf8_warned_ = true;
                warn(Code::invalid_utf8, at, fmt::format("a string value of '{}' is not valid UTF-8", key));
            }
        } else if (type == ValueType::array) {
            if (!array(key, depth)) return false;
        } else {
            const auto size = value_type_size(type);
            if (!need(size, [&] { return fmt::format("the value of '{}'", key); })) return false;
            if (type == ValueType::boolean && std::to_integer<unsigned>(b_[pos_]) > 1) {
                return fail(Code::invalid_bool, pos_,
                            fmt::format("'{}' has bool byte {}; a bool must be 0 or 1", key,
                                        std::to_integer<unsigned>(b_[pos_])));
            }
            pos_ += size;
        }
        out = ValueView(type, b_.subspan(at, pos_ - at), at, file_.swapped_);
        return true;
    }

    bool array(std::string_view key, std::uint32_t depth) {
        const std::uint64_t at = pos_;
        if (depth >= kMaxArrayDepth) {
            return fail(Code::nesting_too_deep, at,
                        fmt::format("'{}' nests arrays more than {} deep", key, kMaxArrayDepth));
        }
        std::uint32_t elem = 0;
        std::uint64_t n = 0;
        if (!read(elem, [&] { return fmt::format("the element type of '{}'", key); })) return false;
        if (!is_valid_value_type(elem)) {
            return fail(Code::invalid_value_type, at,
                        fmt::format("array '{}' has element type {}; valid types are 0 to 12", key, elem));
        }
        if (!read(n, [&] { return fmt::format("the length of array '{}'", key); })) return false;
        const auto type = static_cast<ValueType>(elem);
        if (type == ValueType::array && !nested_warned_) {
            nested_warned_ = true;
            warn(Code::array_of_arrays, at,
                 fmt::format("'{}' is an array of arrays: the specification allows it, llama.cpp rejects it", key));
        }
        if (const auto size = value_type_size(type); size != 0) {
            std::uint64_t total = 0;
            if (__builtin_mul_overflow(n, size, &total) || total >= kPlausibleBytes) {
                return fail(Code::count_too_large, at + 4,
                            fmt::format("array '{}' claims {} elements of {}: more than any file could hold", key, n,
                                        describe_bytes(size)));
            }
            if (!need(total, [&] { return fmt::format("the {} elements of array '{}'", n, key); })) return false;
            if (type == ValueType::boolean) {
                for (std::uint64_t i = 0; i < n; ++i) {
                    if (std::to_integer<unsigned>(b_[pos_ + i]) > 1) {
                        return fail(Code::invalid_bool, pos_ + i,
                                    fmt::format("element {} of bool array '{}' is {}; a bool must be 0 or 1", i, key,
                                                std::to_integer<unsigned>(b_[pos_ + i])));
                    }
                }
            }
            pos_ += total;
            return true;
        }
        // Strings need at least 8 bytes each, arrays 12: a length beyond that is impossible or truncated.
        const std::uint64_t min_size = type == ValueType::string ? 8 : 12;
        if (n >= kPlausibleBytes / min_size) {
            return fail(Code::count_too_large, at + 4,
                        fmt::format("array '{}' claims {} elements: more than any file could hold", key, n));
        }
        if (type == ValueType::string) return string_elements(key, n);
        ValueView ignored;
        for (std::uint64_t i = 0; i < n; ++i) {
            if (!value(type, key, depth + 1, ignored)) return false;
        }
        return true;
    }

    // The n elements of a string array. Their UTF-8 is checked a run of strings at a time, which
    // costs far less than a check per string: a run of strings shorter than 128 bytes is checked
    // as one byte range, length fields included. Such a length encodes as eight bytes below 0x80
    // (in either byte order), which leave a decoder that is between characters there and make one
    // that is inside a sequence fail, so the range is valid exactly when each string in it is.
    //
    // With AVX2 (string_elements_avx2) a run is checked 32 bytes at a time just behind the walk;
    // else as one range once it reaches kUtf8Run bytes, while the walk has just brought it into the
    // cache (a whole vocabulary checked after its walk would be read from memory again).
    bool string_elements(std::string_view key, std::uint64_t n) {
#ifdef GGUF_UTF8_AVX2
        if (b_.size() >= 32 && utf8::cpu_has_avx2()) return string_elements_avx2(key, n);
#endif
        static constexpr std::uint64_t kUtf8Run = 16 * 1024;
        std::uint64_t run_start = pos_;
        std::uint64_t run_first = 0;
        std::uint64_t pos = pos_;
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t at = pos;
            std::uint64_t len = 0;
            if (!element(key, i, pos, len)) return false;
            if (len >= 128) [[unlikely]] {
                check_utf8_run(key, run_start, at, run_first);
                long_element(key, i, at, len);
                run_start = pos;
                run_first = i + 1;
            } else if (pos - run_start >= kUtf8Run) [[unlikely]] {
                check_utf8_run(key, run_start, pos, run_first);
                run_start = pos;
                run_first = i + 1;
            }
        }
        pos_ = pos;
        check_utf8_run(key, run_start, pos_, run_first);
        return true;
    }

#ifdef GGUF_UTF8_AVX2
    // The same walk with AVX2, checking a run 32 bytes at a time as the walk passes them, so that
    // the check runs in the shadow of the walk: a chain of dependent loads (each length gives the
    // next address) that leaves most of the core idle. Without a branch: at each element one block
    // is loaded (from inside the buffer even when it is not due yet) and its errors kept only when
    // the walk is past it; the rest of a run is checked at its end.
    __attribute__((target("avx2"))) bool string_elements_avx2(std::string_view key, std::uint64_t n) {
        const auto* base = reinterpret_cast<const unsigned char*>(b_.data());
        const std::uint64_t last_block = b_.size() - 32;  // the highest offset a block may be loaded from
        std::uint64_t pos = pos_;
        std::uint64_t run_start = pos;
        std::uint64_t run_first = 0;
        std::uint64_t next = pos;  // the first byte of the run not checked yet
        __m256i prev = _mm256_setzero_si256();
        __m256i err = _mm256_setzero_si256();
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t at = pos;
            std::uint64_t len = 0;
            if (!element(key, i, pos, len)) return false;
            if (len >= 128) [[unlikely]] {
                if (!utf8_warned_ && !utf8::rest_valid(base, next, at, prev, err))
                    blame_utf8_run(key, run_start, at, run_first);
                long_element(key, i, at, len);
                run_start = next = pos;
                run_first = i + 1;
                prev = err = _mm256_setzero_si256();
                continue;
            }
            const bool due = next + 32 <= pos;
            const __m256i cur = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + std::min(next, last_block)));
            const __m256i keep = _mm256_set1_epi8(static_cast<char>(-static_cast<int>(due)));
            err = _mm256_or_si256(err, _mm256_and_si256(utf8::utf8_block_errors(cur, prev), keep));
            prev = _mm256_blendv_epi8(prev, cur, keep);
            next += due ? 32 : 0;
        }
        pos_ = pos;
        if (!utf8_warned_ && !utf8::rest_valid(base, next, pos, prev, err))
            blame_utf8_run(key, run_start, pos, run_first);
        return true;
    }
#endif

    // The element at pos: its length read directly and pos moved past it. One that does not fit in
    // the buffer goes through read_string (short_element), which reports it exactly as for any other
    // string.
    [[gnu::always_inline]] bool element(std::string_view key, std::uint64_t i, std::uint64_t& pos, std::uint64_t& len) {
        const std::uint64_t at = pos;
        const std::uint64_t end = b_.size();
        if (end - at >= 8) [[likely]] {
            len = wire::load<std::uint64_t>(b_.data() + at, file_.swapped_);
            if (len <= end - at - 8) [[likely]] {
                pos = at + 8 + len;
                return true;
            }
        }
        return short_element(key, i, pos, len);
    }

    // An element that does not fit in the buffer, at pos. On success pos and len are its end and
    // length.
    [[gnu::noinline]] bool short_element(std::string_view key, std::uint64_t i, std::uint64_t& pos,
                                         std::uint64_t& len) {
        pos_ = pos;
        std::string_view s;
        if (!read_string(s, [&] { return fmt::format("element {} of array '{}'", i, key); })) return false;
        len = s.size();
        pos = pos_;
        return true;
    }

    // Element i, of 128 bytes or more, at `at`: checked on its own.
    [[gnu::noinline]] void long_element(std::string_view key, std::uint64_t i, std::uint64_t at, std::uint64_t len) {
        const std::string_view s(reinterpret_cast<const char*>(b_.data() + at + 8), len);
        if (!utf8_warned_ && !is_valid_utf8(s)) {
            utf8_warned_ = true;
            warn(Code::invalid_utf8, at, fmt::format("element {} of '{}' is not valid UTF-8", i, key));
        }
    }

    // Check the run of already-parsed short strings in [from, to), the first of which is element
    // `first`.
    void check_utf8_run(std::string_view key, std::uint64_t from, std::uint64_t to, std::uint64_t first) {
        if (utf8_warned_ || from == to) return;
        const auto* base = reinterpret_cast<const char*>(b_.data());
        if (is_valid_utf8({base + from, static_cast<std::size_t>(to - from)})) [[likely]]
            return;
        blame_utf8_run(key, from, to, first);
    }

    // The run of already-parsed short strings in [from, to), the first of which is element `first`,
    // is not valid UTF-8: warn about the first string at fault (once per file).
    [[gnu::noinline]] void blame_utf8_run(std::string_view key, std::uint64_t from, std::uint64_t to,
                                          std::uint64_t first) {
        const auto* base = reinterpret_cast<const char*>(b_.data());
        for (std::uint64_t at = from, i = first; at < to; ++i) {
            const auto len = wire::load<std::uint64_t>(b_.data() + at, file_.swapped_);
            if (!is_valid_utf8({base + at + 8, static_cast<std::size_t>(len)})) {
                utf8_warned_ = true;
                warn(Code::invalid_utf8, at, fmt::format("element {} of '{}' is not valid UTF-8", i, key));
                return;
            }
            at += 8 + len;
        }
    }

    bool alignment(const KeyValue& kv) {
        if (kv.value.type() != ValueType::uint32) {
            return fail(
                Code::bad_alignment, kv.offset,
                fmt::format("general.alignment has type {}; it must be uint32", value_type_name(kv.value.type())));
        }
        const auto a = kv.value.as_uint();
        if (!is_power_of_two(a)) {
            return fail(Code::bad_alignment, kv.value.offset(),
                        fmt::format("general.alignment {} is not a power of two", a));
        }
        if (a < 8) {
            warn(Code::alignment_below_spec, kv.value.offset(),
                 fmt::format("general.alignment {} is below 8: the specification asks for a multiple of 8", a));
        }
        file_.alignment_ = static_cast<std::uint32_t>(a);
        return true;
    }

    // After a failure in the first key-value: is this the pre-standard layout that put a u32
    // alignment and a u64 data offset after the header? If so, replace the error with one that
    // names it.
    void nonstandard_layout() {
        if (b_.size() < kHeaderSize + 12 + 8) return;
        const auto* p = b_.data() + kHeaderSize;
        const auto align = wire::load<std::uint32_t>(p, file_.swapped_);
        const auto data_offset = wire::load<std::uint64_t>(p + 4, file_.swapped_);
        const auto key_len = wire::load<std::uint64_t>(p + 12, file_.swapped_);
        if (!is_power_of_two(align) || data_offset % align != 0 || data_offset > b_.size() ||
            data_offset < kHeaderSize + 12 || key_len == 0 || key_len > b_.size()) {
            return;
        }
        error_ = Error{Code::nonstandard_header_layout, kHeaderSize,
                       fmt::format("bytes 24-35 hold an alignment ({}) and a data offset ({}) that standard GGUF "
                                   "does not have: this is the pre-standard layout some early tools wrote. "
                                   "Regenerate the file with a standard GGUF writer "
                                   "(for the mini fixture: gguf-crossval gen-mini-gguf)",
                                   align, data_offset)};
    }

    // ---- tensor infos --------------------------------------------------------------------------

    bool tensor_infos() {
        const auto expected = plausible_count(n_tensors_, kMinTensorInfoSize);
        NameSet seen(expected);
        file_.tensors_.reserve(expected);
        for (std::uint64_t i = 0; i < n_tensors_; ++i) {
            TensorInfo t{};
            t.info_offset = pos_;
            if (!read_string(t.name, [&] { return fmt::format("the name of tensor {}", i); })) return false;
            if (t.name.size() > kMaxTensorName) {
                return fail(
                    Code::tensor_name_too_long, t.info_offset,
                    fmt::format("tensor {} has a {}-byte name; the limit is {}", i, t.name.size(), kMaxTensorName));
            }
            if (t.name.size() == kMaxTensorName) {
                warn(Code::tensor_name_at_limit, t.info_offset,
                     fmt::format("tensor '{}' has a 64-byte name: allowed, but llama.cpp needs fewer than 64", t.name));
            }
            if (!seen.insert(t.name)) {
                return fail(Code::duplicate_tensor, t.info_offset, fmt::format("tensor '{}' appears twice", t.name));
            }
            if (!is_valid_utf8(t.name)) {
                warn(Code::invalid_utf8, t.info_offset,
                     fmt::format("the name of tensor '{}' is not valid UTF-8", t.name));
            }
            if (!tensor_shape(t) || !tensor_type(t)) return false;
            if (!read(t.offset, [&] { return fmt::format("the offset of tensor '{}'", t.name); })) return false;
            file_.tensors_.push_back(t);
        }
        file_.metadata_end_ = pos_;
        return true;
    }

    bool tensor_shape(TensorInfo& t) {
        const std::uint64_t at = pos_;
        if (!read(t.n_dims, [&] { return fmt::format("the dimension count of tensor '{}'", t.name); })) return false;
        if (t.n_dims > kMaxDims) {
            return fail(Code::too_many_dims, at,
                        fmt::format("tensor '{}' has {} dimensions; this reader allows at most {} (llama.cpp {})",
                                    t.name, t.n_dims, kMaxDims, kGgmlMaxDims));
        }
        if (t.n_dims > kGgmlMaxDims) {
            warn(Code::dims_over_ggml_max, at,
                 fmt::format("tensor '{}' has {} dimensions: llama.cpp reads at most {}", t.name, t.n_dims,
                             kGgmlMaxDims));
        }
        for (std::uint32_t d = 0; d < t.n_dims; ++d) {
            const std::uint64_t dim_at = pos_;
            if (!read(t.ne[d], [&] { return fmt::format("dimension {} of tensor '{}'", d, t.name); })) return false;
            if (t.ne[d] >= (std::uint64_t{1} << 63)) {
                return fail(Code::invalid_dimension, dim_at,
                            fmt::format("dimension {} of tensor '{}' is {}, beyond the signed 64-bit range", d, t.name,
                                        t.ne[d]));
            }
        }
        if (!element_count(t.dims())) {
            return fail(Code::shape_overflow, at,
                        fmt::format("the element count of tensor '{}' overflows 64 bits", t.name));
        }
        return true;
    }

    bool tensor_type(TensorInfo& t) {
        const std::uint64_t at = pos_;
        if (!read(t.type, [&] { return fmt::format("the type of tensor '{}'", t.name); })) return false;
        auto traits = ggml_type(t.type);
        if (!traits) {
            return fail(
                Code::invalid_tensor_type, at,
                fmt::format("tensor '{}' has type id {}; ggml knows ids 0 to {}", t.name, t.type, kGgmlTypeCount - 1));
        }
        if (t.type == kTypeI2S) {
            traits = i2_s_traits();
            warn(Code::bitnet_i2_s, at,
                 fmt::format("tensor '{}' has type 36, read as bitnet.cpp's I2_S: upstream llama.cpp treats 36 as "
                             "the removed IQ4_NL_4_4 and rejects the file",
                             t.name));
        } else if (traits->removed) {
            return fail(Code::invalid_tensor_type, at,
                        fmt::format("tensor '{}' has type {} ({}), which ggml removed; re-quantize the model", t.name,
                                    t.type, traits->name));
        }
        t.traits = *traits;
        const std::uint64_t row = t.n_dims > 0 ? t.ne[0] : 1;  // 0 dims: a one-element scalar
        if (t.traits.block_size > 1 && row % t.traits.block_size != 0) {
            return fail(Code::shape_not_block_aligned, at,
                        fmt::format("tensor '{}' of type {} has {} elements per row, not a multiple of the block "
                                    "size {}",
                                    t.name, t.traits.name, row, t.traits.block_size));
        }
        auto size = tensor_nbytes(t.traits, t.dims());
        if (!size) {
            return fail(Code::shape_overflow, at,
                        fmt::format("the byte size of tensor '{}' ({} of type {}) overflows 64 bits", t.name,
                                    *element_count(t.dims()), t.traits.name));
        }
        t.size = *size;
        return true;
    }

    // ---- data section --------------------------------------------------------------------------

    bool data_layout() {
        const std::uint64_t a = file_.alignment_;
        file_.data_offset_ = (file_.metadata_end_ + a - 1) / a * a;
        if (file_.tensors_.empty() && file_.metadata_end_ % a != 0) {
            warn(Code::zero_tensor_data_offset, file_.metadata_end_,
                 fmt::format("no tensors: the data section starts at {} padded to alignment {} (gguf-py), but ggml "
                             "reports the unpadded {}",
                             file_.data_offset_, a, file_.metadata_end_));
        }
        std::uint64_t expected = 0;  // llama.cpp's running sum of padded sizes
        bool contiguous = true;
        for (auto& t : file_.tensors_) {
            if (t.offset % a != 0) {
                return fail(
                    Code::offset_misaligned, t.info_offset,
                    fmt::format("tensor '{}' offset {} is not a multiple of alignment {}", t.name, t.offset, a));
            }
            std::uint64_t start = 0;
            std::uint64_t end = 0;
            if (__builtin_add_overflow(file_.data_offset_, t.offset, &start) ||
                __builtin_add_overflow(start, t.size, &end) || end > b_.size()) {
                return fail(Code::tensor_data_out_of_bounds, t.info_offset,
                            fmt::format("tensor '{}' data ({} at data offset {}, file offset {}) runs past the end of "
                                        "the {}-byte file",
                                        t.name, describe_bytes(t.size), t.offset, start, b_.size()));
            }
            t.data = b_.subspan(start, t.size);
            file_.data_end_ = std::max(file_.data_end_, end);
            contiguous = contiguous && t.offset == expected;
            expected = t.offset + (t.size + a - 1) / a * a;  // bounded by the file size: no overflow
        }
        if (!contiguous) {
            warn(Code::offsets_not_contiguous, file_.metadata_end_,
                 "tensor offsets leave gaps or are out of order: valid GGUF, but llama.cpp requires each offset to "
                 "be the padded end of the previous tensor");
        }
        return no_overlap();
    }

    bool no_overlap() {
        std::vector<const TensorInfo*> order;
        order.reserve(file_.tensors_.size());
        for (const auto& t : file_.tensors_) {
            if (t.size != 0) order.push_back(&t);
        }
        const auto by_offset = [](auto* x, auto* y) { return x->offset < y->offset; };
        if (!std::is_sorted(order.begin(), order.end(), by_offset)) std::sort(order.begin(), order.end(), by_offset);
        for (std::size_t i = 1; i < order.size(); ++i) {
            const auto* prev = order[i - 1];
            const auto* cur = order[i];
            if (cur->offset < prev->offset + prev->size) {
                return fail(
                    Code::tensors_overlap, cur->info_offset,
                    fmt::format("tensor '{}' data [{}, {}) overlaps tensor '{}' data [{}, {})", cur->name, cur->offset,
                                cur->offset + cur->size, prev->name, prev->offset, prev->offset + prev->size));
            }
        }
        return true;
    }

    Bytes b_;
    std::uint64_t pos_ = 0;
    std::uint64_t n_tensors_ = 0;
    std::uint64_t n_kv_ = 0;
    bool utf8_warned_ = false;
    bool nested_warned_ = false;
    File file_;
    Error error_{Code::io_error, 0, ""};
};

const KeyValue* File::find(std::string_view key) const {
    auto it = std::find_if(kvs_.begin(), kvs_.end(), [&](const KeyValue& kv) { return kv.key == key; });
    return it == kvs_.end() ? nullptr : &*it;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = std::find_if(tensors_.begin(), tensors_.end(), [&](const TensorInfo& t) { return t.name == name; });
    return it == tensors_.end() ? nullptr : &*it;
}

Result<File> parse(Bytes bytes) {
    return Parser(bytes).run();
}

namespace detail {
Result<File> parse_with_extent(Bytes bytes, std::uint64_t& extent) {
    return Parser(bytes).run(&extent);
}
}  // namespace detail

}  // namespace gguf
