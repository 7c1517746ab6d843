// SHA-256 of a whole file, streamed through a fixed buffer.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace gguf::crossval {

// Lower-case hex digest, or nullopt when the file cannot be read.
std::optional<std::string> sha256_file(const std::filesystem::path& path);

}  // namespace gguf::crossval
