#include "tokenize_options.hpp"

namespace cli {

void add_text_option(CLI::App& app, std::vector<std::string>& texts) {
    app.add_option("--text", texts,
                   "Text instead of token ids: with --tokenize a text to tokenize (repeatable); with --logits or "
                   "--trace the text to decode, tokenized by the reference (BOS added as the vocabulary asks), "
                   "instead of --tokens");
}

void add_tokenize_options(CLI::App& app, gguf::crossval::TokenizeOptions& tokenize) {
    app.add_flag("--tokenize", tokenize.enabled,
                 "Add the tokenize stage: the reference tokenizes texts (--text, --text-file, --token-file, else "
                 "MODEL.inp/.out beside the model), its ids are compared with the expected ones and detokenized "
                 "back (docs/token-format.md)");
    app.add_option("--text-file", tokenize.text_file, "With --tokenize: a file whose whole content is one text");
    app.add_option("--token-file", tokenize.token_file,
                   "With --tokenize: an implementation's token file (texts and the ids it gives them, "
                   "docs/token-format.md), compared with the reference's ids");
}

std::string route_text(const std::vector<std::string>& texts, bool tokens_given, bool decodes,
                       gguf::crossval::TokenizeOptions* tokenize, gguf::crossval::LogitsOptions& logits,
                       const std::string& model) {
    const bool tokenizing = tokenize != nullptr && tokenize->enabled;
    if (tokenize != nullptr && !tokenizing && (tokenize->text_file || tokenize->token_file))
        return "--text-file and --token-file need --tokenize";
    if (!texts.empty() && !tokenizing && !decodes) return "--text needs --tokenize, --logits or --trace";
    if (decodes && !texts.empty()) {
        if (tokens_given) return "--text and --tokens both say what to decode; give one";
        if (texts.size() > 1) return "--logits and --trace decode one --text; give it once";
        logits.text = texts.front();
    }
    if (!tokenizing) return {};
    if (tokenize->token_file && (!texts.empty() || tokenize->text_file))
        return "--token-file holds its own texts; give it without --text and --text-file";
    tokenize->texts = texts;
    if (tokenize->token_file) {
        if (auto cases = gguf::crossval::read_token_file(*tokenize->token_file); !cases)
            return "--token-file " + cases.error().message;
        return {};
    }
    if (tokenize->text_file) {
        if (auto text = gguf::crossval::read_text_file(*tokenize->text_file); !text)
            return "--text-file " + text.error().message;
        return {};
    }
    if (texts.empty() && !gguf::crossval::vectors_beside(model)) {
        return "--tokenize: nothing to tokenize: give --text, --text-file or --token-file, or put MODEL.inp and "
               "MODEL.out (llama.cpp's test-tokenizer-0 vectors) beside the model";
    }
    return {};
}

}  // namespace cli
