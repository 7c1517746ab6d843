#include "forward/ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "gguf/data/quantize.hpp"

namespace gguf::forward::ops {

Matrix matmul(std::span<const float> w, std::size_t w_rows, const Matrix& x) {
    Matrix out(x.rows, w_rows);
    for (std::size_t t = 0; t < x.rows; ++t) {
        const auto xt = x.row(t);
        auto ot = out.row(t);
        for (std::size_t r = 0; r < w_rows; ++r) {
            const float* wr = w.data() + r * x.cols;
            double sum = 0;
            for (std::size_t c = 0; c < x.cols; ++c) sum += static_cast<double>(wr[c]) * static_cast<double>(xt[c]);
            ot[r] = static_cast<float>(sum);
        }
    }
    return out;
}

Matrix rms_norm(const Matrix& x, double eps, std::span<const float> weight) {
    Matrix out(x.rows, x.cols);
    for (std::size_t t = 0; t < x.rows; ++t) {
        const auto xt = x.row(t);
        double sum = 0;
        for (float e : xt) sum += static_cast<double>(e) * static_cast<double>(e);
        const double inv = 1.0 / std::sqrt(sum / static_cast<double>(x.cols) + eps);
        auto ot = out.row(t);
        for (std::size_t c = 0; c < x.cols; ++c) {
            const double n = static_cast<double>(xt[c]) * inv;
            ot[c] = static_cast<float>(weight.empty() ? n : n * static_cast<double>(weight[c]));
        }
    }
    return out;
}

void rope(Matrix& x, std::size_t head_dim, std::size_t n_rot, double freq_base, double freq_scale, RopeMode mode) {
    const std::size_t n_heads = x.cols / head_dim;
    const std::size_t half = n_rot / 2;
    for (std::size_t t = 0; t < x.rows; ++t) {
        const double pos = static_cast<double>(t);
        auto row = x.row(t);
        for (std::size_t h = 0; h < n_heads; ++h) {
            float* head = row.data() + h * head_dim;
            for (std::size_t i = 0; i < half; ++i) {
                const double theta =
                    pos * freq_scale * std::pow(freq_base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
                const double c = std::cos(theta), s = std::sin(theta);
                const std::size_t a = mode == RopeMode::normal ? 2 * i : i;
                const std::size_t b = mode == RopeMode::normal ? 2 * i + 1 : i + half;
                const double x0 = head[a], x1 = head[b];
                head[a] = static_cast<float>(x0 * c - x1 * s);
                head[b] = static_cast<float>(x0 * s + x1 * c);
            }
        }
    }
}

Matrix attention(const Matrix& q, const Matrix& k, const Matrix& v, std::size_t n_head, std::size_t n_head_kv,
                 std::size_t head_dim, double kq_scale) {
    const std::size_t n_tokens = q.rows;
    const std::size_t group = n_head / n_head_kv;
    Matrix out(n_tokens, n_head * head_dim);
    std::vector<double> score(n_tokens);
    for (std::size_t h = 0; h < n_head; ++h) {
        const std::size_t kvh = h / group;
        for (std::size_t i = 0; i < n_tokens; ++i) {
            const float* qi = q.row(i).data() + h * head_dim;
            double max = -std::numeric_limits<double>::infinity();
            for (std::size_t j = 0; j <= i; ++j) {  // causal: keys 0..i
                const float* kj = k.row(j).data() + kvh * head_dim;
                double dot = 0;
                for (std::size_t d = 0; d < head_dim; ++d)
                    dot += static_cast<double>(qi[d]) * static_cast<double>(kj[d]);
                score[j] = dot * kq_scale;
                max = std::max(max, score[j]);
            }
            double sum = 0;
            for (std::size_t j = 0; j <= i; ++j) sum += (score[j] = std::exp(score[j] - max));
            float* oi = out.row(i).data() + h * head_dim;
            for (std::size_t d = 0; d < head_dim; ++d) {
                double acc = 0;
                for (std::size_t j = 0; j <= i; ++j)
                    acc += score[j] / sum * static_cast<double>(v.row(j)[kvh * head_dim + d]);
                oi[d] = static_cast<float>(acc);
            }
        }
    }
    return out;
}

Matrix swiglu(const Matrix& gate, const Matrix& up) {
    Matrix out(gate.rows, gate.cols);
    for (std::size_t i = 0; i < gate.v.size(); ++i) {
        const double g = gate.v[i];
        out.v[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * static_cast<double>(up.v[i]));
    }
    return out;
}

Matrix add(const Matrix& a, const Matrix& b) {
    Matrix out(a.rows, a.cols);
    for (std::size_t i = 0; i < a.v.size(); ++i) out.v[i] = a.v[i] + b.v[i];
    return out;
}

namespace {

// Q8_K from its definition: per 256 elements, the element of largest magnitude maps to -127.
void q8_k_round(std::span<float> block) {
    float max = 0, amax = 0;
    for (float v : block) {
        if (std::fabs(v) > amax) {
            amax = std::fabs(v);
            max = v;
        }
    }
    if (amax == 0) {
        std::fill(block.begin(), block.end(), 0.0f);
        return;
    }
    const float iscale = -127.0f / max;
    const float d = 1.0f / iscale;
    for (float& v : block) {
        const float q = std::min(127.0f, std::nearbyint(iscale * v));  // ties to even, as ggml's nearest_int
        v = d * q;
    }
}

}  // namespace

bool round_like_vec_dot(Matrix& x, GgmlType weight_type) {
    switch (weight_type) {
        case GgmlType::F16:
            for (float& v : x.v) v = fp16_to_fp32(fp32_to_fp16(v));
            return true;
        case GgmlType::Q8_0: {
            if (x.cols % 32 != 0) return false;
            for (std::size_t r = 0; r < x.rows; ++r) {
                auto row = x.row(r);
                auto q = quantize(GgmlType::Q8_0, row, row.size());
                if (!q) return false;
                auto back = dequantize(GgmlType::Q8_0, *q, row.size());
                if (!back) return false;
                std::copy(back->begin(), back->end(), row.begin());
            }
            return true;
        }
        case GgmlType::TQ1_0:
        case GgmlType::TQ2_0:
            if (x.cols % 256 != 0) return false;
            for (std::size_t b = 0; b < x.v.size(); b += 256) q8_k_round(std::span<float>(x.v).subspan(b, 256));
            return true;
        default:
            return false;
    }
}

void scale(Matrix& x, float s) {
    for (float& e : x.v) e *= s;
}

}  // namespace gguf::forward::ops
