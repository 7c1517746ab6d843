// llama.cpp's KL-divergence base file: the reader, and our statistics against llama-perplexity's on
// the same file. The pinned reference ships no llama-perplexity binary, so the test writes the base
// file itself from the format's definition (docs/logits-format.md) and works out llama-perplexity's
// figures with the straightforward formulas its --kl-divergence mode uses, independently of the
// library's code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "crossval/distribution.hpp"
#include "crossval/kld_base.hpp"
#include "support/kld_base_file.hpp"
#include "support/temp_dir.hpp"

using gguf::crossval::DistributionAccumulator;
using gguf::crossval::KldBaseReader;
using gguf::crossval::LogitsCode;
using gguf::crossval::LogProbRow;

namespace {

// A run: n_chunk chunks of n_ctx tokens, and per position of every chunk the base and test logits.
struct LogitsRun {
    std::int32_t n_ctx = 0, n_vocab = 0, n_chunk = 0;
    std::vector<std::int32_t> tokens;
    std::vector<float> base, test;  // (n_chunk * n_ctx) rows of n_vocab

    const float* base_row(std::size_t chunk, std::size_t pos) const {
        return base.data() + (chunk * n_ctx + pos) * n_vocab;
    }
    const float* test_row(std::size_t chunk, std::size_t pos) const {
        return test.data() + (chunk * n_ctx + pos) * n_vocab;
    }
};

LogitsRun make_run(std::int32_t n_ctx, std::int32_t n_vocab, std::int32_t n_chunk, float spread, unsigned seed) {
    LogitsRun r{n_ctx, n_vocab, n_chunk, {}, {}, {}};
    std::mt19937 rng(seed);
    std::normal_distribution<float> logit(0, spread), noise(0, 0.2f);
    std::uniform_int_distribution<std::int32_t> token(0, n_vocab - 1);
    for (std::int32_t i = 0; i < n_ctx * n_chunk; ++i) r.tokens.push_back(token(rng));
    for (std::size_t i = 0; i < std::size_t(n_ctx) * n_chunk * n_vocab; ++i) {
        r.base.push_back(logit(rng));
        r.test.push_back(r.base.back() + noise(rng));
    }
    return r;
}

// The base file, written by the test's own writer from the format's definition.
std::vector<char> base_file(const LogitsRun& r) {
    return testing_support::kld_base_file(r.n_ctx, r.n_vocab, r.n_chunk, r.tokens,
                                          [&r](int c, int p) { return r.base_row(c, p); });
}

std::filesystem::path write(const std::filesystem::path& dir, const std::string& name, const std::vector<char>& b) {
    const auto path = dir / name;
    std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
    return path;
}

// llama-perplexity --kl-divergence's figures, from the file's bytes and the test logits.
struct Expected {
    double mean_kld = 0, median_kld = 0, max_kld = 0, p99_kld = 0, same_top = 0, rms_dp = 0, mean_dp = 0, median_dp = 0,
           ppl_q = 0, ppl_base = 0, ln_ratio = 0;
};

double interpolate(std::vector<double> v, double f) {
    std::sort(v.begin(), v.end());
    const double at = f * double(v.size() - 1);
    const auto i = std::size_t(at);
    return i + 1 < v.size() ? v[i] + (at - double(i)) * (v[i + 1] - v[i]) : v[i];
}

Expected llama_perplexity(const std::vector<char>& file, const LogitsRun& r) {
    const int words = 2 * ((r.n_vocab + 1) / 2) + 4;
    std::size_t at = 20 + 4 * std::size_t(r.n_ctx) * r.n_chunk;
    std::vector<double> klds, dps;
    double nll = 0, nll_base = 0, same = 0;
    for (int c = 0; c < r.n_chunk; ++c) {
        for (int p = r.n_ctx / 2; p < r.n_ctx - 1; ++p, at += 2 * std::size_t(words)) {
            float scale, min_lp;
            std::memcpy(&scale, &file[at], 4);
            std::memcpy(&min_lp, &file[at + 4], 4);
            auto base_lp = [&](int i) {
                std::uint16_t q;
                std::memcpy(&q, &file[at + 8 + 2 * i], 2);
                return double(scale * q + min_lp);
            };
            const float* x = r.test_row(c, p);
            const int tok = r.tokens[c * r.n_ctx + p + 1];
            const int top_q = int(std::max_element(x, x + r.n_vocab) - x);
            double sum = 0;
            for (int i = 0; i < r.n_vocab; ++i) sum += std::exp(double(x[i]) - x[top_q]);
            const double norm = x[top_q] + std::log(sum);  // log-prob of i under Q: x[i] - norm
            double kld = 0;
            int top_base = 0;
            for (int i = 0; i < r.n_vocab; ++i) {
                const double b = base_lp(i);
                if (b > -16) kld += std::exp(b) * (b - (x[i] - norm));
                if (b > base_lp(top_base)) top_base = i;
            }
            klds.push_back(kld);
            same += top_base == top_q;
            nll += norm - x[tok];
            nll_base += -base_lp(tok);
            dps.push_back(std::exp(x[tok] - norm) - std::exp(base_lp(tok)));
        }
    }
    const double n = double(klds.size());
    Expected e;
    for (double k : klds) e.mean_kld += k / n;
    e.median_kld = interpolate(klds, 0.5);
    e.max_kld = *std::max_element(klds.begin(), klds.end());
    e.p99_kld = interpolate(klds, 0.99);
    e.same_top = same / n;
    for (double d : dps) {
        e.mean_dp += d / n;
        e.rms_dp += d * d / n;
    }
    e.rms_dp = std::sqrt(e.rms_dp);
    e.median_dp = interpolate(dps, 0.5);
    e.ppl_q = std::exp(nll / n);
    e.ppl_base = std::exp(nll_base / n);
    e.ln_ratio = (nll - nll_base) / n;
    return e;
}

// Our statistics: the reader, chunk by chunk, and the accumulator (floor -16, as llama-perplexity).
gguf::crossval::DistributionStats ours(const std::filesystem::path& path, const LogitsRun& r,
                                       std::size_t* max_chunk_bytes) {
    auto reader = KldBaseReader::open(path);
    if (!reader) {
        ADD_FAILURE() << reader.error().message;
        return {};
    }
    DistributionAccumulator acc;
    std::vector<double> base;
    for (std::uint32_t c = 0; c < reader->n_chunk(); ++c) {
        EXPECT_TRUE(reader->read_next_chunk());
        if (max_chunk_bytes) *max_chunk_bytes = std::max(*max_chunk_bytes, reader->chunk_bytes_held());
        const auto tokens = reader->chunk_tokens(c);
        for (std::uint32_t j = 0; j < reader->rows_per_chunk(); ++j) {
            reader->row_log_probs(j, base);
            const std::size_t p = reader->first() + j;
            const auto test = gguf::crossval::log_probabilities({r.test_row(c, p), std::size_t(r.n_vocab)});
            acc.add(LogProbRow{base, -16}, LogProbRow{test}, static_cast<std::uint32_t>(tokens[p + 1]));
        }
    }
    return acc.finish();
}

void expect_close(double ours, double theirs, const char* what) {
    // llama-perplexity computes the log-softmax in f32 (with an f64 sum): agreement to about 1e-6
    EXPECT_NEAR(ours, theirs, 2e-6 * std::max(1.0, std::fabs(theirs))) << what;
}

class KldBase : public testing_support::TempDirTest {};

}  // namespace

