// Reading llama.cpp's KL-divergence base file, one chunk at a time.
#include "kld_base.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <cstring>
#include <system_error>

namespace gguf::crossval {
namespace {

// The file is little-endian; the chunk data is read straight into u16 and f32.
static_assert(std::endian::native == std::endian::little, "the base file reader assumes a little-endian host");

constexpr std::uint64_t kHeader = 8 + 4 + 4 + 4;  // magic, n_ctx, n_vocab, n_chunk

LogitsError error(LogitsCode code, std::uint64_t offset, std::string message) {
    return LogitsError{code, offset, "KL-divergence base file: " + std::move(message)};
}

bool read_exact(std::FILE* f, void* out, std::size_t n) {
    return std::fread(out, 1, n, f) == n;
}

// a * b + c without overflow, or false.
bool mul_add(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t& out) {
    if (b != 0 && a > (UINT64_MAX - c) / b) return false;
    out = a * b + c;
    return true;
}

}  // namespace

bool is_kld_base(std::span<const std::byte> head) {
    return head.size() >= sizeof kKldBaseMagic && std::memcmp(head.data(), kKldBaseMagic, sizeof kKldBaseMagic) == 0;
}

bool is_kld_base_file(const std::filesystem::path& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    std::byte head[sizeof kKldBaseMagic];
    return f && read_exact(f.get(), head, sizeof head) && is_kld_base(head);
}

LogitsResult<KldBaseReader> KldBaseReader::open(const std::filesystem::path& path) {
    std::error_code ec;
    const std::uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) return error(LogitsCode::io_error, 0, fmt::format("cannot read '{}': {}", path.string(), ec.message()));
    KldBaseReader r;
    r.file_.reset(std::fopen(path.c_str(), "rb"));
    if (!r.file_) return error(LogitsCode::io_error, 0, fmt::format("cannot open '{}'", path.string()));
    std::byte head[kHeader];
    if (!read_exact(r.file_.get(), head, std::min<std::uint64_t>(size, kHeader)) || size < sizeof kKldBaseMagic ||
        !is_kld_base(head)) {
        return error(LogitsCode::not_a_logits_file, 0, "the file does not start with \"_logits_\"");
    }
    if (size < kHeader) {
        return error(LogitsCode::truncated, size,
                     fmt::format("the header needs {} bytes, the file has {}", kHeader, size));
    }
    std::int32_t n_ctx = 0, n_vocab = 0, n_chunk = 0;
    std::memcpy(&n_ctx, head + 8, 4);
    std::memcpy(&n_vocab, head + 12, 4);
    std::memcpy(&n_chunk, head + 16, 4);
    // n_ctx is written as llama.cpp's int n_ctx and read back as u32; a negative one is rejected as too small.
    if (n_ctx < 3) {
        return error(LogitsCode::empty, 8,
                     fmt::format("n_ctx {} leaves no position to score (each chunk scores positions n_ctx/2 .. "
                                 "n_ctx-2; n_ctx must be at least 3)",
                                 n_ctx));
    }
    if (n_vocab <= 0) return error(LogitsCode::empty, 12, fmt::format("n_vocab {} is not positive", n_vocab));
    if (n_chunk <= 0) return error(LogitsCode::empty, 16, fmt::format("n_chunk {} is not positive", n_chunk));
    r.n_ctx_ = static_cast<std::uint32_t>(n_ctx);
    r.n_vocab_ = static_cast<std::uint32_t>(n_vocab);
    r.n_chunk_ = static_cast<std::uint32_t>(n_chunk);
    r.row_words_ = 2 * ((std::uint64_t{r.n_vocab_} + 1) / 2) + 4;

    // Every size from the header must account for the file exactly before anything is allocated.
    std::uint64_t tokens_end = 0, chunk_bytes = 0, expected = 0;
    const bool fits = mul_add(std::uint64_t{r.n_ctx_} * r.n_chunk_, 4, kHeader, tokens_end) &&
                      mul_add(r.rows_per_chunk(), r.row_words_ * 2, 0, chunk_bytes) &&
                      mul_add(chunk_bytes, r.n_chunk_, tokens_end, expected);
    if (!fits) return error(LogitsCode::too_large, 8, "the header's sizes overflow");
    if (size < expected) {
        return error(LogitsCode::truncated, size,
                     fmt::format("n_ctx {}, n_vocab {} and n_chunk {} need {} bytes, the file has {}", r.n_ctx_,
                                 r.n_vocab_, r.n_chunk_, expected, size));
    }
    if (size > expected) {
        return error(LogitsCode::trailing_bytes, expected,
                     fmt::format("{} bytes after the last chunk", size - expected));
    }
    r.tokens_.resize(std::size_t{r.n_ctx_} * r.n_chunk_);
    if (!read_exact(r.file_.get(), r.tokens_.data(), r.tokens_.size() * 4)) {
        return error(LogitsCode::io_error, kHeader, "cannot read the tokens");
    }
    for (std::size_t i = 0; i < r.tokens_.size(); ++i) {
        if (r.tokens_[i] < 0 || static_cast<std::uint32_t>(r.tokens_[i]) >= r.n_vocab_) {
            return error(LogitsCode::shape_mismatch, kHeader + 4 * i,
                         fmt::format("token {} is {}, outside the vocabulary of {}", i, r.tokens_[i], r.n_vocab_));
        }
    }
    r.chunk_offset_ = tokens_end;
    return r;
}

LogitsResult<Ok> KldBaseReader::read_next_chunk() {
    if (next_chunk_ >= n_chunk_) {
        return error(LogitsCode::truncated, chunk_offset_, fmt::format("there are only {} chunks", n_chunk_));
    }
    chunk_.resize(rows_per_chunk() * row_words_);
    if (!read_exact(file_.get(), chunk_.data(), chunk_.size() * 2)) {
        return error(LogitsCode::truncated, chunk_offset_, fmt::format("cannot read chunk {}", next_chunk_));
    }
    chunk_offset_ += chunk_.size() * 2;
    ++next_chunk_;
    return Ok{};
}

void KldBaseReader::row_log_probs(std::uint32_t row, std::vector<double>& out) const {
    const std::uint16_t* words = chunk_.data() + std::size_t{row} * row_words_;
    float scale = 0, min_log_prob = 0;
    std::memcpy(&scale, words, 4);
    std::memcpy(&min_log_prob, words + 2, 4);
    out.resize(n_vocab_);
    for (std::uint32_t i = 0; i < n_vocab_; ++i) out[i] = scale * static_cast<float>(words[4 + i]) + min_log_prob;
}

}  // namespace gguf::crossval
