// Write a small GGUF file with the core library's writer, read it back with its reader, and print
// what it holds: the whole core API an adopter needs, in one page.
#include <cstdio>
#include <gguf/gguf.hpp>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: gguf-core-usage OUT.gguf\n");
        return 2;
    }
    gguf::Writer writer;
    writer.add("general.architecture", gguf::Value::string("example"));
    writer.add("example.answer", gguf::Value::u32(42));
    std::vector<std::byte> data(4 * sizeof(float));  // an F32 tensor of 4 zeros
    if (auto added = writer.add_tensor("weights", 0 /* F32 */, {4}, std::move(data)); !added) {
        std::fprintf(stderr, "add_tensor: %s\n", added.error().message.c_str());
        return 1;
    }
    if (auto written = writer.write_file(argv[1]); !written) {
        std::fprintf(stderr, "write: %s\n", written.error().message.c_str());
        return 1;
    }

    auto file = gguf::open(argv[1]);
    if (!file) {
        const auto& e = file.error();
        std::fprintf(stderr, "[%s] at offset %llu: %s\n", std::string(gguf::code_name(e.code)).c_str(),
                     static_cast<unsigned long long>(e.offset), e.message.c_str());
        return 1;
    }
    std::printf("GGUF v%u, %zu key-values, %zu tensors\n", file->version(), file->kvs().size(), file->tensors().size());
    for (const auto& kv : file->kvs()) std::printf("key %.*s\n", static_cast<int>(kv.key.size()), kv.key.data());
    for (const auto& t : file->tensors()) {
        std::printf("tensor %.*s, %llu bytes\n", static_cast<int>(t.name.size()), t.name.data(),
                    static_cast<unsigned long long>(t.size));
    }
    return 0;
}
