// Test support: llama.cpp's KL-divergence base file written from the format's definition
// (docs/logits-format.md), independently of the library's reader.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

namespace testing_support {

template <class T>
void put_le(std::vector<char>& out, T v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
}

// "_logits_", i32 n_ctx, i32 n_vocab, i32 n_chunk, the tokens, then per chunk, for positions
// n_ctx/2 .. n_ctx-2, a row of 2*((n_vocab+1)/2)+4 u16: f32 scale, f32 min_log_prob, then per token
// round((logit - min_logit) / scale) (0 at or below min_logit), where min_logit = max(min, max - 16),
// scale = (max - min_logit) / 65535, min_log_prob = min_logit - max - ln sum exp(logit - max).
// `row(chunk, position)` gives the base logits of that position.
inline std::vector<char> kld_base_file(std::int32_t n_ctx, std::int32_t n_vocab, std::int32_t n_chunk,
                                       const std::vector<std::int32_t>& tokens,
                                       const std::function<const float*(int, int)>& row) {
    std::vector<char> out{'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
    put_le(out, n_ctx);
    put_le(out, n_vocab);
    put_le(out, n_chunk);
    for (auto t : tokens) put_le(out, t);
    const int words = 2 * ((n_vocab + 1) / 2) + 4;
    for (int c = 0; c < n_chunk; ++c) {
        for (int p = n_ctx / 2; p < n_ctx - 1; ++p) {
            const float* x = row(c, p);
            const float mx = *std::max_element(x, x + n_vocab);
            const float mn = std::max(*std::min_element(x, x + n_vocab), mx - 16);
            double sum = 0;
            for (int i = 0; i < n_vocab; ++i) sum += std::exp(double(x[i]) - mx);
            const float scale = (mx - mn) / 65535.f;
            put_le(out, scale);
            put_le(out, static_cast<float>(mn - mx - std::log(sum)));
            for (int i = 0; i < words - 4; ++i) {
                const bool in = i < n_vocab && x[i] > mn;
                put_le(out, static_cast<std::uint16_t>(in ? std::lround((x[i] - mn) / scale) : 0));
            }
        }
    }
    return out;
}

}  // namespace testing_support
