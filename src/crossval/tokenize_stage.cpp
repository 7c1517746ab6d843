#include "tokenize_stage.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "describe/description.hpp"
#include "util/cleanup.hpp"
#include "util/escape.hpp"

namespace gguf::crossval {
namespace {

constexpr std::size_t kContext = 3;  // ids shown before the first difference (and 4 after)

std::string hex(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
    return out;
}

bool unhex(const std::string& text, std::string& out) {
    if (text.size() % 2 != 0) return false;
    out.clear();
    for (std::size_t i = 0; i < text.size(); i += 2) {
        unsigned v = 0;
        for (char c : {text[i], text[i + 1]}) {
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<unsigned>(c - 'a' + 10);
            } else {
                return false;
            }
        }
        out += static_cast<char>(v);
    }
    return true;
}

std::filesystem::path temporary_items() {
    static int counter = 0;
    return std::filesystem::temp_directory_path() /
           fmt::format("gguf-crossval-tokenize-{}-{}.items", ::getpid(), counter++);
}

// One answer of the probe: the ids, each id's piece (bytes), the detokenized text (bytes).
struct Answer {
    TokenIds tokens;
    std::vector<std::string> pieces;
    std::optional<std::string> detokenized;  // none: some id was out of the vocabulary
};

// Writes the items (texts to tokenize, id sequences to detokenize), runs the probe, reads its answers.
gguf::Result<std::vector<Answer>, std::string> run_items(const reference::Reference& ref,
                                                         const std::filesystem::path& model,
                                                         const std::vector<std::string>& lines, bool add_special,
                                                         bool parse_special, const reference::RunOptions& run,
                                                         reference::StageOutcome& outcome) {
    const auto path = temporary_items();
    util::TempFileGuard guard(path);
    {
        std::ofstream out(path, std::ios::binary);
        guard.created();
        for (const auto& line : lines) out << line << '\n';
        if (!out) return std::string("cannot write the probe's items file " + path.string());
    }
    outcome = reference::run_probe(ref,
                                   {"tokenize", "--items", path.string(), "--add-special", add_special ? "1" : "0",
                                    "--parse-special", parse_special ? "1" : "0", "--", model.string()},
                                   run);
    if (!outcome.ok) return outcome.message;
    const auto& p = outcome.payload;
    if (!p.contains("items") || !p["items"].is_array() || p["items"].size() != lines.size()) {
        return fmt::format("the probe's tokenize answer does not hold {} items", lines.size());
    }
    std::vector<Answer> answers;
    for (const auto& item : p["items"]) {
        Answer a;
        if (!item.is_object() || !item.contains("tokens") || !item["tokens"].is_array())
            return std::string("the probe's tokenize answer has an item without tokens");
        for (const auto& t : item["tokens"]) {
            if (!t.is_number_integer()) return std::string("the probe's tokenize answer has a token that is no id");
            a.tokens.push_back(t.get<std::int32_t>());
        }
        if (item.value("pieces_hex", nlohmann::json()).is_array()) {
            for (const auto& h : item["pieces_hex"]) {
                std::string bytes;
                if (!h.is_string() || !unhex(h.get<std::string>(), bytes))
                    return std::string("the probe's tokenize answer has a piece that is not hex");
                a.pieces.push_back(std::move(bytes));
            }
        }
        if (item.value("detokenized_hex", nlohmann::json()).is_string()) {
            std::string bytes;
            if (!unhex(item["detokenized_hex"].get<std::string>(), bytes))
                return std::string("the probe's tokenize answer has a text that is not hex");
            a.detokenized = std::move(bytes);
        }
        answers.push_back(std::move(a));
    }
    return answers;
}

std::string ids_line(const TokenIds& ids) {
    return fmt::format("{}", fmt::join(ids, ","));
}

// ids[from, to) with their pieces, as "[id 'piece', ...]" for the terminal and as JSON.
nlohmann::json window(const TokenIds& ids, const std::vector<std::string>& pieces, std::size_t from, std::size_t to) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = from; i < std::min(to, ids.size()); ++i) {
        out.push_back({{"index", i},
                       {"id", ids[i]},
                       {"piece", i < pieces.size() ? nlohmann::json(describe::render_string(pieces[i]))
                                                   : nlohmann::json(nullptr)}});
    }
    return out;
}

