// The built-in forward pass on hostile files: whatever the bytes, Model::load either refuses with an
// error value or gives a model whose run() on the first and last token returns finite-sized logits
// or an error value; never a crash, an out-of-bounds access or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "forward/model.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto file = gguf::parse({reinterpret_cast<const std::byte*>(data), size});
    if (!file) return 0;
    auto model = gguf::forward::Model::load(*file);
    if (!model) {
        FUZZ_CHECK(!model.error().message.empty());
        return 0;
    }
    const auto& h = model->hparams();
    // Keep one input's work small: the activations alone are n_tokens * (n_vocab + n_ff) floats.
    if (static_cast<std::uint64_t>(h.n_vocab) * h.n_layer * (h.n_embd + h.n_ff) > (std::uint64_t{1} << 26)) return 0;
    const std::vector<std::int32_t> tokens{0, static_cast<std::int32_t>(h.n_vocab - 1)};
    auto logits = model->run(tokens);
    if (logits) FUZZ_CHECK(logits->size() == tokens.size() * h.n_vocab);
    return 0;
}
