// Logits metrics and the logits file formats.
#include "logits.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>

#include "distribution.hpp"
#include "util/atomic_file.hpp"

namespace gguf::crossval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Indices of the k largest values, largest first; equal values: lower index first.
std::vector<std::uint32_t> top_k(std::span<const float> row, std::size_t k) {
    std::vector<std::uint32_t> idx(row.size());
    for (std::uint32_t i = 0; i < idx.size(); ++i) idx[i] = i;
    k = std::min(k, idx.size());
    const auto greater = [&row](std::uint32_t a, std::uint32_t b) {
        // NaN sorts last so that it never hides a real maximum
        const bool an = std::isnan(row[a]), bn = std::isnan(row[b]);
        if (an != bn) return bn;
        if (!an && row[a] != row[b]) return row[a] > row[b];
        return a < b;
    };
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), greater);
    idx.resize(k);
    return idx;
}

bool all_finite(std::span<const float> row) {
    return std::all_of(row.begin(), row.end(), [](float v) { return std::isfinite(v); });
}

std::uint32_t read_u32(const std::byte* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(std::to_integer<std::uint8_t>(p[i])) << (8 * i);
    return v;
}

constexpr std::array<char, 4> kMagic{'G', 'L', 'O', 'G'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeader = 16;

// The text of one float in the JSON form: 9 significant digits read back to the same f32; non-finite
// values as strings.
void append_json_float(std::string& s, float v) {
    if (std::isnan(v))
        s += "\"nan\"";
    else if (std::isinf(v))
        s += v > 0 ? "\"inf\"" : "\"-inf\"";
    else if (v == 0.0f && std::signbit(v))
        s += "-0.0";  // "-0" would read back as the integer 0
    else
        s += fmt::format("{:.9g}", v);
}

void append_u32(std::string& s, std::uint32_t v) {
    for (int b = 0; b < 4; ++b) s += static_cast<char>((v >> (8 * b)) & 0xff);
}

// Either format, produced in chunks of about 64 KiB handed to `flush` (which empties the chunk and
// returns false when it cannot write: io_error); one row is held at a time. A row the source cannot
// give ends it with the source's error.
template <class Flush>
LogitsResult<Ok> format_logits(const LogitsShape& shape, const RowSource& rows, LogitsFormat format, Flush&& flush) {
    constexpr std::size_t kChunk = std::size_t{1} << 16;
    const auto write_failed = [] { return LogitsError{LogitsCode::io_error, 0, "the write failed"}; };
    std::string chunk;
    if (format == LogitsFormat::binary) {
        chunk.append(kMagic.data(), kMagic.size());
        append_u32(chunk, kVersion);
        append_u32(chunk, static_cast<std::uint32_t>(shape.n_positions));
        append_u32(chunk, shape.n_vocab);
    } else {
        chunk = fmt::format("{{\"n_vocab\":{},", shape.n_vocab);
        if (!shape.tokens.empty())
            chunk += fmt::format("\"tokens\":[{}],", fmt::join(shape.tokens, ","));  // omitted when unknown
        chunk += "\"logits\":[";
    }
    for (std::size_t p = 0; p < shape.n_positions; ++p) {
        const auto row = rows(p);
        if (!row) return row.error();
        if (format == LogitsFormat::binary) {
            for (const float v : *row) append_u32(chunk, std::bit_cast<std::uint32_t>(v));
        } else {
            chunk += p ? ",[" : "[";
            for (std::size_t i = 0; i < row->size(); ++i) {
                if (i) chunk += ',';
                append_json_float(chunk, (*row)[i]);
            }
            chunk += ']';
        }
        if (chunk.size() >= kChunk && !flush(chunk)) return write_failed();
    }
    if (format == LogitsFormat::json) chunk += "]}\n";
    if (!flush(chunk)) return write_failed();
    return Ok{};
}

RowSource rows_of(const Logits& logits) {
    return [&logits](std::size_t p) -> LogitsResult<std::span<const float>> { return logits.row(p); };
}

}  // namespace

