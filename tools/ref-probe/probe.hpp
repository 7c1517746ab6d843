// ref-probe: the only code that includes the reference's own headers (gguf.h, llama.h). It is
// compiled on demand against a reference build (src/reference) and never linked into our binary.
//
// Contract: `ref-probe MODE [FILE] [--name value ...]` prints exactly one JSON object on stdout and
// exits 0, on failure too ({"ok":false,"error":...,"log":...}). Every log line of llama/ggml is
// captured into "log" and also echoed to stderr as it arrives, so that text survives an abort().
// C++17, no dependency beyond the reference itself: this file may meet any compiler a user has.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace probe {

// The command line: the mode, the first positional argument (the file), and --name value options.
struct Args {
    std::string mode;
    std::optional<std::string> file;
    std::map<std::string, std::string> options;
    std::vector<std::string> positionals;  // every positional, file included

    std::optional<std::string> option(const std::string& name) const {
        auto it = options.find(name);
        if (it == options.end()) return std::nullopt;
        return it->second;
    }
};

// A streaming JSON writer. Text given to value(std::string_view) is escaped; bytes that are not
// valid UTF-8 become the six characters \\xNN so that the output is always valid JSON. Byte strings
// that must survive exactly are emitted as hex (see hex()) instead.
class Json {
public:
    Json& begin_object() {
        sep();
        out_ += '{';
        first_.push_back(true);
        return *this;
    }
    Json& end_object() {
        out_ += '}';
        first_.pop_back();
        return *this;
    }
    Json& begin_array() {
        sep();
        out_ += '[';
        first_.push_back(true);
        return *this;
    }
    Json& end_array() {
        out_ += ']';
        first_.pop_back();
        return *this;
    }
    Json& key(std::string_view k) {
        sep();
        string(k);
        out_ += ':';
        after_key_ = true;
        return *this;
    }

    Json& value(std::string_view s) {
        sep();
        string(s);
        return *this;
    }
    Json& value(const char* s) { return s ? value(std::string_view(s)) : null(); }
    Json& value(const std::string& s) { return value(std::string_view(s)); }
    Json& value(bool b) {
        sep();
        out_ += b ? "true" : "false";
        return *this;
    }
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    Json& value(T v) {
        sep();
        out_ += std::to_string(v);
        return *this;
    }
    Json& null() {
        sep();
        out_ += "null";
        return *this;
    }

    template <class T>
    Json& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

    const std::string& str() const { return out_; }

private:
    void sep();
    void string(std::string_view s);

    std::string out_;
    std::vector<bool> first_;
    bool after_key_ = false;
};

// Lower-case hex of the bytes of s: the lossless form of keys, string values and tensor names.
std::string hex(std::string_view s);

// Everything llama/ggml logged so far (thread-safe copy).
std::string captured_log();

// A mode fills `out` (positioned inside the top-level object: write fields) and returns true, or
// sets `error` and returns false (its partial output is then discarded).
using ModeFn = bool (*)(const Args& args, Json& out, std::string& error);

// The modes, declared from modes.def: mode_header, mode_load, ...
#define PROBE_MODE(name, usage) bool mode_##name(const Args& args, Json& out, std::string& error);
#include "modes.def"
#undef PROBE_MODE

}  // namespace probe
