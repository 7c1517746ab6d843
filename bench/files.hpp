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

// Complete llama models in Q8_0 for the scale table: TinyLlama-1.1B's matrix shapes (n_embd 2048,
// 32 heads, 4 KV heads, ff 5632, a 32,000-token vocabulary), 1 to 41 layers: about 116 MB, 491 MB,
// 1.0 GB and 2.0 GB. Seeded weights (the tiny models' generator), so llama.cpp loads and runs them.
struct ScaleModel {
    const char* name;
    unsigned layers;
};
inline constexpr ScaleModel kScaleModels[] = {
    {"scale_100m.gguf", 1}, {"scale_500m.gguf", 9}, {"scale_1g.gguf", 20}, {"scale_2g.gguf", 41}};

inline constexpr std::size_t kVocabSize = 128256;
inline constexpr std::size_t kMerges = 280000;
inline constexpr std::size_t kTensors = 3000;

// $GGUF_BENCH_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gguf-crossval/bench.
std::filesystem::path bench_dir();

// Write `name` into `dir` unless a file of the current generator tag is already there.
// Returns true if it was (re)generated.
gguf::Result<bool> ensure_file(const std::filesystem::path& dir, const std::string& name);

}  // namespace bench
