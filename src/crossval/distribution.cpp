// Distribution statistics over many positions (llama-perplexity's --kl-divergence figures and more).
#include "distribution.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gguf::crossval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The first index of the largest value (the rule llama-perplexity uses for "same top").
std::size_t argmax(std::span<const double> row) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < row.size(); ++i)
        if (row[i] > row[best]) best = i;
    return best;
}

// KL(ref || test) in nats over the entries of `ref` above its floor; never negative, inf when undefined.
double kl_divergence(const LogProbRow& ref, const LogProbRow& test) {
    double sum = 0;
    for (std::size_t i = 0; i < ref.values.size(); ++i) {
        const double lp = ref.values[i];
        if (lp > ref.floor) sum += std::exp(lp) * (lp - test.values[i]);
    }
    return std::isnan(sum) ? kInf : std::max(0.0, sum);
}

}  // namespace

std::vector<double> log_probabilities(std::span<const float> logits) {
    double m = -kInf;
    for (float v : logits) m = std::max(m, static_cast<double>(v));
    double sum = 0;
    for (float v : logits) sum += std::exp(static_cast<double>(v) - m);
    const double log_sum = std::log(sum);
    std::vector<double> out(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - m - log_sum;
    return out;
}

double percentile(std::span<const double> sorted, double fraction) {
    if (fraction <= 0) return sorted.front();
    if (fraction >= 1) return sorted.back();
    const double at = fraction * static_cast<double>(sorted.size() - 1);
    const auto i = static_cast<std::size_t>(at);
    const double f = at - static_cast<double>(i);
    return (1 - f) * sorted[i] + f * sorted[std::min(i + 1, sorted.size() - 1)];
}

Percentiles percentiles_of(std::vector<double> v) {
    Percentiles p;
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    p.min = v.front();
    p.p0_1 = percentile(v, 0.001);
    p.p1 = percentile(v, 0.01);
    p.p5 = percentile(v, 0.05);
    p.p10 = percentile(v, 0.10);
    p.p25 = percentile(v, 0.25);
    p.median = percentile(v, 0.5);
    p.p75 = percentile(v, 0.75);
    p.p90 = percentile(v, 0.90);
    p.p95 = percentile(v, 0.95);
    p.p99 = percentile(v, 0.99);
    p.p99_9 = percentile(v, 0.999);
    p.max = v.back();
    return p;
}

void DistributionAccumulator::add(const LogProbRow& ref, const LogProbRow& test, std::optional<std::uint32_t> correct) {
    const double kld = kl_divergence(ref, test);
    kld_.push_back(kld);
    sum_kld2_ += kld * kld;

    const std::size_t top_ref = argmax(ref.values), top_test = argmax(test.values);
    if (top_ref == top_test) {
        ++same_top_;
    } else if (ref.values[top_ref] - ref.values[top_test] <= top1_tie_) {
        ++near_tie_;
    } else {
        ++mismatch_;
    }

    if (correct && *correct < ref.values.size()) {
        const double lp_ref = ref.values[*correct], lp_test = test.values[*correct];
        sum_nll_ref_ -= lp_ref;
        sum_nll_test_ -= lp_test;
        const double dp = std::exp(lp_test) - std::exp(lp_ref);
        delta_p_.push_back(dp);
        sum_dp2_ += dp * dp;
    }
}

void DistributionAccumulator::add_logits(std::span<const float> ref, std::span<const float> test) {
    have_logits_ = true;
    for (std::size_t i = 0; i < ref.size() && i < test.size(); ++i) {
        const double r = ref[i], d = static_cast<double>(test[i]) - r;
        nmse_num_ += d * d;
        nmse_den_ += r * r;
    }
}

DistributionStats DistributionAccumulator::finish() const {
    DistributionStats s;
    s.n_positions = kld_.size();
    s.n_scored = delta_p_.size();
    if (s.n_positions > 0) {
        const auto n = static_cast<double>(s.n_positions);
        double sum = 0;
        for (double k : kld_) sum += k;
        s.mean_kld = sum / n;
        // llama-perplexity's standard error: sqrt((E[x^2] - E[x]^2) / (n - 1)), reported from 11 values on
        const double var = sum_kld2_ / n - s.mean_kld * s.mean_kld;
        s.mean_kld_uncertainty = var > 0 && s.n_positions > 10 ? std::sqrt(var / (n - 1)) : 0;
        s.kld = percentiles_of(kld_);
        s.n_same_top = same_top_;
        s.same_top_p = static_cast<double>(same_top_) / n;
        s.n_top1_mismatch = mismatch_;
        s.n_top1_near_tie = near_tie_;
    }
    if (s.n_scored > 0) {
        const auto n = static_cast<double>(s.n_scored);
        double sum = 0;
        for (double d : delta_p_) sum += d;
        s.mean_delta_p = sum / n;
        s.rms_delta_p = std::sqrt(sum_dp2_ / n);
        s.delta_p = percentiles_of(delta_p_);
        s.ppl_ref = std::exp(sum_nll_ref_ / n);
        s.ppl_test = std::exp(sum_nll_test_ / n);
        s.ln_ppl_ratio = (sum_nll_test_ - sum_nll_ref_) / n;
    }
    if (have_logits_) s.nmse = nmse_den_ > 0 ? nmse_num_ / nmse_den_ : (nmse_num_ > 0 ? kInf : 0.0);
    return s;
}

}  // namespace gguf::crossval
