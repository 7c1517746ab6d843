// fuzz_logits: the logits files `crossval --against` reads, JSON and binary (GLOG), told apart by
// the magic. A file that parses is a non-empty matrix, writes back in both formats and reads back to
// the same bits (JSON: any NaN stays a NaN), and compared with itself shows no divergence.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crossval/logits.hpp"
#include "fuzz_check.hpp"

namespace {

using gguf::crossval::Logits;

bool same_bits(const Logits& a, const Logits& b) {
    return a.n_vocab == b.n_vocab && a.values.size() == b.values.size() &&
           (a.values.empty() || std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0);
}

// The JSON writer spells every NaN "nan" (docs/logits-format.md), so a NaN's sign and payload do not
// survive it: the same bits, but any NaN for any NaN.
bool same_values_json(const Logits& a, const Logits& b) {
    if (a.n_vocab != b.n_vocab || a.values.size() != b.values.size()) return false;
    for (std::size_t i = 0; i < a.values.size(); ++i) {
        const float x = a.values[i], y = b.values[i];
        if (std::isnan(x) ? !std::isnan(y) : std::memcmp(&x, &y, sizeof x) != 0) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace cv = gguf::crossval;
    const gguf::Bytes input(reinterpret_cast<const std::byte*>(data), size);
    auto parsed = cv::parse_logits(input);
    if (!parsed) {
        FUZZ_CHECK(!parsed.error().message.empty());
        return 0;
    }
    const Logits& l = *parsed;
    FUZZ_CHECK(l.n_vocab > 0 && l.n_positions() > 0 && l.values.size() == l.n_positions() * l.n_vocab);
    FUZZ_CHECK(l.tokens.empty() || l.tokens.size() == l.n_positions());

    auto json = cv::parse_logits_json(cv::to_json_text(l));
    FUZZ_CHECK(json.ok());
    FUZZ_CHECK(same_values_json(l, *json) && json->tokens == l.tokens);
    const auto bytes = cv::to_binary(l);
    auto binary = cv::parse_logits_binary(bytes);
    FUZZ_CHECK(binary.ok());
    FUZZ_CHECK(same_bits(l, *binary));

    auto metrics = cv::compare_logits(l, l);
    FUZZ_CHECK(metrics.ok());
    FUZZ_CHECK(metrics->size() == l.n_positions());
    FUZZ_CHECK(!cv::first_divergence(*metrics).has_value());
    return 0;
}
