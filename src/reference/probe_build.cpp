// On-demand build of the probe: layout discovery, content hash, compile, atomic install.
#include "probe_build.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "process.hpp"
#include "reference.hpp"

#ifndef GGUF_REFERENCE_PROBE_SOURCE_DIR
#error "GGUF_REFERENCE_PROBE_SOURCE_DIR must name tools/ref-probe"
#endif

namespace gguf::reference::detail {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kProbeFormat = "ref-probe build 2";  // bump when the build recipe changes
const std::vector<std::string> kCompileFlags = {"-std=c++17", "-O1", "-g0", "-w", "-pthread"};

// API entry points that differ between llama.cpp releases (bitnet.cpp's fork is from 2024): each
// becomes -DPROBE_HAS_<name>=1 or =0 from whether the reference's headers mention it. The probe's
// compat.hpp picks the call to make from these; add a name there and here together.
const std::vector<std::string> kProbedSymbols = {"llama_model_load_from_file", "llama_init_from_model",
                                                 "llama_model_get_vocab", "ggml_backend_load_all_from_path",
                                                 "gguf_get_tensor_ne"};

bool exists_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// A library file for `stem` ("llama" -> libllama.so, libllama.v0.4.0.so, libllama.so.0 ...), but
// not a sibling whose name merely starts the same (libllama-common.so, libggml-base.so for "ggml").
std::optional<fs::path> find_library(const fs::path& dir, std::string_view stem) {
    std::error_code ec;
    std::vector<fs::path> hits;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        const auto prefix = "lib" + std::string(stem) + ".";
        if (name.compare(0, prefix.size(), prefix) == 0 && name.find(".so") != std::string::npos &&
            exists_file(it->path())) {
            hits.push_back(it->path());
        }
    }
    if (hits.empty()) return std::nullopt;
    // Prefer the shortest name (libllama.so over libllama.so.0.0.1: same file, stable link line).
    std::sort(hits.begin(), hits.end(), [](const fs::path& a, const fs::path& b) {
        const auto x = a.filename().string(), y = b.filename().string();
        return x.size() != y.size() ? x.size() < y.size() : x < y;
    });
    return hits.front();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Regular files in dir whose names end with one of `suffixes`, sorted.
std::vector<fs::path> files_in(const fs::path& dir, std::initializer_list<std::string_view> suffixes) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        for (auto s : suffixes) {
            if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
                exists_file(it->path())) {
                out.push_back(it->path());
            }
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string compiler() {
    const char* cxx = std::getenv("CROSSVAL_PROBE_CXX");
    return cxx != nullptr && *cxx != '\0' ? cxx : "c++";
}

class Hasher {
public:
    Hasher() : st_(XXH64_createState()) { XXH64_reset(st_, 0); }
    ~Hasher() { XXH64_freeState(st_); }
    Hasher(const Hasher&) = delete;
    Hasher& operator=(const Hasher&) = delete;
    void add(std::string_view s) {
        const std::uint64_t n = s.size();  // length-prefixed: no two inputs concatenate alike
        XXH64_update(st_, &n, sizeof n);
        XXH64_update(st_, s.data(), s.size());
    }
    std::string hex() const { return fmt::format("{:016x}", XXH64_digest(st_)); }

private:
    XXH64_state_t* st_;
};

// Holds an exclusive flock on a file for its lifetime.
class FileLock {
public:
    explicit FileLock(const fs::path& p) : fd_(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
        if (fd_ >= 0) {
            while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
            }
        }
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_;
};

// C/C++ text without its comments (a TODO naming a future function must not count as declaring it).
std::string strip_comments(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, 2, "//") == 0) {
            i = std::min(text.find('\n', i), text.size());
        } else if (text.compare(i, 2, "/*") == 0) {
            const auto end = text.find("*/", i + 2);
            i = end == std::string_view::npos ? text.size() : end + 2;
        } else {
            out += text[i++];
        }
    }
    return out;
}

