// Distribution statistics over many positions: what llama-perplexity --kl-divergence reports (mean KLD
// with percentiles, "same top p", delta-p of the correct token, ln(PPL ratio)), plus NMSE of the logits
// and a tie-aware top-1 agreement. Positions are added one at a time, so a long run is accumulated
// chunk by chunk: only a few numbers per position are kept, never the logits. docs/logits-format.md,
// "Distribution statistics".
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

namespace gguf::crossval {

// Order statistics of one quantity over the positions, interpolated linearly between the sorted
// values at fraction * (n - 1), as llama-perplexity does (its median is the same interpolation at 0.5).
struct Percentiles {
    double min = 0, p0_1 = 0, p1 = 0, p5 = 0, p10 = 0, p25 = 0, median = 0, p75 = 0, p90 = 0, p95 = 0, p99 = 0,
           p99_9 = 0, max = 0;
};

// The value at `fraction` (0..1) of `sorted` (ascending, non-empty), interpolated linearly.
double percentile(std::span<const double> sorted, double fraction);
Percentiles percentiles_of(std::vector<double> values);  // empty: all zero

struct DistributionStats {
    std::size_t n_positions = 0;  // positions compared (KLD, same top, top-1)
    std::size_t n_scored = 0;     // of those, positions whose correct next token is known (PPL, delta-p)
    double mean_kld = 0;
    double mean_kld_uncertainty = 0;  // standard error of the mean, 0 with 10 positions or fewer
    Percentiles kld;
    std::size_t n_same_top = 0;       // strict argmax equality, as llama-perplexity counts it
    double same_top_p = 0;            // n_same_top / n_positions
    std::size_t n_top1_mismatch = 0;  // argmaxes differ and the reference's gap between them exceeds the tolerance
    std::size_t n_top1_near_tie = 0;  // argmaxes differ within the tolerance: not a mismatch
    double mean_delta_p = 0;          // p_test(correct) - p_ref(correct), over the scored positions
    double rms_delta_p = 0;
    Percentiles delta_p;
    double ppl_ref = 0;          // exp(mean -log p_ref(correct)), llama-perplexity's PPL(base)
    double ppl_test = 0;         // exp(mean -log p_test(correct)), its PPL(Q)
    double ln_ppl_ratio = 0;     // ln(PPL(test) / PPL(ref))
    std::optional<double> nmse;  // sum (test - ref)^2 / sum ref^2 over every logit; none when a side has no logits
};

// One position, as log-probabilities (each row normalised: logsumexp = 0).
struct LogProbRow {
    std::span<const double> values;
    // Entries at or below this log-probability count as probability 0 in the KLD (llama.cpp's base file
    // keeps only log-probabilities above -16; -inf keeps everything).
    double floor = -std::numeric_limits<double>::infinity();
};

class DistributionAccumulator {
public:
    // `top1_tie`: a top-1 disagreement where the reference rates the test's choice within this many
    // nats (equivalently logits) of its own top is a near-tie, not a mismatch.
    explicit DistributionAccumulator(double top1_tie = 1e-4) : top1_tie_(top1_tie) {}

    // Adds one position. `correct`: the token that follows (index into the rows), if known. The rows
    // have the same non-zero length (precondition).
    void add(const LogProbRow& ref, const LogProbRow& test, std::optional<std::uint32_t> correct);
    // Adds the logits' contribution to NMSE (both rows raw logits of one position).
    void add_logits(std::span<const float> ref, std::span<const float> test);

    DistributionStats finish() const;
    std::size_t n_positions() const { return kld_.size(); }
    // Bytes of per-position state held: grows by two doubles a position, independent of the vocabulary.
    std::size_t bytes_held() const { return (kld_.capacity() + delta_p_.capacity()) * sizeof(double); }

private:
    double top1_tie_;
    std::vector<double> kld_, delta_p_;
    double sum_kld2_ = 0, sum_nll_ref_ = 0, sum_nll_test_ = 0, sum_dp2_ = 0;
    std::size_t same_top_ = 0, mismatch_ = 0, near_tie_ = 0;
    double nmse_num_ = 0, nmse_den_ = 0;
    bool have_logits_ = false;
};

// Log-softmax of a logits row in double, the maximum subtracted first.
std::vector<double> log_probabilities(std::span<const float> logits);

}  // namespace gguf::crossval