std::string_view logits_code_name(LogitsCode code) {
    switch (code) {
        case LogitsCode::io_error:
            return "io_error";
        case LogitsCode::not_a_logits_file:
            return "not_a_logits_file";
        case LogitsCode::bad_json:
            return "bad_json";
        case LogitsCode::unsupported_version:
            return "unsupported_version";
        case LogitsCode::truncated:
            return "truncated";
        case LogitsCode::trailing_bytes:
            return "trailing_bytes";
        case LogitsCode::empty:
            return "empty";
        case LogitsCode::too_large:
            return "too_large";
        case LogitsCode::shape_mismatch:
            return "shape_mismatch";
    }
    return "unknown";
}

// ---- Metrics ----------------------------------------------------------------------------------

PositionMetrics compare_rows(std::span<const float> ref, std::span<const float> test, std::size_t position) {
    PositionMetrics m;
    m.position = position;
    const auto top_ref = top_k(ref, 5);
    const auto top_test = top_k(test, 5);
    m.ref_top1 = top_ref.empty() ? 0 : top_ref[0];
    m.test_top1 = top_test.empty() ? 0 : top_test[0];
    m.top1_match = m.ref_top1 == m.test_top1;
    if (!top_ref.empty()) m.top1_gap = static_cast<double>(ref[m.ref_top1]) - static_cast<double>(ref[m.test_top1]);
    for (auto i : top_ref) m.top5_overlap += std::count(top_test.begin(), top_test.end(), i) > 0 ? 1u : 0u;

    m.finite = all_finite(ref) && all_finite(test);
    if (!m.finite) {
        const bool identical =
            ref.size() == test.size() && std::equal(ref.begin(), ref.end(), test.begin(), [](float a, float b) {
                return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
            });
        m.max_abs_diff = identical ? 0 : kInf;
        m.cosine = identical ? 1 : 0;
        m.kl = identical ? 0 : kInf;
        return m;
    }

    double dot = 0, nr = 0, nt = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double r = ref[i], t = test[i];
        const double d = std::fabs(r - t);
        if (d > m.max_abs_diff) {
            m.max_abs_diff = d;
            m.max_abs_index = static_cast<std::uint32_t>(i);
        }
        dot += r * t;
        nr += r * r;
        nt += t * t;
    }
    if (nr == 0 && nt == 0)
        m.cosine = 1;
    else if (nr == 0 || nt == 0)
        m.cosine = 0;
    else
        m.cosine = dot / std::sqrt(nr * nt);  // sqrt(x * x) == x exactly: identical rows give 1

    const auto lp = log_probabilities(ref);
    const auto lq = log_probabilities(test);
    double kl = 0;
    for (std::size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
    m.kl = std::max(0.0, kl);
    return m;
}

LogitsResult<Ok> check_comparable(const LogitsShape& ref, const LogitsShape& test) {
    if (ref.n_vocab == 0 || ref.n_positions == 0 || test.n_vocab == 0 || test.n_positions == 0) {
        return LogitsError{LogitsCode::shape_mismatch, 0, "cannot compare an empty logits matrix"};
    }
    if (ref.n_vocab != test.n_vocab) {
        return LogitsError{LogitsCode::shape_mismatch, 0,
                           fmt::format("n_vocab differs: reference {}, test {}", ref.n_vocab, test.n_vocab)};
    }
    if (ref.n_positions != test.n_positions) {
        return LogitsError{
            LogitsCode::shape_mismatch, 0,
            fmt::format("number of positions differs: reference {}, test {}", ref.n_positions, test.n_positions)};
    }
    if (!ref.tokens.empty() && !test.tokens.empty() && !std::ranges::equal(ref.tokens, test.tokens)) {
        std::size_t i = 0;
        while (i < ref.tokens.size() && i < test.tokens.size() && ref.tokens[i] == test.tokens[i]) ++i;
        return LogitsError{
            LogitsCode::shape_mismatch, 0,
            fmt::format("the token sequences differ from position {}: the runs did not decode the same input", i)};
    }
    return Ok{};
}

LogitsResult<std::vector<PositionMetrics>> compare_logits(const Logits& ref, const Logits& test) {
    if (auto ok = check_comparable(shape_of(ref), shape_of(test)); !ok) return ok.error();
    std::vector<PositionMetrics> out;
    out.reserve(ref.n_positions());
    for (std::size_t p = 0; p < ref.n_positions(); ++p) out.push_back(compare_rows(ref.row(p), test.row(p), p));
    return out;
}