// Whether `code` has `name` as a whole identifier followed by '(' (a declaration or a call).
bool mentions_function(std::string_view code, std::string_view name) {
    const auto is_ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (auto pos = code.find(name); pos != std::string_view::npos; pos = code.find(name, pos + 1)) {
        if (pos > 0 && is_ident(code[pos - 1])) continue;
        auto end = pos + name.size();
        while (end < code.size() && (code[end] == ' ' || code[end] == '\t' || code[end] == '\n')) ++end;
        if (end < code.size() && code[end] == '(') return true;
    }
    return false;
}

}  // namespace

std::optional<Layout> find_layout(const fs::path& dir, std::string& error) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        error = fmt::format("{} is not a directory", dir.string());
        return std::nullopt;
    }
    Layout layout;
    // Headers: the source root is the directory itself, src/ (our cache), or 3rdparty/llama.cpp (bitnet.cpp).
    for (const auto& root : {dir, dir / "src", dir / "3rdparty" / "llama.cpp"}) {
        if (exists_file(root / "include" / "llama.h") && exists_file(root / "ggml" / "include" / "ggml.h")) {
            layout.include_dirs = {root / "include", root / "ggml" / "include"};
            break;
        }
    }
    if (layout.include_dirs.empty()) {
        error = fmt::format(
            "no llama.cpp headers under {} (looked for include/llama.h and ggml/include/ggml.h in it, "
            "in src/ and in 3rdparty/llama.cpp/)",
            dir.string());
        return std::nullopt;
    }
    // Libraries: our cache (lib/), a CMake build tree, bitnet.cpp's build tree, or flat.
    const std::vector<fs::path> lib_dirs = {dir / "lib",
                                            dir / "build" / "bin",
                                            dir / "build" / "lib",
                                            dir / "build" / "src",
                                            dir / "build" / "ggml" / "src",
                                            dir / "build" / "3rdparty" / "llama.cpp" / "src",
                                            dir / "build" / "3rdparty" / "llama.cpp" / "ggml" / "src",
                                            dir / "build" / "3rdparty" / "llama.cpp" / "bin",
                                            dir,
                                            dir / "bin"};
    auto find = [&](std::string_view stem) -> std::optional<fs::path> {
        for (const auto& d : lib_dirs) {
            if (auto p = find_library(d, stem)) return p;
        }
        return std::nullopt;
    };
    const auto llama = find("llama");
    const auto ggml = find("ggml");
    const auto ggml_base = find("ggml-base");  // absent in releases before ggml-base was split out
    if (!llama || !ggml) {
        error = fmt::format(
            "no {} under {} (looked in lib/, build/bin, build/src, build/ggml/src, "
            "build/3rdparty/llama.cpp/..., and the directory itself); build llama.cpp with "
            "-DBUILD_SHARED_LIBS=ON",
            !llama ? "libllama*.so" : "libggml*.so", dir.string());
        return std::nullopt;
    }
    layout.libraries = {*llama, *ggml};
    if (ggml_base) layout.libraries.push_back(*ggml_base);
    layout.lib_dir = ggml->parent_path();
    return layout;
}

