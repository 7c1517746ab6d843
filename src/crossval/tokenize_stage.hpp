// The tokenize stage: the reference's tokenizer (the probe's `tokenize` mode, the model loaded
// vocabulary-only) on test texts, its ids compared with the expected ids, and its detokenization of
// them compared with the text (the round trip). See docs/token-format.md.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "reference/reference.hpp"
#include "report.hpp"
#include "tokens.hpp"

namespace gguf::crossval {

struct TokenizeOptions {
    bool enabled = false;
    std::vector<std::string> texts;                   // --text (each one case, no expected ids)
    std::optional<std::filesystem::path> text_file;   // --text-file (the whole file one case)
    std::optional<std::filesystem::path> token_file;  // --token-file: texts and an implementation's ids
};

// The cases the stage runs, first that applies: the token file; --text and --text-file (ids not
// known: tokenized and round-tripped only); MODEL.inp/.out beside the model. An error names what is
// missing or unreadable.
TokensResult<TokenCases> tokenize_cases(const TokenizeOptions& options, const std::filesystem::path& model);

// Failures beyond the reference's own: tokens_differ (some case's ids are not the expected ones: a
// disagreement, never an XFAIL; the first differing token is named as ids and text) and
// no_token_cases (nothing to tokenize, or the cases are unreadable). The round trip is reported
// (details.n_round_trip, each case's "round_trip" and "detokenized") but fails nothing: llama.cpp's
// detokenizer is lossy by design for some vocabularies (docs/token-format.md).
Stage tokenize_stage(const reference::Reference& ref, const std::filesystem::path& model,
                     const TokenizeOptions& options, const reference::RunOptions& run);

// For the terminal: the first differing token of each side with its neighbours (id and text) and
// the cases whose round trip is not exact; empty when there is nothing to show.
std::string tokenize_table(const Stage& stage);

// The reference's ids for one text (the probe's `tokenize` mode, add_special and parse_special as
// given): what --text means for --logits and --trace. An error message, or the ids.
gguf::Result<TokenIds, std::string> reference_tokenize(const reference::Reference& ref,
                                                       const std::filesystem::path& model, const std::string& text,
                                                       bool add_special, const reference::RunOptions& run);

}  // namespace gguf::crossval