std::vector<std::string> failed_checks(const PositionMetrics& m, const Thresholds& t) {
    std::vector<std::string> why;
    if (!m.finite && m.max_abs_diff != 0) why.emplace_back("non-finite logits (NaN or infinity)");
    if (!(m.max_abs_diff <= t.max_abs)) {
        why.push_back(
            fmt::format("max_abs_diff {:.6g} > {:.6g} (vocab index {})", m.max_abs_diff, t.max_abs, m.max_abs_index));
    }
    if (!(m.cosine >= t.min_cosine)) why.push_back(fmt::format("cosine {:.9g} < {:.9g}", m.cosine, t.min_cosine));
    if (!(m.kl <= t.max_kl)) why.push_back(fmt::format("kl {:.6g} > {:.6g}", m.kl, t.max_kl));
    // A near-tie (the reference rates the test's choice within top1_tie of its own) is not a mismatch.
    if (t.require_top1 && !m.top1_match && !(m.top1_gap <= t.top1_tie)) {
        why.push_back(fmt::format("top-1 differs: reference {}, test {} (the reference prefers its own by {:.6g})",
                                  m.ref_top1, m.test_top1, m.top1_gap));
    }
    if (m.top5_overlap < t.min_top5_overlap) {
        why.push_back(fmt::format("top-5 overlap {} < {}", m.top5_overlap, t.min_top5_overlap));
    }
    return why;
}

std::optional<Divergence> first_divergence(std::span<const PositionMetrics> metrics, const Thresholds& t) {
    for (const auto& m : metrics) {
        auto why = failed_checks(m, t);
        if (!why.empty()) return Divergence{m.position, std::move(why)};
    }
    return std::nullopt;
}

// ---- JSON -------------------------------------------------------------------------------------

LogitsResult<Logits> parse_logits_json(std::string_view text) {
    Logits out;
    auto shape = stream_logits_json(text, [&](std::span<const float> v) {
        out.values.insert(out.values.end(), v.begin(), v.end());
        return true;
    });
    if (!shape) return shape.error();
    out.n_vocab = shape->n_vocab;
    out.tokens = std::move(shape->tokens);
    return out;
}

std::string to_json_text(const Logits& logits) {
    std::string text;
    (void)format_logits(shape_of(logits), rows_of(logits), LogitsFormat::json, [&](std::string& chunk) {
        text += chunk;
        chunk.clear();
        return true;
    });
    return text;
}

// ---- Binary -----------------------------------------------------------------------------------

namespace {

struct BinaryShape {
    std::uint32_t n_positions = 0, n_vocab = 0;
};

// The binary header in `head` (the file's first bytes, up to the header's length) checked against the
// file's total size: the sizes must account for the file exactly.
LogitsResult<BinaryShape> check_binary_header(Bytes head, std::uint64_t size) {
    if (head.size() < 4 || std::memcmp(head.data(), kMagic.data(), 4) != 0) {
        return LogitsError{LogitsCode::not_a_logits_file, 0,
                           "not a binary logits file: the first 4 bytes are not \"GLOG\""};
    }
    if (size < kHeader) {
        return LogitsError{LogitsCode::truncated, size,
                           fmt::format("binary logits header needs {} bytes, the file has {}", kHeader, size)};
    }
    const std::uint32_t version = read_u32(head.data() + 4);
    if (version != kVersion) {
        return LogitsError{LogitsCode::unsupported_version, 4,
                           fmt::format("binary logits version {} is not supported (only version 1)", version)};
    }
    const std::uint32_t n_pos = read_u32(head.data() + 8);
    const std::uint32_t n_vocab = read_u32(head.data() + 12);
    if (n_pos == 0 || n_vocab == 0) {
        return LogitsError{LogitsCode::empty, n_pos == 0 ? 8u : 12u,
                           fmt::format("binary logits with {} positions of {} values hold no logits", n_pos, n_vocab)};
    }
    // n_pos * n_vocab < 2^64, but times 4 it can wrap (2^31 x 2^31 x 4 = 2^64): checked.
    std::uint64_t need = 0;
    if (__builtin_mul_overflow(std::uint64_t{n_pos} * n_vocab, std::uint64_t{4}, &need)) {
        return LogitsError{
            LogitsCode::too_large, 8,
            fmt::format("{} positions x {} values: the data size does not fit in 64 bits", n_pos, n_vocab)};
    }
    const std::uint64_t have = size - kHeader;
    if (have < need) {
        return LogitsError{
            LogitsCode::truncated, size,
            fmt::format("{} positions x {} values need {} bytes of data after the header, the file has {}", n_pos,
                        n_vocab, need, have)};
    }
    if (have > need) {
        return LogitsError{LogitsCode::trailing_bytes, kHeader + need,
                           fmt::format("{} bytes after the {} positions x {} values", have - need, n_pos, n_vocab)};
    }
    return BinaryShape{n_pos, n_vocab};
}

}  // namespace

