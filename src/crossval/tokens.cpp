#include "tokens.hpp"

#include <fmt/format.h>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>

#include "util/json_depth.hpp"

namespace gguf::crossval {
namespace {

TokensError vectors_error(std::uint64_t offset, std::string message) {
    return {TokensCode::bad_vectors, offset, std::move(message)};
}

TokensError json_error(std::string message) {
    return {TokensCode::bad_json, 0, std::move(message)};
}

TokensResult<std::string> read_bounded(const std::filesystem::path& path, std::uint64_t max_bytes) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec)
        return TokensError{TokensCode::io_error, 0, fmt::format("cannot read '{}': {}", path.string(), ec.message())};
    if (size > max_bytes) {
        return TokensError{TokensCode::too_large, 0,
                           fmt::format("'{}' has {} bytes, more than the {} allowed", path.string(), size, max_bytes)};
    }
    std::string bytes(size, '\0');
    std::ifstream in(path, std::ios::binary);
    if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(size))) {
        return TokensError{TokensCode::io_error, 0, fmt::format("cannot read '{}'", path.string())};
    }
    return bytes;
}

// One .out line: ids separated by single or repeated spaces; leading and trailing blanks ignored.
TokensResult<TokenIds> parse_id_line(std::string_view line, std::uint64_t offset) {
    TokenIds ids;
    std::size_t pos = 0;
    while (pos < line.size()) {
        if (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r') {
            ++pos;
            continue;
        }
        std::size_t end = pos;
        while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r') ++end;
        const auto item = line.substr(pos, end - pos);
        std::int32_t id = 0;
        const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
        if (ec != std::errc{} || ptr != item.data() + item.size() || id < 0) {
            return vectors_error(offset + pos, fmt::format("'{}' is not a token id", item));
        }
        ids.push_back(id);
        pos = end;
    }
    return ids;
}

bool valid_utf8(const std::string& s) {
    try {
        (void)nlohmann::json(s).dump();
        return true;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool from_hex(std::string_view hex, std::string& out) {
    if (hex.size() % 2 != 0) return false;
    out.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out += static_cast<char>(hi * 16 + lo);
    }
    return true;
}

std::string to_hex(std::string_view bytes) {
    std::string out;
    for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
    return out;
}

}  // namespace

TokensResult<TokenCases> parse_vectors(std::string_view inp, std::string_view out) {
    TokenCases result;
    std::vector<std::string> texts;
    std::size_t pos = 0;
    while (pos < inp.size()) {
        const auto next = inp.find(kVectorSeparator, pos);
        if (next == std::string_view::npos) {
            texts.emplace_back(inp.substr(pos));
            break;
        }
        texts.emplace_back(inp.substr(pos, next - pos));
        pos = next + kVectorSeparator.size();
    }
    std::vector<TokenIds> lines;
    pos = 0;
    while (pos < out.size()) {
        auto end = out.find('\n', pos);
        if (end == std::string_view::npos) end = out.size();
        auto ids = parse_id_line(out.substr(pos, end - pos), pos);
        if (!ids) return ids.error();
        lines.push_back(std::move(*ids));
        pos = end + 1;
    }
    if (texts.size() != lines.size()) {
        return vectors_error(
            out.size(), fmt::format("the .inp holds {} texts, the .out {} lines of ids", texts.size(), lines.size()));
    }
    for (std::size_t i = 0; i < texts.size(); ++i) result.cases.push_back({std::move(texts[i]), std::move(lines[i])});
    return result;
}

std::optional<std::filesystem::path> vectors_beside(const std::filesystem::path& model) {
    std::error_code ec;
    auto inp = model, out = model;
    inp += ".inp";
    out += ".out";
    if (!std::filesystem::is_regular_file(inp, ec) || !std::filesystem::is_regular_file(out, ec)) return std::nullopt;
    return inp;
}

TokensResult<TokenCases> read_vectors(const std::filesystem::path& model, std::uint64_t max_bytes) {
    auto inp_path = model, out_path = model;
    inp_path += ".inp";
    out_path += ".out";
    auto inp = read_bounded(inp_path, max_bytes);
    if (!inp) return inp.error();
    auto out = read_bounded(out_path, max_bytes);
    if (!out) return out.error();
    auto cases = parse_vectors(*inp, *out);
    if (!cases) {
        auto e = cases.error();
        e.message = fmt::format("{}: {}", out_path.string(), e.message);
        return e;
    }
    cases->source = fmt::format("{} / .out", inp_path.string());
    return cases;
}

