// Finding a reference: the user's directory or the pinned cache, its name and version, its probe.
#include <fmt/format.h>
#include <cstdlib>
#include <fstream>

#include "probe_build.hpp"
#include "process.hpp"
#include "reference.hpp"

namespace gguf::reference {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// name/version from the REFERENCE file that scripts/fetch-reference writes (key=value lines).
void read_reference_file(const fs::path& dir, Reference& ref) {
    std::ifstream in(dir / "REFERENCE");
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        const auto key = line.substr(0, eq);
        if (key == "name") ref.name = line.substr(eq + 1);
        if (key == "version") ref.version = line.substr(eq + 1);
    }
}

// `git describe` of a checkout, or "unknown".
std::string git_version(const fs::path& dir) {
    for (const auto& root : {dir, dir / "3rdparty" / "llama.cpp"}) {
        std::error_code ec;
        if (!fs::exists(root / ".git", ec)) continue;
        ProcessSpec spec{
            "git", {"-C", root.string(), "describe", "--tags", "--always", "--dirty"}, {}, std::chrono::seconds(10)};
        const auto r = run_process(spec);
        if (r.exited_normally() && r.exit_code == 0 && !trim(r.out).empty()) return "git " + trim(r.out);
    }
    return "unknown";
}

Located from_dir(const fs::path& dir, std::string origin, std::string default_name) {
    std::string error;
    const auto layout = detail::find_layout(dir, error);
    if (!layout) return {std::nullopt, fmt::format("reference from {} unusable: {}", origin, error)};
    Reference ref;
    ref.dir = dir;
    ref.lib_dir = layout->lib_dir;
    ref.origin = std::move(origin);
    ref.name = std::move(default_name);
    std::error_code ec;
    if (fs::exists(dir / "include" / "ggml-bitnet.h", ec)) ref.name = "bitnet.cpp";  // a bitnet.cpp checkout
    read_reference_file(dir, ref);
    if (ref.version.empty()) ref.version = git_version(dir);
    auto built = detail::ensure_probe(*layout);
    if (!built.probe)
        return {std::nullopt, fmt::format("reference from {} ({}): {}", ref.origin, dir.string(), built.error)};
    ref.probe = *built.probe;
    return {std::move(ref), {}};
}

}  // namespace

fs::path cache_root() {
    if (const auto xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return fs::path(xdg) / "gguf-crossval";
    const auto home = env("HOME");
    return (home.empty() ? fs::temp_directory_path() : fs::path(home) / ".cache") / "gguf-crossval";
}

fs::path pinned_reference_dir() {
    return cache_root() / "reference" / std::string(kPinnedVersion);
}

Located locate(const std::optional<fs::path>& cpp_dir) {
    if (cpp_dir) return from_dir(*cpp_dir, "--cpp-dir", "llama.cpp");
    if (const auto d = env("CROSSVAL_CPP_DIR"); !d.empty()) return from_dir(d, "CROSSVAL_CPP_DIR", "llama.cpp");
    if (const auto d = env("BITNET_CPP_DIR"); !d.empty()) return from_dir(d, "BITNET_CPP_DIR", "bitnet.cpp");
    const auto pinned = pinned_reference_dir();
    std::error_code ec;
    if (!fs::exists(pinned / ".complete", ec)) {
        return {std::nullopt,
                fmt::format("no reference: the pinned llama.cpp (node-llama-cpp {}) is not installed in {}; run "
                            "scripts/fetch-reference, or name a llama.cpp build with --cpp-dir or CROSSVAL_CPP_DIR",
                            kPinnedVersion, pinned.string())};
    }
    return from_dir(pinned, "pinned cache", "llama.cpp");
}

Located locate_bitnet(const std::optional<fs::path>& dir) {
    if (dir) return from_dir(*dir, "--bitnet-dir", "bitnet.cpp");
    if (const auto d = env("BITNET_CPP_DIR"); !d.empty()) return from_dir(d, "BITNET_CPP_DIR", "bitnet.cpp");
    // scripts/fetch-bitnet: cache_root()/bitnet/<key>/{.complete, bitnet.cpp/}
    std::optional<fs::path> newest;
    fs::file_time_type newest_time{};
    std::error_code ec;
    for (fs::directory_iterator it(cache_root() / "bitnet", ec), end; !ec && it != end; it.increment(ec)) {
        const auto stamp = it->path() / ".complete";
        std::error_code ec2;
        if (!fs::exists(stamp, ec2) || !fs::is_directory(it->path() / "bitnet.cpp", ec2)) continue;
        const auto t = fs::last_write_time(stamp, ec2);
        if (!newest || t > newest_time) {
            newest = it->path() / "bitnet.cpp";
            newest_time = t;
        }
    }
    if (!newest) {
        return {std::nullopt, fmt::format("no bitnet.cpp: none built in {} (run scripts/fetch-bitnet) and "
                                          "BITNET_CPP_DIR is not set",
                                          (cache_root() / "bitnet").string())};
    }
    return from_dir(*newest, "scripts/fetch-bitnet cache", "bitnet.cpp");
}

}  // namespace gguf::reference