TEST_F(KldBase, StatisticsEqualLlamaPerplexitysOnTheSameFile) {
    // spread 6: many logits lie below max - 16, so the floor matters
    for (const float spread : {2.0f, 6.0f}) {
        const LogitsRun r = make_run(16, 50, 8, spread, 7);
        const auto bytes = base_file(r);
        const auto path = write(dir_, "base.kld", bytes);
        const auto e = llama_perplexity(bytes, r);
        const auto s = ours(path, r, nullptr);
        EXPECT_EQ(s.n_positions, 8u * 7u);  // rows 8 .. 14 of each chunk of 16
        EXPECT_EQ(s.n_scored, 8u * 7u);
        expect_close(s.mean_kld, e.mean_kld, "mean KLD");
        expect_close(s.kld.median, e.median_kld, "median KLD");
        expect_close(s.kld.max, e.max_kld, "max KLD");
        expect_close(s.kld.p99, e.p99_kld, "99% KLD");
        EXPECT_DOUBLE_EQ(s.same_top_p, e.same_top) << "same top p";
        expect_close(s.mean_delta_p, e.mean_dp, "mean delta-p");
        expect_close(s.rms_delta_p, e.rms_dp, "RMS delta-p");
        expect_close(s.delta_p.median, e.median_dp, "median delta-p");
        expect_close(s.ppl_test, e.ppl_q, "PPL(Q)");
        expect_close(s.ppl_ref, e.ppl_base, "PPL(base)");
        expect_close(s.ln_ppl_ratio, e.ln_ratio, "ln(PPL(Q)/PPL(base))");
        EXPECT_GT(e.mean_kld, 1e-3);  // the data is not trivially identical
    }
}

