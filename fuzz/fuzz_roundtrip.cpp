// fuzz_roundtrip: whatever our reader accepts, our writer can rewrite, and the rewrite reads back
// with the same version, byte order, alignment, key-values and tensors; writing that again gives
// the same bytes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.hpp"
#include "gguf/writer.hpp"

namespace {

gguf::Writer rebuild(const gguf::File& file) {
    gguf::Writer w(gguf::WriterOptions{.version = file.version(), .big_endian = file.byte_swapped()});
    for (const auto& kv : file.kvs()) w.add(std::string(kv.key), gguf::Value::from_view(kv.value));
    for (const auto& t : file.tensors()) {
        auto status = w.add_tensor(std::string(t.name), t.type, {t.dims().begin(), t.dims().end()},
                                   std::vector<std::byte>(t.data.begin(), t.data.end()));
        FUZZ_CHECK(status.ok());
    }
    return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const gguf::Bytes input(reinterpret_cast<const std::byte*>(data), size);
    auto file = gguf::parse(input);
    if (!file) return 0;
    const auto bytes = rebuild(*file).to_bytes();
    auto again = gguf::parse(bytes);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->version() == file->version());
    FUZZ_CHECK(again->byte_swapped() == file->byte_swapped());
    FUZZ_CHECK(again->alignment() == file->alignment());
    FUZZ_CHECK(again->kvs().size() == file->kvs().size());
    for (std::size_t i = 0; i < file->kvs().size(); ++i) {
        const auto& x = file->kvs()[i];
        const auto& y = again->kvs()[i];
        FUZZ_CHECK(x.key == y.key);
        FUZZ_CHECK(gguf::Value::from_view(x.value) == gguf::Value::from_view(y.value));
    }
    FUZZ_CHECK(again->tensors().size() == file->tensors().size());
    for (std::size_t i = 0; i < file->tensors().size(); ++i) {
        const auto& x = file->tensors()[i];
        const auto& y = again->tensors()[i];
        FUZZ_CHECK(x.name == y.name && x.type == y.type && x.n_dims == y.n_dims && x.ne == y.ne);
        FUZZ_CHECK(x.size == y.size);
        FUZZ_CHECK(std::equal(x.data.begin(), x.data.end(), y.data.begin(), y.data.end()));
    }
    FUZZ_CHECK(rebuild(*again).to_bytes() == bytes);
    return 0;
}