std::string token_text(const TokenIds& ids, const std::vector<std::string>& pieces, std::size_t i) {
    if (i >= ids.size()) return "(end)";
    const std::string piece = i < pieces.size() ? describe::render_string(pieces[i]) : std::string("?");
    return fmt::format("{} '{}'", ids[i], piece);
}

void fail(Stage& s, Failure failure, std::string message) {
    s.ok = false;
    s.failure = failure;
    s.message = std::move(message);
}

}  // namespace

TokensResult<TokenCases> tokenize_cases(const TokenizeOptions& options, const std::filesystem::path& model) {
    if (options.token_file) return read_token_file(*options.token_file);
    if (!options.texts.empty() || options.text_file) {
        TokenCases cases;
        for (const auto& t : options.texts) cases.cases.push_back({t, std::nullopt});
        if (options.text_file) {
            auto text = read_text_file(*options.text_file);
            if (!text) return text.error();
            cases.cases.push_back({std::move(*text), std::nullopt});
        }
        cases.source = options.text_file ? "--text-file " + options.text_file->string() : std::string("--text");
        return cases;
    }
    if (vectors_beside(model)) return read_vectors(model);
    return TokensError{TokensCode::io_error, 0,
                       fmt::format("nothing to tokenize: give --text, --text-file or --token-file, or put {}.inp and "
                                   "{}.out (test-tokenizer-0 vectors) beside the model",
                                   model.filename().string(), model.filename().string())};
}

Stage tokenize_stage(const reference::Reference& ref, const std::filesystem::path& model,
                     const TokenizeOptions& options, const reference::RunOptions& run) {
    Stage s;
    s.id = StageId::tokenize;
    s.ran = true;
    auto cases = tokenize_cases(options, model);
    if (!cases) {
        fail(s, CheckFailure::no_token_cases, cases.error().message);
        return s;
    }
    s.details["source"] = describe::render_string(cases->source);
    s.details["add_special"] = cases->add_special;
    s.details["parse_special"] = cases->parse_special;
    s.details["n_cases"] = cases->cases.size();
    if (cases->cases.empty()) {
        fail(s, CheckFailure::no_token_cases, "the cases hold no text to tokenize");
        return s;
    }

    // Each text, then each expected id sequence (for its pieces): item k of the answer is line k.
    std::vector<std::string> lines;
    std::vector<std::size_t> expected_item(cases->cases.size(), 0);
    for (const auto& c : cases->cases) lines.push_back("t " + hex(c.text));
    for (std::size_t i = 0; i < cases->cases.size(); ++i) {
        if (!cases->cases[i].expected) continue;
        expected_item[i] = lines.size();
        lines.push_back("d " + ids_line(*cases->cases[i].expected));
    }
    reference::StageOutcome o;
    auto answers = run_items(ref, model, lines, cases->add_special, cases->parse_special, run, o);
    s.duration_ms = o.duration_ms;
    if (!o.ok) {
        s.failure = o.failure;
        s.message = o.message;
        s.log_excerpt = o.log_excerpt;
        return s;
    }
    if (!answers) {
        fail(s, reference::FailureClass::other, answers.error());
        return s;
    }
    s.ok = true;
    s.details["n_vocab"] = o.payload.value("n_vocab", 0);

    std::size_t n_compared = 0, n_matching = 0, n_round_trip = 0;
    std::optional<std::size_t> first_case, first_token, first_round_trip;
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < cases->cases.size(); ++i) {
        const auto& c = cases->cases[i];
        const auto& got = (*answers)[i];
        nlohmann::json row = {{"index", i}, {"text", describe::render_string(c.text)}, {"tokens", got.tokens}};
        if (c.expected) {
            ++n_compared;
            const auto diff = first_difference(*c.expected, got.tokens);
            row["match"] = !diff.has_value();
            if (!diff) {
                ++n_matching;
            } else if (!first_case) {
                first_case = i;
                first_token = *diff;
            }
            if (diff) row["expected"] = *c.expected;
        }
        const bool round_trip = got.detokenized && *got.detokenized == c.text;
        row["round_trip"] = round_trip;
        if (round_trip) {
            ++n_round_trip;
        } else {
            row["detokenized"] =
                got.detokenized ? nlohmann::json(describe::render_string(*got.detokenized)) : nlohmann::json(nullptr);
            if (!first_round_trip) first_round_trip = i;
        }
        rows.push_back(std::move(row));
    }
    s.details["n_compared"] = n_compared;
    s.details["n_matching"] = n_matching;
    s.details["n_round_trip"] = n_round_trip;
    s.details["cases"] = std::move(rows);
    s.details["first_difference"] = nullptr;

    if (first_case) {
        const auto& c = cases->cases[*first_case];
        const auto& got = (*answers)[*first_case];
        const auto& exp = (*answers)[expected_item[*first_case]];
        const std::size_t k = *first_token;
        const std::size_t from = k > kContext ? k - kContext : 0;
        s.details["first_difference"] = {{"case", *first_case},
                                         {"text", describe::render_string(c.text)},
                                         {"token_index", k},
                                         {"expected", window(*c.expected, exp.pieces, from, k + 4)},
                                         {"actual", window(got.tokens, got.pieces, from, k + 4)}};
        fail(s, CheckFailure::tokens_differ,
             fmt::format("{} of {} cases differ; first: case {} '{}' at token {}: expected {}, reference {}",
                         n_compared - n_matching, n_compared, *first_case, describe::render_string(c.text), k,
                         token_text(*c.expected, exp.pieces, k), token_text(got.tokens, got.pieces, k)));
        return s;
    }
    s.message = fmt::format("{} of {} cases give the expected ids; {} of {} round-trip exactly", n_matching, n_compared,
                            n_round_trip, cases->cases.size());
    return s;
}

