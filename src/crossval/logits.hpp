// Logits comparison: per-position metrics between a reference's logits and an implementation
// under test, the first position where they diverge, and the logits file formats (JSON and the
// binary "GLOG") that implementations under test write. See docs/logits-format.md.
// Pure functions; the only I/O is read_logits_file / write_logits_file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/error.hpp"
#include "gguf/value.hpp"

namespace gguf::crossval {

// Errors of the logits formats and of comparing logits. Their own codes: gguf::Code is the GGUF
// reader's published contract and is not borrowed for other formats.
enum class LogitsCode {
    io_error,           // the file could not be read or written
    not_a_logits_file,  // neither the GLOG magic nor a JSON object
    bad_json,           // JSON syntax, a missing or mistyped field, a value out of range
    unsupported_version,
    truncated,       // the binary header or data is cut short
    trailing_bytes,  // bytes after the binary data
    empty,           // no positions, or a vocabulary of 0
    too_large,       // larger than the reader accepts, or a size that overflows
    shape_mismatch,  // two logits sets that cannot be compared (vocabulary, positions, tokens)
};
std::string_view logits_code_name(LogitsCode code);

struct LogitsError {
    LogitsCode code = LogitsCode::bad_json;
    std::uint64_t offset = 0;  // byte offset in the file, where one applies
    std::string message;
};
template <class T>
using LogitsResult = gguf::Result<T, LogitsError>;

// A matrix of logits: n_positions rows of n_vocab floats, row-major.
struct Logits {
    std::uint32_t n_vocab = 0;
    std::vector<std::int32_t> tokens;  // the decoded token ids, one per position; empty if unknown
    std::vector<float> values;         // n_positions() * n_vocab

    std::size_t n_positions() const { return n_vocab == 0 ? 0 : values.size() / n_vocab; }
    std::span<const float> row(std::size_t position) const {
        return std::span<const float>(values).subspan(position * n_vocab, n_vocab);
    }
};

// How one position of `test` compares with the same position of `ref`.
struct PositionMetrics {
    std::size_t position = 0;
    bool finite = true;       // every value of both rows is finite; if not, the metrics below are
                              // max_abs = inf, cosine = 0, kl = inf unless the rows are bit-identical
    double max_abs_diff = 0;  // max_i |ref_i - test_i|
    std::uint32_t max_abs_index = 0;
    double cosine = 1;               // ref . test / (|ref| |test|); 1 when both are all zero
    double kl = 0;                   // KL(softmax(ref) || softmax(test)) in nats, computed in double with the
                                     // maximum subtracted before exponentiating; never negative
    std::uint32_t top5_overlap = 0;  // |top5(ref) n top5(test)| (top-min(5, n_vocab)); ties: lower index first
    bool top1_match = true;
    double top1_gap = 0;  // ref[ref_top1] - ref[test_top1]: how much the reference prefers its top to the test's
    std::uint32_t ref_top1 = 0;
    std::uint32_t test_top1 = 0;
};

// When a position counts as diverged. The defaults suit a re-implementation that is meant to compute
// the same function in f32 (not a different quantization): logits agree to 1e-4 absolute, the
// distributions are indistinguishable (KL <= 1e-6 nats, cosine >= 0.9999) and the argmax is the same.
// The top-5 overlap is reported but not checked unless min_top5_overlap is raised (5 = same set).
// Top-1 is tie-aware: argmaxes that differ where the reference's logits of the two tokens are within
// top1_tie of each other are a near-tie, not a mismatch.
struct Thresholds {
    double max_abs = 1e-4;
    double min_cosine = 0.9999;
    double max_kl = 1e-6;
    bool require_top1 = true;
    double top1_tie = 1e-4;
    std::uint32_t min_top5_overlap = 0;
};

// The metrics of two rows of equal, non-zero length (precondition: checked by compare_logits()).
PositionMetrics compare_rows(std::span<const float> ref, std::span<const float> test, std::size_t position = 0);

// What a logits set is without its values: enough to check that two can be compared.
struct LogitsShape {
    std::uint32_t n_vocab = 0;
    std::size_t n_positions = 0;
    std::span<const std::int32_t> tokens;  // empty: unknown
};
inline LogitsShape shape_of(const Logits& l) {
    return {l.n_vocab, l.n_positions(), l.tokens};
}

// Whether `ref` can be compared with a second source `test` (tokens empty: unknown): the errors of
// compare_logits().
LogitsResult<Ok> check_comparable(const LogitsShape& ref, const LogitsShape& test);

// Every position. Errors (invalid_dimension) when n_vocab or n_positions differ or a matrix is empty,
// and when both carry tokens and they differ (the runs did not decode the same input).
LogitsResult<std::vector<PositionMetrics>> compare_logits(const Logits& ref, const Logits& test);

// The checks a position fails, as short sentences ("max_abs_diff 0.003 > 0.0001"); empty = agrees.
std::vector<std::string> failed_checks(const PositionMetrics& m, const Thresholds& t = {});

struct Divergence {
    std::size_t position;
    std::vector<std::string> reasons;
};

// The first position that fails a check, or nullopt if all agree.
std::optional<Divergence> first_divergence(std::span<const PositionMetrics> metrics, const Thresholds& t = {});

// ---- Files ------------------------------------------------------------------------------------

enum class LogitsFormat { json, binary };

// JSON: {"n_vocab":V,"tokens":[...],"logits":[[...],...]} (numbers, or the strings "nan", "inf",
// "-inf"), or "logits_bits":[[u32,...],...] (IEEE-754 bit patterns, as ref-probe prints them).
// Errors: not_a_logits_file (not a JSON object), bad_json (syntax, missing or mistyped fields, a
// row of the wrong length), empty (n_vocab 0 or no rows).
LogitsResult<Logits> parse_logits_json(std::string_view text);

// The same format read in one pass, never as a tree: every value is given to `values` as it is parsed,
// in file order (row after row, a row possibly in several pieces); what comes back, once the whole
// text is checked, is the shape, with the errors of parse_logits_json. Values given before an error
// are the caller's to drop. The keys may come in any order; "logits" or "logits_bits" given twice is
// bad_json (a tree would keep the last). At most 2^24 token ids are kept (too_large beyond).
struct JsonLogitsShape {
    std::uint32_t n_vocab = 0;
    std::size_t n_positions = 0;
    std::vector<std::int32_t> tokens;  // empty: unknown
};
using LogitsValueSink = std::function<bool(std::span<const float>)>;  // false: stop (io_error)
LogitsResult<JsonLogitsShape> stream_logits_json(std::string_view text, const LogitsValueSink& values);
LogitsResult<JsonLogitsShape> stream_logits_json(std::istream& in, const LogitsValueSink& values);

// Binary: "GLOG", u32 version 1, u32 n_positions, u32 n_vocab, then n_positions * n_vocab f32, all
// little-endian. Errors: not_a_logits_file, unsupported_version, truncated (header or data cut
// short), empty (n_positions or n_vocab 0), too_large (size overflow), trailing_bytes.
LogitsResult<Logits> parse_logits_binary(Bytes bytes);

// Either format, told apart by the magic. `max_bytes` bounds what is read into memory.
LogitsResult<Logits> parse_logits(Bytes bytes);
LogitsResult<Logits> read_logits_file(const std::filesystem::path& path,
                                      std::uint64_t max_bytes = std::uint64_t{1} << 31);

// Whether the file starts with the GLOG magic (a file that cannot be read does not).
bool is_binary_logits_file(const std::filesystem::path& path);
// What LogitsRowReader::open would refuse, checked without holding the rows: a binary file's header
// against its size, a JSON file in one streaming pass.
LogitsResult<Ok> check_logits_file(const std::filesystem::path& path);

// A logits file of either format read one position at a time, holding one row. A binary file:
// open() checks the header and that the sizes account for the file exactly (the errors of
// parse_logits_binary, same codes and offsets) before anything is allocated. A JSON file: open()
// checks it whole in one streaming pass (the errors of parse_logits_json) and puts its values in an
// unnamed temporary file in the system's temporary directory ($TMPDIR), 4 bytes a value, read back
// as a binary file's rows are. read_row() then gives the rows in order.
class LogitsRowReader {
public:
    static LogitsResult<LogitsRowReader> open(const std::filesystem::path& path);