TokensResult<TokenCases> parse_token_file(std::string_view text) {
    if (!util::json_depth_within(text)) return json_error("the token file nests deeper than allowed");
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return json_error("the token file is not a JSON object");
    if (j.value("format", std::string()) != "gguf-crossval-tokens") {
        return json_error("\"format\" must be \"gguf-crossval-tokens\"");
    }
    if (!j.contains("version") || !j["version"].is_number_unsigned() || j["version"].get<std::uint64_t>() != 1) {
        return json_error("\"version\" must be 1");
    }
    TokenCases result;
    for (const char* flag : {"add_special", "parse_special"}) {
        if (!j.contains(flag)) continue;
        if (!j[flag].is_boolean()) return json_error(fmt::format("\"{}\" must be true or false", flag));
    }
    result.add_special = j.value("add_special", false);
    result.parse_special = j.value("parse_special", false);
    if (j.contains("source")) {
        if (!j["source"].is_string()) return json_error("\"source\" must be a string");
        result.source = j["source"].get<std::string>();
    }
    if (!j.contains("cases") || !j["cases"].is_array()) return json_error("\"cases\" must be an array");
    std::size_t i = 0;
    for (const auto& c : j["cases"]) {
        const auto where = fmt::format("cases[{}]", i++);
        if (!c.is_object()) return json_error(where + " is not an object");
        TokenCase tc;
        if (c.contains("text") == c.contains("text_hex")) {
            return json_error(where + " needs exactly one of \"text\" and \"text_hex\"");
        }
        if (c.contains("text")) {
            if (!c["text"].is_string()) return json_error(where + ".text must be a string");
            tc.text = c["text"].get<std::string>();
        } else if (!c["text_hex"].is_string() || !from_hex(c["text_hex"].get<std::string>(), tc.text)) {
            return json_error(where + ".text_hex must be a string of hex digit pairs");
        }
        if (!c.contains("tokens") || !c["tokens"].is_array()) return json_error(where + ".tokens must be an array");
        TokenIds ids;
        for (const auto& id : c["tokens"]) {
            if (!id.is_number_unsigned() || id.get<std::uint64_t>() > 0x7FFFFFFFull) {
                return json_error(where + ".tokens holds a value that is not a token id (0 to 2^31-1)");
            }
            ids.push_back(static_cast<std::int32_t>(id.get<std::uint64_t>()));
        }
        tc.expected = std::move(ids);
        result.cases.push_back(std::move(tc));
    }
    return result;
}

TokensResult<TokenCases> read_token_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
    auto text = read_bounded(path, max_bytes);
    if (!text) return text.error();
    auto cases = parse_token_file(*text);
    if (!cases) {
        auto e = cases.error();
        e.message = fmt::format("{}: {}", path.string(), e.message);
        return e;
    }
    if (cases->source.empty()) cases->source = path.string();
    return cases;
}

TokensResult<std::string> read_text_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
    return read_bounded(path, max_bytes);
}

std::string to_token_file(const TokenCases& cases) {
    nlohmann::json j = {{"format", "gguf-crossval-tokens"},
                        {"version", 1},
                        {"add_special", cases.add_special},
                        {"parse_special", cases.parse_special}};
    if (!cases.source.empty() && valid_utf8(cases.source)) j["source"] = cases.source;
    j["cases"] = nlohmann::json::array();
    for (const auto& c : cases.cases) {
        nlohmann::json item;
        if (valid_utf8(c.text)) {
            item["text"] = c.text;
        } else {
            item["text_hex"] = to_hex(c.text);
        }
        item["tokens"] = c.expected.value_or(TokenIds{});
        j["cases"].push_back(std::move(item));
    }
    return j.dump(1) + "\n";
}

std::optional<std::size_t> first_difference(const TokenIds& expected, const TokenIds& actual) {
    const auto n = std::min(expected.size(), actual.size());
    for (std::size_t i = 0; i < n; ++i) {
        if (expected[i] != actual[i]) return i;
    }
    if (expected.size() != actual.size()) return n;
    return std::nullopt;
}

}  // namespace gguf::crossval