LogitsResult<Logits> parse_logits_binary(Bytes bytes) {
    const auto shape = check_binary_header(bytes, bytes.size());
    if (!shape) return shape.error();
    const auto [n_pos, n_vocab] = *shape;
    const std::uint64_t need = std::uint64_t{n_pos} * n_vocab * 4;
    Logits out;
    out.n_vocab = n_vocab;
    out.values.resize(need / 4);
    for (std::size_t i = 0; i < out.values.size(); ++i)
        out.values[i] = std::bit_cast<float>(read_u32(bytes.data() + kHeader + 4 * i));
    return out;
}

std::vector<std::byte> to_binary(const Logits& logits) {
    std::vector<std::byte> out;
    out.reserve(kHeader + logits.values.size() * 4);
    (void)format_logits(shape_of(logits), rows_of(logits), LogitsFormat::binary, [&](std::string& chunk) {
        const auto* b = reinterpret_cast<const std::byte*>(chunk.data());
        out.insert(out.end(), b, b + chunk.size());
        chunk.clear();
        return true;
    });
    return out;
}

namespace {

// A JSON logits file through stream_logits_json; a file that cannot be read is io_error.
LogitsResult<JsonLogitsShape> stream_json_file(const std::filesystem::path& path, const LogitsValueSink& values) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return LogitsError{LogitsCode::io_error, 0, fmt::format("cannot open '{}'", path.string())};
    auto shape = stream_logits_json(in, values);
    if (!shape && in.bad()) return LogitsError{LogitsCode::io_error, 0, fmt::format("cannot read '{}'", path.string())};
    return shape;
}

}  // namespace

LogitsResult<LogitsRowReader> LogitsRowReader::open(const std::filesystem::path& path) {
    if (!is_binary_logits_file(path)) return open_json(path);
    std::error_code ec;
    const std::uint64_t size = std::filesystem::file_size(path, ec);
    if (ec)
        return LogitsError{LogitsCode::io_error, 0, fmt::format("cannot read '{}': {}", path.string(), ec.message())};
    LogitsRowReader r;
    r.file_.reset(std::fopen(path.c_str(), "rb"));
    if (!r.file_) return LogitsError{LogitsCode::io_error, 0, fmt::format("cannot open '{}'", path.string())};
    std::array<std::byte, kHeader> head{};
    const std::size_t got = std::fread(head.data(), 1, head.size(), r.file_.get());
    const auto shape = check_binary_header({head.data(), got}, size);
    if (!shape) return shape.error();
    r.n_positions_ = shape->n_positions;
    r.n_vocab_ = shape->n_vocab;
    r.data_start_ = kHeader;
    return r;
}