    std::uint32_t n_vocab() const { return n_vocab_; }
    std::size_t n_positions() const { return n_positions_; }
    std::span<const std::int32_t> tokens() const { return tokens_; }  // a JSON file's; empty: unknown
    LogitsShape shape() const { return {n_vocab_, n_positions_, tokens_}; }
    // The next row (positions in order) into `out` (resized to n_vocab). Errors: io_error, truncated
    // (the file shrank after open), and reading past the last position (truncated).
    LogitsResult<Ok> read_row(std::vector<float>& out);

private:
    static LogitsResult<LogitsRowReader> open_json(const std::filesystem::path& path);
    struct Close {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Close> file_;
    std::uint32_t n_vocab_ = 0;
    std::size_t n_positions_ = 0, next_ = 0;
    std::uint64_t data_start_ = 0;  // where the rows start in file_
    std::vector<std::int32_t> tokens_;
    std::vector<std::byte> buffer_;
};

// Writers: the JSON text (every other to_json returns an nlohmann::json) and the binary bytes. JSON floats use 9
// significant digits, which read back to the same f32 bits; non-finite values become "nan", "inf", "-inf". The binary
// format has no tokens: they are dropped.
std::string to_json_text(const Logits& logits);
std::vector<std::byte> to_binary(const Logits& logits);
LogitsResult<Ok> write_logits_file(const std::filesystem::path& path, const Logits& logits, LogitsFormat format);

// The rows of a logits set given one at a time, in position order (a view valid until the next call).
using RowSource = std::function<LogitsResult<std::span<const float>>(std::size_t position)>;
// The same file written as the rows arrive, one row held at a time (the reference's logits of a long
// run are never a matrix in memory). A row the source cannot give is that error; nothing is written.
LogitsResult<Ok> write_logits_file(const std::filesystem::path& path, const LogitsShape& shape, const RowSource& rows,
                                   LogitsFormat format);

}  // namespace gguf::crossval
