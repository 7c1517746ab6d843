// The JSON logits format read in one pass with nlohmann's SAX interface: no tree of the values is
// ever built, so a long run's file costs the values as they pass (and the caller what it keeps).
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <istream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "logits.hpp"
#include "util/json_depth.hpp"

namespace gguf::crossval {
namespace {

using json = nlohmann::json;

// The format's keys (docs/logits-format.md).
constexpr std::string_view kVocabKey = "n_vocab", kNumbersKey = "logits", kBitsKey = "logits_bits",
                           kTokensKey = "tokens";
constexpr std::size_t kPiece = 1u << 14;                  // values handed to the sink at a time
constexpr std::size_t kMaxTokens = std::size_t{1} << 24;  // token ids kept; more are only counted

LogitsError json_error(std::string message, std::uint64_t offset = 0) {
    return LogitsError{LogitsCode::bad_json, offset, "logits JSON: " + std::move(message)};
}

// One JSON value as the parser reports it: a scalar, or the start of an array or object.
struct Value {
    enum Kind { null, boolean, integer, unsigned_int, floating, string, array, object } kind = null;
    bool b = false;
    std::int64_t i = 0;
    std::uint64_t u = 0;
    double d = 0;
    const std::string* s = nullptr;

    // As a message shows it.
    std::string text() const {
        switch (kind) {
            case null:
                return "null";
            case boolean:
                return b ? "true" : "false";
            case integer:
                return std::to_string(i);
            case unsigned_int:
                return std::to_string(u);
            case floating:
                return json(d).dump();
            case string:
                return json(*s).dump(-1, ' ', false, json::error_handler_t::replace);
            case array:
                return "[...]";
            case object:
                return "{...}";
        }
        return "?";
    }
};

// One logit: a number within the f32 range, or "nan", "inf", "-inf".
std::optional<float> logit_of(const Value& v) {
    double d = 0;
    switch (v.kind) {
        case Value::integer:
            d = static_cast<double>(v.i);
            break;
        case Value::unsigned_int:
            d = static_cast<double>(v.u);
            break;
        case Value::floating:
            d = v.d;
            break;
        case Value::string:
            if (*v.s == "nan") return std::numeric_limits<float>::quiet_NaN();
            if (*v.s == "inf") return std::numeric_limits<float>::infinity();
            if (*v.s == "-inf") return -std::numeric_limits<float>::infinity();
            return std::nullopt;
        default:
            return std::nullopt;
    }
    const auto f = static_cast<float>(d);
    if (std::isinf(f) && std::isfinite(d)) return std::nullopt;  // outside the f32 range
    return f;
}

// The SAX handler. Containers are counted by depth: the top object is depth 1, the rows array
// depth 2, each row depth 3. What is wrong is recorded and the parse goes on (a syntax error later in
// the text is reported before any of it, as a whole-text parse would), and finish() reports the
// first error in the order a reader checks: n_vocab, the rows field, each row in position order
// (its length, then its values), the tokens.
class Handler {
public:
    explicit Handler(const LogitsValueSink& sink) : sink_(sink) {}