namespace {

// Size and modification time of a file, hashed: how the stamp below notices a change.
void add_stat(Hasher& h, const fs::path& p) {
    std::error_code ec;
    h.add(p.string());
    h.add(std::to_string(fs::file_size(p, ec)));
    h.add(std::to_string(fs::last_write_time(p, ec).time_since_epoch().count()));
}

// The compiler's file: `cxx` itself when it names a path, else the first match on $PATH, resolved.
std::optional<fs::path> compiler_file(const std::string& cxx) {
    std::error_code ec;
    if (cxx.find('/') != std::string::npos) return fs::canonical(cxx, ec);
    const char* path = std::getenv("PATH");
    std::string_view rest = path != nullptr ? path : "";
    while (!rest.empty()) {
        const auto colon = rest.find(':');
        const auto dir = rest.substr(0, colon);
        const auto candidate = fs::path(dir.empty() ? "." : std::string(dir)) / cxx;
        if (::access(candidate.c_str(), X_OK) == 0) {
            const auto resolved = fs::canonical(candidate, ec);
            if (!ec) return resolved;
        }
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    }
    return std::nullopt;
}

// The cheap key of a probe build: every input by name, size and modification time instead of by
// content, and the compiler by its resolved file instead of by running `--version`. A stamp file
// named after it records the content hash that a full check found for the same inputs, so that a
// run whose inputs have not changed reads no header, runs no compiler and goes straight to the
// probe. Any change of a size, a time or a path gives another key: the full check then runs again.
std::optional<std::string> stamp_key(const Layout& layout, const fs::path& source_dir, const std::string& cxx) {
    const auto compiler = compiler_file(cxx);
    if (!compiler) return std::nullopt;
    Hasher h;
    h.add(kProbeFormat);
    h.add(cxx);
    add_stat(h, *compiler);
    for (const auto& f : kCompileFlags) h.add(f);
    for (const auto& f : files_in(source_dir, {".cpp", ".hpp", ".def"})) add_stat(h, f);
    for (const auto& inc : layout.include_dirs) {
        h.add(inc.string());
        for (const auto& f : files_in(inc, {".h"})) add_stat(h, f);
    }
    for (const auto& lib : layout.libraries) {
        std::error_code ec;
        const auto canonical = fs::canonical(lib, ec);
        add_stat(h, ec ? lib : canonical);
    }
    return h.hex();
}

fs::path stamp_path(const std::string& key) {
    return cache_root() / "probe" / "stamps" / key;
}

// The probe a stamp points to, if both are still there.
std::optional<fs::path> stamped_probe(const std::string& key) {
    std::ifstream in(stamp_path(key));
    std::string content_hash;
    if (!(in >> content_hash) || content_hash.empty() ||
        !std::all_of(content_hash.begin(), content_hash.end(), [](char c) { return std::isxdigit(c) != 0; })) {
        return std::nullopt;
    }
    auto probe = cache_root() / "probe" / content_hash / "ref-probe";
    if (!exists_file(probe) || ::access(probe.c_str(), X_OK) != 0) return std::nullopt;
    return probe;
}

// Best effort: written to a temporary name and renamed, so a reader never sees half a stamp.
void write_stamp(const std::string& key, const fs::path& probe) {
    std::error_code ec;
    const auto path = stamp_path(key);
    fs::create_directories(path.parent_path(), ec);
    if (ec) return;
    const auto tmp = fs::path(path.string() + fmt::format(".tmp.{}", ::getpid()));
    {
        std::ofstream out(tmp);
        out << probe.parent_path().filename().string() << "\n";
        if (!out) return;
    }
    fs::rename(tmp, path, ec);
    if (ec) fs::remove(tmp, ec);
}

ProbeBuild ensure_probe_by_content(const Layout& layout, const fs::path& source_dir, const std::string& cxx);

}  // namespace

ProbeBuild ensure_probe(const Layout& layout) {
    const fs::path source_dir = GGUF_REFERENCE_PROBE_SOURCE_DIR;
    const auto cxx = compiler();
    const auto key = stamp_key(layout, source_dir, cxx);
    if (key) {
        if (auto probe = stamped_probe(*key)) return {*probe, {}};
    }
    auto built = ensure_probe_by_content(layout, source_dir, cxx);
    if (key && built.probe) write_stamp(*key, *built.probe);
    return built;
}