LogitsResult<LogitsRowReader> LogitsRowReader::open_json(const std::filesystem::path& path) {
    std::error_code ec;
    const auto tmp = std::filesystem::temp_directory_path(ec);
    auto fd = ec ? util::UniqueFd() : util::unnamed_file(tmp);
    const auto no_room = [&](int err) {
        return LogitsError{LogitsCode::io_error, 0,
                           fmt::format("cannot keep the values of '{}' in a temporary file in '{}': {}", path.string(),
                                       tmp.string(), std::strerror(err))};
    };
    if (!fd) return no_room(ec ? ec.value() : errno);
    LogitsRowReader r;
    r.file_.reset(::fdopen(fd.get(), "w+b"));
    if (!r.file_) return no_room(errno);
    (void)fd.release();  // the FILE owns it now
    int write_errno = 0;
    std::string le;  // the values as the binary format stores them
    auto shape = stream_json_file(path, [&](std::span<const float> values) {
        le.clear();
        for (const float v : values) append_u32(le, std::bit_cast<std::uint32_t>(v));
        if (std::fwrite(le.data(), 1, le.size(), r.file_.get()) == le.size()) return true;
        write_errno = errno;
        return false;
    });
    if (write_errno != 0) return no_room(write_errno);
    if (!shape) return shape.error();
    if (std::fflush(r.file_.get()) != 0 || std::fseek(r.file_.get(), 0, SEEK_SET) != 0) return no_room(errno);
    r.n_vocab_ = shape->n_vocab;
    r.n_positions_ = shape->n_positions;
    r.tokens_ = std::move(shape->tokens);
    return r;
}

LogitsResult<Ok> LogitsRowReader::read_row(std::vector<float>& out) {
    const std::uint64_t offset = data_start_ + std::uint64_t{next_} * n_vocab_ * 4;
    if (next_ >= n_positions_) {
        return LogitsError{LogitsCode::truncated, offset, fmt::format("there are only {} positions", n_positions_)};
    }
    buffer_.resize(std::size_t{n_vocab_} * 4);
    if (std::fread(buffer_.data(), 1, buffer_.size(), file_.get()) != buffer_.size()) {
        return LogitsError{LogitsCode::truncated, offset, fmt::format("cannot read position {}", next_)};
    }
    out.resize(n_vocab_);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(read_u32(buffer_.data() + 4 * i));
    ++next_;
    return Ok{};
}

// ---- Files ------------------------------------------------------------------------------------

LogitsResult<Logits> parse_logits(Bytes bytes) {
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic.data(), 4) == 0) return parse_logits_binary(bytes);
    return parse_logits_json({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

bool is_binary_logits_file(const std::filesystem::path& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    char head[4] = {};
    return f && std::fread(head, 1, 4, f.get()) == 4 && std::memcmp(head, kMagic.data(), 4) == 0;
}

LogitsResult<Ok> check_logits_file(const std::filesystem::path& path) {
    if (is_binary_logits_file(path)) {
        auto rows = LogitsRowReader::open(path);
        if (!rows) return rows.error();
        return Ok{};
    }
    auto shape = stream_json_file(path, [](std::span<const float>) { return true; });
    if (!shape) return shape.error();
    return Ok{};
}

LogitsResult<Logits> read_logits_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec)
        return LogitsError{LogitsCode::io_error, 0, fmt::format("cannot read '{}': {}", path.string(), ec.message())};
    if (size > max_bytes) {
        return LogitsError{LogitsCode::too_large, 0,
                           fmt::format("'{}' has {} bytes, more than the {} allowed", path.string(), size, max_bytes)};
    }
    std::ifstream in(path, std::ios::binary);
    std::vector<std::byte> bytes(size);
    if (!in || !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
        return LogitsError{LogitsCode::io_error, 0, fmt::format("cannot read '{}'", path.string())};
    }
    return parse_logits({bytes.data(), bytes.size()});
}

LogitsResult<Ok> write_logits_file(const std::filesystem::path& path, const LogitsShape& shape, const RowSource& rows,
                                   LogitsFormat format) {
    std::optional<LogitsError> row_error;
    const auto failed = util::write_file(path, [&](const util::WriteTarget& target) {
        bool write_failed = false;
        auto written = format_logits(shape, rows, format, [&](std::string& chunk) {
            write_failed = !util::write_all(target.fd, chunk.data(), chunk.size());  // errno stays set
            chunk.clear();
            return !write_failed;
        });
        if (!written && !write_failed) {
            row_error = written.error();
            errno = EIO;
        }
        return written.ok();
    });
    if (row_error) return *row_error;
    if (failed) return LogitsError{LogitsCode::io_error, 0, failed->message};
    return Ok{};
}

LogitsResult<Ok> write_logits_file(const std::filesystem::path& path, const Logits& logits, LogitsFormat format) {
    return write_logits_file(path, shape_of(logits), rows_of(logits), format);
}

}  // namespace gguf::crossval
