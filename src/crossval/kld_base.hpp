// llama.cpp's KL-divergence base file (what `llama-perplexity --kl-divergence-base FILE` writes): the
// tokens of a run and, chunk by chunk, 16-bit quantized log-probabilities of the second half of each
// chunk's positions. Read one chunk at a time, so memory stays one chunk whatever the run's length.
// Layout and meaning: docs/logits-format.md, "llama.cpp's KL-divergence base file".
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "logits.hpp"

namespace gguf::crossval {

inline constexpr char kKldBaseMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

// True when `head` (the file's first bytes) starts with the base file's magic.
bool is_kld_base(std::span<const std::byte> head);
bool is_kld_base_file(const std::filesystem::path& path);

class KldBaseReader {
public:
    // Reads and checks the header and the tokens; the sizes must account for the file exactly.
    // Errors: io_error, not_a_logits_file (magic), truncated, trailing_bytes, empty (n_ctx < 3, n_vocab
    // or n_chunk <= 0), too_large (sizes that overflow), bad_json is never used; a token outside
    // 0..n_vocab-1 is shape_mismatch with its offset.
    static LogitsResult<KldBaseReader> open(const std::filesystem::path& path);

    std::uint32_t n_ctx() const { return n_ctx_; }
    std::uint32_t n_vocab() const { return n_vocab_; }
    std::uint32_t n_chunk() const { return n_chunk_; }
    // Chunk c covers tokens [c * n_ctx, (c + 1) * n_ctx); its rows are positions first() .. n_ctx - 2,
    // row j predicting token first() + j + 1 of the chunk.
    std::uint32_t first() const { return n_ctx_ / 2; }
    std::uint32_t rows_per_chunk() const { return n_ctx_ - 1 - n_ctx_ / 2; }
    std::span<const std::int32_t> chunk_tokens(std::uint32_t chunk) const {
        return std::span<const std::int32_t>(tokens_).subspan(std::size_t{chunk} * n_ctx_, n_ctx_);
    }

    // Reads the next chunk's log-probabilities (chunks in order). Errors: io_error, truncated.
    LogitsResult<Ok> read_next_chunk();
    // Row j of the chunk last read, as log-probabilities: scale * q + min_log_prob, computed in f32 as
    // llama-perplexity does. Entries at the floor (q = 0, which the writer uses for everything at or below
    // max - 16) are kept at min_log_prob.
    void row_log_probs(std::uint32_t row, std::vector<double>& out) const;
    // Bytes held for the chunk's data (one chunk, whatever n_chunk is).
    std::size_t chunk_bytes_held() const { return chunk_.capacity() * sizeof(std::uint16_t); }

private:
    struct Close {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, Close> file_;
    std::uint32_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0, next_chunk_ = 0;
    std::uint64_t row_words_ = 0;  // u16 words per row: 2 * ((n_vocab + 1) / 2) + 4
    std::uint64_t chunk_offset_ = 0;
    std::vector<std::int32_t> tokens_;
    std::vector<std::uint16_t> chunk_;
};

}  // namespace gguf::crossval