    bool null() { return value({}); }
    bool boolean(bool b) { return value({.kind = Value::boolean, .b = b}); }
    bool number_integer(json::number_integer_t i) { return value({.kind = Value::integer, .i = i}); }
    bool number_unsigned(json::number_unsigned_t u) { return value({.kind = Value::unsigned_int, .u = u}); }
    bool number_float(json::number_float_t d, const json::string_t&) {
        return value({.kind = Value::floating, .d = d});
    }
    bool string(json::string_t& s) { return value({.kind = Value::string, .s = &s}); }
    bool binary(json::binary_t&) { return value({}); }  // not in JSON text
    bool start_object(std::size_t) { return open(Value::object); }
    bool start_array(std::size_t) { return open(Value::array); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(json::string_t& k) {
        if (depth_ == 1) name_field(k);
        return true;
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
        // 406: a number out of range (1e400), no syntax error
        error_ = e.id == 406 ? json_error(e.what())
                             : json_error(fmt::format("syntax error at byte {}: {}", position, e.what()), position);
        return false;
    }

    LogitsResult<JsonLogitsShape> finish();

private:
    enum class Field { none, n_vocab, rows, tokens, other };

    bool open(Value::Kind kind) {
        if (depth_ + 1 > util::kMaxJsonDepth) {
            error_ = json_error(fmt::format("arrays or objects nest deeper than {} levels", util::kMaxJsonDepth));
            return false;
        }
        const bool ok = depth_ == 0 || value({.kind = kind});  // the top object is no field's value
        ++depth_;
        return ok;
    }

    bool close() {
        if (depth_ == 3 && in_row_) end_row();
        --depth_;
        return true;
    }

    void name_field(const std::string& k) {
        if (k == kVocabKey) {
            field_ = Field::n_vocab;
            n_vocab_.reset();  // a repeated key: the last one counts
            n_vocab_bad_ = false;
        } else if (k == kNumbersKey || k == kBitsKey) {
            // Both, or one twice, is an error (reported by finish()); only the first is read.
            field_ = ++rows_fields_ == 1 ? Field::rows : Field::other;
            if (rows_fields_ == 1) {
                as_bits_ = k == kBitsKey;
            } else if ((k == kBitsKey) == as_bits_) {
                rows_repeated_ = true;
            }
        } else if (k == kTokensKey) {
            field_ = Field::tokens;
            tokens_ = {};  // a repeated key: the last one counts
        } else {
            field_ = Field::other;
        }
    }

    // A value (a scalar, or where an array or object starts) at the current depth.
    bool value(const Value& v) {
        if (depth_ == 1) {
            top_value(v);
        } else if (depth_ == 2 && field_ == Field::rows && rows_.array) {
            start_row(v);
        } else if (depth_ == 2 && field_ == Field::tokens && tokens_.array) {
            token(v);
        } else if (depth_ == 3 && field_ == Field::rows && in_row_) {
            return logit(v);
        }
        return true;
    }

    void top_value(const Value& v) {
        switch (field_) {
            case Field::n_vocab:
                if (v.kind == Value::unsigned_int && v.u <= 0xFFFFFFFFu) {
                    n_vocab_ = static_cast<std::uint32_t>(v.u);
                } else {
                    n_vocab_bad_ = true;
                }
                break;
            case Field::rows:
                rows_.array = v.kind == Value::array;
                break;
            case Field::tokens:
                tokens_.present = true;
                tokens_.array = v.kind == Value::array;
                break;
            case Field::none:
            case Field::other:
                break;
        }
    }

    void start_row(const Value& v) {
        if (v.kind == Value::array) {
            in_row_ = true;
            row_len_ = 0;
            return;
        }
        if (!rows_.not_array) rows_.not_array = positions_;
        ++positions_;
    }

    void end_row() {
        in_row_ = false;
        if (!rows_.first_len) {
            rows_.first_len = {positions_, row_len_};
        } else if (row_len_ != rows_.first_len->second && !rows_.other_len) {
            rows_.other_len = {positions_, row_len_};
        }
        ++positions_;
    }

    bool logit(const Value& v) {
        const auto i = row_len_++;
        std::optional<float> f;
        if (as_bits_) {
            if (v.kind == Value::unsigned_int && v.u <= 0xFFFFFFFFu)
                f = std::bit_cast<float>(static_cast<std::uint32_t>(v.u));
        } else {
            f = logit_of(v);
        }
        if (!f && !rows_.bad_value) {
            rows_.bad_value = {positions_,
                               as_bits_ ? fmt::format("logits_bits[{}][{}] is not a u32 bit pattern", positions_, i)
                                        : fmt::format("logits[{}][{}] is not an f32 number (or \"nan\", "
                                                      "\"inf\", \"-inf\"): {}",
                                                      positions_, i, v.text())};
        }
        if (!f || rows_.bad_value) return true;  // a file in error: its values go nowhere
        piece_.push_back(*f);
        return piece_.size() < kPiece || flush();
    }

    void token(const Value& v) {
        const auto i = tokens_.count++;
        std::optional<std::int64_t> id;
        if (v.kind == Value::unsigned_int && v.u <= 0x7FFFFFFFu) id = static_cast<std::int64_t>(v.u);
        if (v.kind == Value::integer && v.i >= 0 && v.i <= 0x7FFFFFFF) id = v.i;
        if (!id) {
            if (!tokens_.bad) tokens_.bad = fmt::format("tokens[{}] is not a token id (0 .. 2^31-1)", i);
            return;
        }
        if (tokens_.ids.size() < kMaxTokens) tokens_.ids.push_back(static_cast<std::int32_t>(*id));
    }

    bool flush() {
        if (!piece_.empty() && !sink_(piece_)) {
            error_ = LogitsError{LogitsCode::io_error, 0, "the values could not be kept"};
            return false;
        }
        piece_.clear();
        return true;
    }

    std::optional<LogitsError> row_error(std::uint32_t n_vocab) const;

    const LogitsValueSink& sink_;
    std::size_t depth_ = 0;
    Field field_ = Field::none;
    std::optional<std::uint32_t> n_vocab_;
    bool n_vocab_bad_ = false;
    std::size_t rows_fields_ = 0;  // "logits" and "logits_bits" keys seen
    bool rows_repeated_ = false;   // the same one twice
    bool as_bits_ = false;
    struct Rows {
        bool array = false;                                            // the rows field's value is an array
        std::optional<std::size_t> not_array;                          // the first row that is not an array
        std::optional<std::pair<std::size_t, std::size_t>> first_len;  // the first array row: position, length
        std::optional<std::pair<std::size_t, std::size_t>> other_len;  // the first with another length
        std::optional<std::pair<std::size_t, std::string>> bad_value;  // the first value that is not a logit
    } rows_;
    std::size_t positions_ = 0, row_len_ = 0;
    bool in_row_ = false;
    struct Tokens {
        bool present = false, array = false;
        std::size_t count = 0;
        std::vector<std::int32_t> ids;
        std::optional<std::string> bad;
    } tokens_;
    std::vector<float> piece_;
    std::optional<LogitsError> error_;  // what stopped the parse
};

// The first row in position order that is wrong: not an array, of another length than n_vocab, or
// holding a value that is not a logit (a row of the wrong length says so first).
std::optional<LogitsError> Handler::row_error(std::uint32_t n_vocab) const {
    const char* field = as_bits_ ? "logits_bits" : "logits";
    std::optional<std::pair<std::size_t, std::size_t>> bad_len;  // position, length
    if (rows_.first_len && rows_.first_len->second != n_vocab) {
        bad_len = rows_.first_len;
    } else if (rows_.other_len) {
        bad_len = rows_.other_len;
    }
    constexpr auto kNone = std::numeric_limits<std::size_t>::max();
    const auto len_at = bad_len ? bad_len->first : kNone;
    const auto not_array_at = rows_.not_array.value_or(kNone);
    const auto value_at = rows_.bad_value ? rows_.bad_value->first : kNone;
    const auto first = std::min({len_at, not_array_at, value_at});
    if (first == kNone) return std::nullopt;
    if (first == not_array_at) {
        return json_error(fmt::format("{}[{}] is not an array of n_vocab = {} values", field, first, n_vocab));
    }
    if (first == len_at) {
        return json_error(fmt::format("{}[{}] is not an array of n_vocab = {} values (it has {})", field, first,
                                      n_vocab, bad_len->second));
    }
    return json_error(rows_.bad_value->second);
}

LogitsResult<JsonLogitsShape> Handler::finish() {
    if (error_) return *error_;
    if (n_vocab_bad_ || !n_vocab_) return json_error("\"n_vocab\" is missing or not an unsigned 32-bit integer");
    if (*n_vocab_ == 0) return LogitsError{LogitsCode::empty, 0, "logits JSON: n_vocab is 0"};
    if (rows_fields_ != 1) {
        return json_error(rows_repeated_ ? "\"logits\" or \"logits_bits\" is given twice"
                                         : "exactly one of \"logits\" (numbers) and \"logits_bits\" (u32 bit "
                                           "patterns) is required");
    }
    if (!rows_.array) return json_error(fmt::format("\"{}\" is not an array", as_bits_ ? "logits_bits" : "logits"));
    if (positions_ == 0) return LogitsError{LogitsCode::empty, 0, "logits JSON: no positions"};
    if (auto e = row_error(*n_vocab_)) return *e;
    JsonLogitsShape shape{*n_vocab_, positions_, {}};
    if (tokens_.present && !(tokens_.array && tokens_.count == 0)) {  // [] = unknown
        if (!tokens_.array || tokens_.count != positions_) {
            return json_error(fmt::format("\"tokens\" must be an array of one token id per position ({})", positions_));
        }
        if (tokens_.bad) return json_error(*tokens_.bad);
        if (tokens_.ids.size() != tokens_.count) {
            return LogitsError{LogitsCode::too_large, 0,
                               fmt::format("logits JSON: more than {} token ids", kMaxTokens)};
        }
        shape.tokens = std::move(tokens_.ids);
    }
    if (!flush()) return *error_;
    return shape;
}

template <class Input>
LogitsResult<JsonLogitsShape> stream(Input&& input, const LogitsValueSink& values) {
    Handler handler(values);
    try {
        json::sax_parse(std::forward<Input>(input), &handler, json::input_format_t::json, true);
    } catch (const std::bad_alloc&) {
        return LogitsError{LogitsCode::too_large, 0, "logits JSON: out of memory"};
    }
    return handler.finish();
}

LogitsError not_an_object() {
    return LogitsError{LogitsCode::not_a_logits_file, 0,
                       "not a logits file: neither the binary magic \"GLOG\" nor a JSON object"};
}

}  // namespace

LogitsResult<JsonLogitsShape> stream_logits_json(std::string_view text, const LogitsValueSink& values) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || text[first] != '{') return not_an_object();
    return stream(text, values);
}

LogitsResult<JsonLogitsShape> stream_logits_json(std::istream& in, const LogitsValueSink& values) {
    for (int c; (c = in.peek()) != '{';) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return not_an_object();
        in.get();
    }
    return stream(in, values);
}

}  // namespace gguf::crossval