namespace {

ProbeBuild ensure_probe_by_content(const Layout& layout, const fs::path& source_dir, const std::string& cxx) {
    const auto sources = files_in(source_dir, {".cpp"});
    if (sources.empty()) return {std::nullopt, fmt::format("no probe sources in {}", source_dir.string())};

    ProcessSpec version_spec{cxx, {"--version"}, {}, std::chrono::seconds(30)};
    const auto version = run_process(version_spec);
    if (!version.exited_normally() || version.exit_code != 0) {
        return {std::nullopt, fmt::format("no C++ compiler to build the reference probe ({} --version: {})", cxx,
                                          version.started ? version.err : version.spawn_error)};
    }

    Hasher h;
    h.add(kProbeFormat);
    h.add(cxx);
    h.add(version.out);
    for (const auto& f : kCompileFlags) h.add(f);
    for (const auto& f : files_in(source_dir, {".cpp", ".hpp", ".def"})) {
        h.add(f.filename().string());
        h.add(read_file(f));
    }
    for (const auto& inc : layout.include_dirs) {
        h.add(inc.string());
        for (const auto& f : files_in(inc, {".h"})) {
            h.add(f.filename().string());
            h.add(read_file(f));
        }
    }
    for (const auto& lib : layout.libraries) {
        std::error_code ec;
        const auto canonical = fs::canonical(lib, ec);
        const auto& p = ec ? lib : canonical;
        h.add(lib.string());
        h.add(std::to_string(fs::file_size(p, ec)));
        h.add(std::to_string(fs::last_write_time(p, ec).time_since_epoch().count()));
    }

    // The API probe: which of kProbedSymbols the headers declare (the headers are hashed above).
    std::string all_headers;
    for (const auto& inc : layout.include_dirs) {
        for (const auto& f : files_in(inc, {".h"})) all_headers += strip_comments(read_file(f));
    }
    std::vector<std::string> defines;
    for (const auto& sym : kProbedSymbols) {
        defines.push_back(fmt::format("-DPROBE_HAS_{}={}", sym, mentions_function(all_headers, sym) ? 1 : 0));
    }

    const fs::path out_dir = cache_root() / "probe" / h.hex();
    const fs::path probe = out_dir / "ref-probe";
    if (exists_file(probe) && ::access(probe.c_str(), X_OK) == 0) return {probe, {}};

    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec) return {std::nullopt, fmt::format("cannot create {}: {}", out_dir.string(), ec.message())};
    FileLock lock(out_dir / ".lock");
    if (exists_file(probe) && ::access(probe.c_str(), X_OK) == 0) return {probe, {}};  // built while we waited

    const fs::path tmp = out_dir / fmt::format("ref-probe.tmp.{}", ::getpid());
    ProcessSpec build{cxx, kCompileFlags, {}, std::chrono::minutes(5)};
    for (const auto& inc : layout.include_dirs) build.args.push_back("-I" + inc.string());
    build.args.insert(build.args.end(), defines.begin(), defines.end());
    for (const auto& s : sources) build.args.push_back(s.string());
    build.args.push_back("-o");
    build.args.push_back(tmp.string());
    std::vector<std::string> rpaths;
    for (const auto& lib : layout.libraries) {
        build.args.push_back(lib.string());
        const auto d = lib.parent_path().string();
        if (std::find(rpaths.begin(), rpaths.end(), d) == rpaths.end()) rpaths.push_back(d);
    }
    for (const auto& d : rpaths) build.args.push_back("-Wl,-rpath," + d);
    build.args.push_back("-ldl");
    const auto result = run_process(build);
    if (!result.exited_normally() || result.exit_code != 0) {
        fs::remove(tmp, ec);
        std::string why = result.started ? result.err : result.spawn_error;
        if (result.timed_out) why = "the compiler timed out";
        if (why.size() > 8192) why = why.substr(0, 8192) + "\n[...]";
        return {std::nullopt, fmt::format("building the reference probe failed ({} {}): {}", cxx,
                                          fmt::join(kCompileFlags, " "), why)};
    }
    fs::rename(tmp, probe, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return {std::nullopt, fmt::format("cannot install the probe at {}: {}", probe.string(), ec.message())};
    }
    return {probe, {}};
}

}  // namespace

}  // namespace gguf::reference::detail
