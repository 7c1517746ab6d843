// crossval's --tokenize options, and --text: words instead of token ids for --logits and --trace.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "crossval/flow.hpp"

namespace cli {

// --text TEXT (repeatable): the tokenize stage's texts, and (once) what --logits/--trace decode.
void add_text_option(CLI::App& app, std::vector<std::string>& texts);

// --tokenize, --text-file, --token-file.
void add_tokenize_options(CLI::App& app, gguf::crossval::TokenizeOptions& tokenize);

// Checks the text options before anything runs and puts them where they go: every --text into the
// tokenize stage (when tokenize is given and enabled), and the one --text into logits.text when
// --logits or --trace decode. A token file is read here: a malformed one is a usage error. Returns an
// error message, empty when fine.
std::string route_text(const std::vector<std::string>& texts, bool tokens_given, bool decodes,
                       gguf::crossval::TokenizeOptions* tokenize, gguf::crossval::LogitsOptions& logits,
                       const std::string& model);

}  // namespace cli
