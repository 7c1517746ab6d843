// Mode `tokenize`: the reference's tokenizer on texts, and its detokenizer on token ids, with the
// model loaded vocabulary-only (no tensor is read: vocabulary-only files load too).
//
//   tokenize FILE --items PATH [--add-special 0|1] [--parse-special 0|1]
//
// PATH holds one item per line, in order:
//   "t HEX"    a text (its bytes as lower-case hex; empty after the space: the empty text) to tokenize
//   "d 1,2,3"  token ids (empty after the space: none) to detokenize
// add_special and parse_special (default 0, as llama.cpp's test-tokenizer-0) are llama_tokenize's
// flags; detokenization uses remove_special = add_special and unparse_special = parse_special, the
// inverse of the tokenization. Output: "n_vocab", the flags, and "items", one per line of PATH:
// {"kind":"text"|"ids","tokens":[...],"pieces_hex":[...],"detokenized_hex":"..."}; a piece is one
// token's text with special tokens rendered, as hex (a piece may be part of a UTF-8 sequence). Ids
// outside the vocabulary are not looked up: the item then has "out_of_range" true and null pieces.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "compat.hpp"
#include "decode.hpp"
#include "probe.hpp"

namespace probe {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool unhex(const std::string& text, std::string& out) {
    if (text.size() % 2 != 0) return false;
    out.clear();
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
    }
    return true;
}

bool parse_ids(const std::string& text, std::vector<llama_token>& out) {
    out.clear();
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t comma = text.find(',', pos);
        if (comma == std::string::npos) comma = text.size();
        const std::string item = text.substr(pos, comma - pos);
        if (item.empty() || item.size() > 10 || item.find_first_not_of("0123456789") != std::string::npos) return false;
        const unsigned long long v = std::stoull(item);
        if (v > 0x7FFFFFFFull) return false;
        out.push_back(static_cast<llama_token>(v));
        pos = comma + 1;
    }
    return true;
}

bool flag(const Args& args, const char* name, bool& value, std::string& error) {
    const std::string v = args.option(name).value_or("0");
    if (v != "0" && v != "1") {
        error = std::string("--") + name + " must be 0 or 1";
        return false;
    }
    value = v == "1";
    return true;
}

std::vector<llama_token> tokenize(compat::Tokenizer t, const std::string& text, bool add_special, bool parse_special) {
    std::vector<llama_token> ids(text.size() + 8);
    int n = llama_tokenize(t, text.data(), static_cast<std::int32_t>(text.size()), ids.data(),
                           static_cast<std::int32_t>(ids.size()), add_special, parse_special);
    if (n < 0) {
        ids.resize(static_cast<std::size_t>(-n));
        n = llama_tokenize(t, text.data(), static_cast<std::int32_t>(text.size()), ids.data(),
                           static_cast<std::int32_t>(ids.size()), add_special, parse_special);
    }
    ids.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return ids;
}

std::string piece(compat::Tokenizer t, llama_token id) {
    std::string buf(64, '\0');
    int n = llama_token_to_piece(t, id, &buf[0], static_cast<std::int32_t>(buf.size()), 0, true);
    if (n < 0) {
        buf.resize(static_cast<std::size_t>(-n));
        n = llama_token_to_piece(t, id, &buf[0], static_cast<std::int32_t>(buf.size()), 0, true);
    }
    buf.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return buf;
}

std::string detokenize(compat::Tokenizer t, const std::vector<llama_token>& ids, bool remove_special,
                       bool unparse_special) {
    std::string buf(ids.size() * 8 + 16, '\0');
    int n = llama_detokenize(t, ids.data(), static_cast<std::int32_t>(ids.size()), &buf[0],
                             static_cast<std::int32_t>(buf.size()), remove_special, unparse_special);
    if (n < 0) {
        buf.resize(static_cast<std::size_t>(-n));
        n = llama_detokenize(t, ids.data(), static_cast<std::int32_t>(ids.size()), &buf[0],
                             static_cast<std::int32_t>(buf.size()), remove_special, unparse_special);
    }
    buf.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return buf;
}

struct Model {
    llama_model* model = nullptr;
    ~Model() {
        if (model != nullptr) compat::free_model(model);
    }
};

}  // namespace

bool mode_tokenize(const Args& args, Json& out, std::string& error) {
    if (!args.file) {
        error = "mode tokenize needs a FILE";
        return false;
    }
    const auto items_path = args.option("items");
    if (!items_path) {
        error = "mode tokenize needs --items PATH";
        return false;
    }
    bool add_special = false, parse_special = false;
    if (!flag(args, "add-special", add_special, error) || !flag(args, "parse-special", parse_special, error))
        return false;
    std::ifstream in(*items_path, std::ios::binary);
    if (!in) {
        error = "cannot read --items " + *items_path;
        return false;
    }
    llama_backend_init();
    const std::string libdir = args.option("libdir").value_or(libllama_dir());
    compat::load_backends(libdir.c_str());
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = 0;
    params.vocab_only = true;
    Model m;
    m.model = compat::load_model(args.file->c_str(), params);
    if (m.model == nullptr) {
        error = "llama_model_load_from_file (vocab_only) returned NULL";
        return false;
    }
    const compat::Tokenizer t = compat::tokenizer(m.model);
    const int n_vocab = compat::n_vocab(m.model);
    out.field("n_vocab", n_vocab);
    out.field("vocab_only", true);
    out.field("add_special", add_special);
    out.field("parse_special", parse_special);
    out.key("items").begin_array();
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.size() < 2 || line[1] != ' ' || (line[0] != 't' && line[0] != 'd')) {
            error = "--items line " + std::to_string(line_no) + ": expected \"t HEX\" or \"d IDS\"";
            return false;
        }
        const std::string rest = line.substr(2);
        std::vector<llama_token> ids;
        out.begin_object();
        if (line[0] == 't') {
            std::string text;
            if (!unhex(rest, text)) {
                error = "--items line " + std::to_string(line_no) + ": the text is not hex";
                return false;
            }
            ids = tokenize(t, text, add_special, parse_special);
            out.field("kind", "text");
        } else {
            if (!parse_ids(rest, ids)) {
                error = "--items line " + std::to_string(line_no) + ": the ids are not comma-separated numbers";
                return false;
            }
            out.field("kind", "ids");
        }
        out.key("tokens").begin_array();
        for (llama_token id : ids) out.value(id);
        out.end_array();
        bool in_range = true;
        for (llama_token id : ids) in_range = in_range && id >= 0 && id < n_vocab;
        if (!in_range) {
            out.field("out_of_range", true);
            out.key("pieces_hex").null();
            out.key("detokenized_hex").null();
        } else {
            out.key("pieces_hex").begin_array();
            for (llama_token id : ids) out.value(hex(piece(t, id)));
            out.end_array();
            out.field("detokenized_hex", hex(detokenize(t, ids, add_special, parse_special)));
        }
        out.end_object();
    }
    out.end_array();
    return true;
}

}  // namespace probe
