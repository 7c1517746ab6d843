// The generated benchmark files: their names, where they live, and how they are made.
#pragma once

#include <filesystem>
#include <string>

#include "gguf/error.hpp"

namespace bench {

// Bump when the generated contents change: files with another tag are regenerated.
inline constexpr const char* kGeneratorTag = "gguf-crossval bench files v2";

inline constexpr const char* kLargeVocab = "large_vocab.gguf";    // Llama 3's tokenizer shape, no tensors
inline constexpr const char* kManyTensors = "many_tensors.gguf";  // 3,000 tensor infos, small data
inline constexpr const char* kData1G = "data_1g.gguf";            // 32 F16 tensors of 32 MiB: 1 GiB of data

inline constexpr std::size_t kVocabSize = 128256;
inline constexpr std::size_t kMerges = 280000;
inline constexpr std::size_t kTensors = 3000;

// $GGUF_BENCH_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gguf-crossval/bench.
std::filesystem::path bench_dir();

// Write `name` into `dir` unless a file of the current generator tag is already there.
// Returns true if it was (re)generated.
gguf::Result<bool> ensure_file(const std::filesystem::path& dir, const std::string& name);

}  // namespace bench
