// Loading only the CPU backend variant this machine uses. ggml_backend_load_all_from_path opens
// every libggml-cpu-<variant>.so beside libggml (fourteen in the pinned release) to score each
// against the CPU and keep the best: most of a probe run's time when the model is small. The probe
// remembers the variant that load_all chose, in a file beside its own executable, keyed by the
// library directory, the variant file's size and time, and the CPU's feature flags; a later run
// with the same key loads that one file. Only for a directory that holds no other backend (GPU,
// BLAS, RPC...): there load_all always runs, as it registers those too.
#pragma once

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "ggml-backend.h"

namespace probe::cpu_backend {

// Does `libdir` hold only ggml-base and CPU variants among its libggml-*.so backends?
inline bool cpu_only(const std::filesystem::path& libdir) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(libdir, ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        if (name.rfind("libggml-", 0) != 0 || name.find(".so") == std::string::npos) continue;
        if (name.rfind("libggml-base", 0) == 0 || name.rfind("libggml-cpu", 0) == 0) continue;
        return false;
    }
    return !ec;
}

inline std::string cpu_flags() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("flags", 0) == 0) return line;
    }
    return {};
}

inline std::string key(const std::string& libdir, const std::string& variant) {
    struct stat st {};
    if (::stat(variant.c_str(), &st) != 0) return {};
    const auto flags = cpu_flags();
    if (flags.empty()) return {};
    return libdir + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + "|" + std::to_string(std::hash<std::string>{}(flags));
}

inline std::filesystem::path memory_file() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path() : exe.parent_path() / "cpu-backend";
}

// The loaded libggml-cpu*.so, by path, if any.
inline std::string loaded_variant() {
    std::string found;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) {
            const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
            if (name.find("/libggml-cpu") != std::string::npos) *static_cast<std::string*>(data) = name;
            return 0;
        },
        &found);
    return found;
}

// Loads the remembered variant; false (nothing loaded) when there is none for this key.
inline bool load_remembered(const std::string& libdir) {
    if (!cpu_only(libdir)) return false;
    const auto file = memory_file();
    if (file.empty()) return false;
    std::ifstream in(file);
    std::string remembered_key, variant;
    if (!std::getline(in, remembered_key) || !std::getline(in, variant)) return false;
    if (remembered_key.empty() || remembered_key != key(libdir, variant)) return false;
    return ggml_backend_load(variant.c_str()) != nullptr;
}

// After load_all: remember the variant it chose (best effort, written whole or not at all).
inline void remember(const std::string& libdir) {
    if (!cpu_only(libdir)) return;
    const auto variant = loaded_variant();
    const auto file = memory_file();
    if (variant.empty() || file.empty()) return;
    const auto k = key(libdir, variant);
    if (k.empty()) return;
    const auto tmp = file.string() + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp);
        out << k << "\n" << variant << "\n";
        if (!out) return;
    }
    if (std::rename(tmp.c_str(), file.c_str()) != 0) std::remove(tmp.c_str());
}

}  // namespace probe::cpu_backend
