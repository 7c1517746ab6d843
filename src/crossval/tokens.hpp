// Tokenizer test cases: texts with, where known, the token ids they must give. Read from llama.cpp's
// test-tokenizer-0 vector files (FILE.inp / FILE.out beside a vocabulary) or from a token file an
// implementation under test writes (docs/token-format.md); compared id by id with what the
// reference's tokenizer gives. Pure functions; the only I/O is the read_* functions.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/error.hpp"

namespace gguf::crossval {

enum class TokensCode {
    io_error,     // a file could not be read
    too_large,    // a file is larger than allowed
    bad_vectors,  // .inp/.out: an id that is not a number, or the counts of texts and id lines differ
    bad_json,     // a token file: JSON syntax, a missing or mistyped field, a value out of range
};

struct TokensError {
    TokensCode code = TokensCode::bad_json;
    std::uint64_t offset = 0;  // byte offset in the file, where one applies
    std::string message;
};

template <class T>
using TokensResult = gguf::Result<T, TokensError>;

using TokenIds = std::vector<std::int32_t>;

struct TokenCase {
    std::string text;                  // bytes, not necessarily UTF-8
    std::optional<TokenIds> expected;  // the ids it must give; none: only tokenized and round-tripped
};

struct TokenCases {
    std::vector<TokenCase> cases;
    bool add_special = false;    // llama_tokenize's flags the expected ids were made with
    bool parse_special = false;  // (test-tokenizer-0: both false)
    std::string source;          // where the cases come from, for the report
};

// The text separator of test-tokenizer-0's .inp files: texts are the pieces between separators, a
// separator at the very end closes the last text (it does not start an empty one).
inline constexpr std::string_view kVectorSeparator = "\n__ggml_vocab_test__\n";

// .inp text + .out text: the .out has one line per text, its ids separated by spaces (an empty line:
// no ids). Errors: bad_vectors (offset: in the .out).
TokensResult<TokenCases> parse_vectors(std::string_view inp, std::string_view out);

// MODEL.inp and MODEL.out beside the model; nullopt when either is missing.
std::optional<std::filesystem::path> vectors_beside(const std::filesystem::path& model);
TokensResult<TokenCases> read_vectors(const std::filesystem::path& model,
                                      std::uint64_t max_bytes = std::uint64_t{64} << 20);

// A token file (docs/token-format.md). Errors: bad_json.
TokensResult<TokenCases> parse_token_file(std::string_view json);
TokensResult<TokenCases> read_token_file(const std::filesystem::path& path,
                                         std::uint64_t max_bytes = std::uint64_t{64} << 20);
// A whole file as one text (--text-file).
TokensResult<std::string> read_text_file(const std::filesystem::path& path,
                                         std::uint64_t max_bytes = std::uint64_t{64} << 20);

// The token file of `cases` (each with expected ids), as parse_token_file reads it.
std::string to_token_file(const TokenCases& cases);

// The first index where two id sequences differ (a length difference counts at the shorter
// one's end), or nullopt when they are equal.
std::optional<std::size_t> first_difference(const TokenIds& expected, const TokenIds& actual);

}  // namespace gguf::crossval