TEST_F(KldBase, LongRunIsReadOneChunkAtATime) {
    // 4096 tokens in 32 chunks of 128: the reader holds one chunk, the accumulator two numbers a position.
    const LogitsRun r = make_run(128, 64, 32, 3, 11);
    const auto path = write(dir_, "long.kld", base_file(r));
    std::size_t max_chunk = 0;
    const auto s = ours(path, r, &max_chunk);
    const std::size_t one_chunk = (128 - 1 - 64) * (2 * 32 + 4) * sizeof(std::uint16_t);
    EXPECT_EQ(max_chunk, one_chunk);
    EXPECT_EQ(s.n_positions, 32u * 63u);
}

TEST_F(KldBase, RejectsABadMagic) {
    auto bytes = base_file(make_run(4, 3, 1, 1, 1));
    bytes[0] = 'X';
    const auto r = KldBaseReader::open(write(dir_, "x.kld", bytes));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, LogitsCode::not_a_logits_file);
}

TEST_F(KldBase, RejectsATruncatedFileWithItsSize) {
    auto bytes = base_file(make_run(4, 3, 2, 1, 1));
    const auto full = bytes.size();
    bytes.resize(full - 1);
    const auto r = KldBaseReader::open(write(dir_, "x.kld", bytes));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, LogitsCode::truncated);
    EXPECT_EQ(r.error().offset, full - 1);
}

TEST_F(KldBase, RejectsTrailingBytes) {
    auto bytes = base_file(make_run(4, 3, 1, 1, 1));
    const auto full = bytes.size();
    bytes.push_back(0);
    const auto r = KldBaseReader::open(write(dir_, "x.kld", bytes));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, LogitsCode::trailing_bytes);
    EXPECT_EQ(r.error().offset, full);
}

TEST_F(KldBase, RejectsATokenOutsideTheVocabulary) {
    auto run = make_run(4, 3, 1, 1, 1);
    run.tokens[2] = 3;
    const auto r = KldBaseReader::open(write(dir_, "x.kld", base_file(run)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, LogitsCode::shape_mismatch);
    EXPECT_EQ(r.error().offset, 20u + 2 * 4);
}

TEST_F(KldBase, RejectsAContextWithNoScoredPosition) {
    auto bytes = base_file(make_run(4, 3, 1, 1, 1));
    const std::int32_t two = 2;
    std::memcpy(&bytes[8], &two, 4);
    const auto r = KldBaseReader::open(write(dir_, "x.kld", bytes));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, LogitsCode::empty);
}

TEST_F(KldBase, HugeHeaderSizesAreRejectedBeforeAllocating) {
    // n_ctx and n_chunk of 2^31-1 declare about 2^64 bytes: rejected from the header alone
    auto bytes = base_file(make_run(4, 3, 1, 1, 1));
    const std::int32_t big = 0x7FFFFFFF;
    std::memcpy(&bytes[8], &big, 4);
    std::memcpy(&bytes[12], &big, 4);
    std::memcpy(&bytes[16], &big, 4);
    const auto r = KldBaseReader::open(write(dir_, "x.kld", bytes));
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().code == LogitsCode::too_large || r.error().code == LogitsCode::truncated);
}
