#include "escape.hpp"

#include <cstdio>

namespace gguf::util {
namespace {

// Length of the valid UTF-8 sequence starting at s[i] (shortest form, no surrogates, at most
// U+10FFFF), or 0 if none starts there.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC)
        len = 3;
    else if (c == 0xED)
        len = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF)
        len = 3;
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F;
    else
        return 0;
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    }
    return len;
}

void hex(std::string& out, unsigned char c) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
}

enum class Lines { escaped, kept };

// The common rule, with `extra` deciding the escape of each printable ASCII character (empty: as is).
template <class Extra>
std::string escape(std::string_view s, Extra extra, Lines lines = Lines::escaped) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const auto len = utf8_length(s, i);
        if (lines == Lines::kept && (c == '\n' || c == '\t')) {
            out += static_cast<char>(c);
            ++i;
        } else if (len == 0 || c < 0x20 || c == 0x7F) {
            hex(out, c);
            ++i;
        } else if (len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {  // C1 control
            hex(out, c);
            hex(out, static_cast<unsigned char>(s[i + 1]));
            i += 2;
        } else if (len == 1) {
            const std::string_view e = extra(static_cast<char>(c));
            if (e.empty())
                out += static_cast<char>(c);
            else
                out += e;
            ++i;
        } else {
            out.append(s.substr(i, len));
            i += len;
        }
    }
    return out;
}

}  // namespace

std::string terminal_safe(std::string_view text) {
    return escape(text, [](char) { return std::string_view(); });
}

std::string markdown_cell(std::string_view text) {
    return escape(text, [](char c) -> std::string_view {
        switch (c) {
            case '|':
                return "\\|";
            case '`':
                return "\\`";
            case '\\':
                return "\\\\";
            case '*':
                return "\\*";
            case '_':
                return "\\_";
            case '[':
                return "\\[";
            case ']':
                return "\\]";
            case '<':
                return "&lt;";
            case '>':
                return "&gt;";
            default:
                return {};
        }
    });
}

std::string markdown_code(std::string_view text) {
    return escape(text, [](char c) -> std::string_view {
        if (c == '|') return "\\|";
        if (c == '`') return "\\x60";
        return {};
    });
}

static std::string_view xml_entity(char c) {
    switch (c) {
        case '&':
            return "&amp;";
        case '<':
            return "&lt;";
        case '>':
            return "&gt;";
        case '"':
            return "&quot;";
        case '\'':
            return "&apos;";
        default:
            return {};
    }
}

std::string xml_text(std::string_view text) {
    return escape(text, xml_entity);
}

std::string xml_content(std::string_view text) {
    return escape(text, xml_entity, Lines::kept);
}

}  // namespace gguf::util