std::string tokenize_table(const Stage& stage) {
    std::string out;
    const auto& d = stage.details;
    auto side = [&](const char* name, const nlohmann::json& tokens, std::size_t k) {
        std::string line = fmt::format("    {:<9}", name);
        for (const auto& t : tokens) {
            const bool at = t["index"].get<std::size_t>() == k;
            line += fmt::format(" {}{} '{}'{}", at ? "[" : "", t["id"].get<std::int64_t>(),
                                util::terminal_safe(t["piece"].is_string() ? t["piece"].get<std::string>() : "?"),
                                at ? "]" : "");
        }
        const bool ends = std::none_of(tokens.begin(), tokens.end(),
                                       [&](const nlohmann::json& t) { return t["index"].get<std::size_t>() >= k; });
        return line + (ends ? " [(end)]" : "") + "\n";
    };
    if (d.contains("first_difference") && d["first_difference"].is_object()) {
        const auto& f = d["first_difference"];
        const auto k = f["token_index"].get<std::size_t>();
        out += fmt::format("  tokenize: case {} '{}', first difference at token {}:\n", f["case"].get<std::size_t>(),
                           util::terminal_safe(f["text"].get<std::string>()), k);
        out += side("expected", f["expected"], k);
        out += side("reference", f["actual"], k);
    }
    if (d.contains("cases") && d["cases"].is_array()) {
        std::size_t shown = 0, inexact = 0;
        for (const auto& c : d["cases"]) {
            if (c.value("round_trip", true)) continue;
            ++inexact;
            if (shown++ >= 5) continue;
            out += fmt::format("  tokenize: case {} round trip '{}' -> '{}'\n", c["index"].get<std::size_t>(),
                               util::terminal_safe(c["text"].get<std::string>()),
                               util::terminal_safe(c["detokenized"].is_string() ? c["detokenized"].get<std::string>()
                                                                                : "(ids out of the vocabulary)"));
        }
        if (inexact > shown) out += fmt::format("  tokenize: ... {} more inexact round trips\n", inexact - shown);
    }
    return out;
}

gguf::Result<TokenIds, std::string> reference_tokenize(const reference::Reference& ref,
                                                       const std::filesystem::path& model, const std::string& text,
                                                       bool add_special, const reference::RunOptions& run) {
    reference::StageOutcome o;
    auto answers = run_items(ref, model, {"t " + hex(text)}, add_special, false, run, o);
    if (!answers) return "the reference could not tokenize --text: " + answers.error();
    return std::move((*answers)[0].tokens);
}

}  // namespace gguf::crossval
