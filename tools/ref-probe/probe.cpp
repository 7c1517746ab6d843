// ref-probe entry point: argument parsing, log capture, mode dispatch, the one JSON object out.
#include "probe.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>

#include "ggml.h"
#include "llama.h"

namespace probe {
namespace {

std::mutex g_log_mutex;
std::string g_log;

// Receives every llama and ggml log message (llama_log_set routes ggml's through it as well; we
// also set ggml's own in case a build does not). Echoed to stderr at once: if the reference
// aborts, the runner still has the text.
void log_callback(enum ggml_log_level /*level*/, const char* text, void* /*user*/) {
    if (text == nullptr) return;
    {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        g_log += text;
    }
    std::fputs(text, stderr);
    std::fflush(stderr);
}

struct ModeEntry {
    const char* name;
    ModeFn fn;
    const char* usage;
};

const ModeEntry kModes[] = {
#define PROBE_MODE(name, usage) {#name, &mode_##name, usage},
#include "modes.def"
#undef PROBE_MODE
};

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0) {
        len = 3;
        lo = 0xA0;
    } else if (c == 0xED) {
        len = 3;
        hi = 0x9F;
    } else if (c >= 0xE1 && c <= 0xEF)
        len = 3;
    else if (c == 0xF0) {
        len = 4;
        lo = 0x90;
    } else if (c == 0xF4) {
        len = 4;
        hi = 0x8F;
    } else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else
        return 0;
    if (i + len > s.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    }
    return len;
}

int usage(const char* argv0, const std::string& error) {
    Json out;
    out.begin_object();
    out.field("ok", false);
    std::string text = error + "\nusage: " + argv0 + " MODE [--name value ...] [--] [FILE]; modes:";
    for (const auto& m : kModes) text += std::string("\n  ") + m.usage;
    out.field("error", text);
    out.field("log", "");
    out.end_object();
    std::printf("%s\n", out.str().c_str());
    return 0;
}

}  // namespace

void Json::sep() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ',';
        first_.back() = false;
    }
}

void Json::string(std::string_view s) {
    static const char* const digits = "0123456789abcdef";
    out_ += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out_ += '\\';
            out_ += static_cast<char>(c);
            ++i;
        } else if (c < 0x20) {
            switch (c) {
                case '\n':
                    out_ += "\\n";
                    break;
                case '\t':
                    out_ += "\\t";
                    break;
                case '\r':
                    out_ += "\\r";
                    break;
                default:
                    out_ += "\\u00";
                    out_ += digits[c >> 4];
                    out_ += digits[c & 15];
            }
            ++i;
        } else if (const auto len = utf8_len(s, i); len > 0) {
            out_.append(s.substr(i, len));
            i += len;
        } else {
            out_ += "\\\\x";
            out_ += digits[c >> 4];
            out_ += digits[c & 15];
            ++i;
        }
    }
    out_ += '"';
}

std::string hex(std::string_view s) {
    static const char* const digits = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string captured_log() {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    return g_log;
}

}  // namespace probe

int main(int argc, char** argv) {
    using namespace probe;
    llama_log_set(log_callback, nullptr);
    ggml_log_set(log_callback, nullptr);

    if (argc < 2) return usage(argv[0], "no mode given");
    Args args;
    args.mode = argv[1];
    bool options_done = false;  // after "--" every argument is positional (file names may start with "--")
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (!options_done && a == "--") {
            options_done = true;
        } else if (!options_done && a.size() > 2 && a.compare(0, 2, "--") == 0) {
            if (i + 1 >= argc) return usage(argv[0], "option " + a + " needs a value");
            args.options[a.substr(2)] = argv[++i];
        } else {
            args.positionals.push_back(a);
        }
    }
    if (!args.positionals.empty()) args.file = args.positionals.front();

    const ModeEntry* mode = nullptr;
    for (const auto& m : kModes) {
        if (args.mode == m.name) mode = &m;
    }
    if (mode == nullptr) return usage(argv[0], "unknown mode '" + args.mode + "'");

    Json body;
    body.begin_object();
    std::string error;
    const bool ok = mode->fn(args, body, error);
    if (!ok) {
        body = Json();
        body.begin_object();
        body.field("error", error.empty() ? std::string("failed") : error);
    }
    body.field("ok", ok);
    body.field("mode", args.mode);
    body.field("log", captured_log());
    body.end_object();
    std::fwrite(body.str().data(), 1, body.str().size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    return ok ? 0 : 1;  // the JSON says why; the status lets a script (or make) see that it failed
}
