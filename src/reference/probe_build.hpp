// Building tools/ref-probe against one reference build, on demand, cached by a content hash.
// Internal to gguf_reference (locate uses it).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gguf::reference::detail {

// Where a reference build's headers and libraries are.
struct Layout {
    std::vector<std::filesystem::path> include_dirs;  // include/ (llama.h) and ggml/include/ (ggml.h, gguf.h)
    std::vector<std::filesystem::path> libraries;     // libllama, libggml, libggml-base (when split out)
    std::filesystem::path lib_dir;                    // the directory of libggml: the CPU backends are beside it
};

// Find the layout under dir, or explain in `error` what is missing.
std::optional<Layout> find_layout(const std::filesystem::path& dir, std::string& error);

struct ProbeBuild {
    std::optional<std::filesystem::path> probe;
    std::string error;  // the compiler's message when the build failed
};

// The probe for this layout: reused from cache_root()/probe/<hash>/ref-probe when present, else
// compiled there (temporary file + rename, under a lock). The hash covers the probe sources, the
// headers, the libraries' paths/sizes/mtimes and the compiler's version.
ProbeBuild ensure_probe(const Layout& layout);

}  // namespace gguf::reference::detail
