// fuzz_reader: parse arbitrary bytes, then read everything the File hands out, through the public
// API and through the neutral description (and its JSON) that cross-validation compares.
#include <cstddef>
#include <cstdint>

#include "describe/description.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const gguf::Bytes input(reinterpret_cast<const std::byte*>(data), size);
    auto file = gguf::parse(input);
    if (!file) {
        fuzz::check_error(file.error(), input);
        return 0;
    }
    fuzz::walk_file(*file, input);
    const auto d = gguf::describe::describe(*file);
    FUZZ_CHECK(d.kv.size() == file->kvs().size());
    FUZZ_CHECK(d.tensors.size() == file->tensors().size());
    const auto text = gguf::describe::to_json(d).dump();  // throws (and so crashes) on invalid UTF-8
    FUZZ_CHECK(!text.empty());
    return 0;
}
