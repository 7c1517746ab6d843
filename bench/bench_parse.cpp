// Metadata parse with our reader: from the file (gguf::open: map and parse, every check) and from
// a buffer already in memory (gguf::parse alone); and, on the real Llama 3 tokenizer of the pinned
// bundle, a lower bound: the file mapped and every length-prefixed field walked, nothing checked.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstring>

#include "bench_support.hpp"
#include "gguf/reader.hpp"

namespace {

void BM_ours_open(benchmark::State& state, const char* name) {
    const auto path = bench::input(state, name);
    if (path.empty()) return;
    for (auto _ : state) {
        auto file = gguf::open(path);
        if (!file) {
            state.SkipWithError(file.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(file->kvs().size() + file->tensors().size());
    }
}

// Parses the file's bytes, already in memory, once per iteration: the reader alone, no I/O.
void parse_buffer_loop(benchmark::State& state, const std::string& path) {
    const auto bytes = bench::slurp(path);
    const gguf::Bytes view(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
    for (auto _ : state) {
        auto file = gguf::parse(view);
        if (!file) {
            state.SkipWithError(file.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(file->kvs().size() + file->tensors().size());
    }
}

void BM_ours_parse_buffer(benchmark::State& state, const char* name) {
    const auto path = bench::input(state, name);
    if (!path.empty()) parse_buffer_loop(state, path);
}

// ---- the lower bound ---------------------------------------------------------------------------
// Only for a file known to be valid (the pinned bundle's): no bounds, no checks, nothing kept.

template <class T>
T take(const unsigned char*& p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
}

std::size_t scalar_size(std::uint32_t type) {
    constexpr std::size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < 13 ? sizes[type] : 0;
}

void skip_value(const unsigned char*& p, std::uint32_t type) {
    if (type == 8) {  // string
        p += take<std::uint64_t>(p);
    } else if (type == 9) {  // array
        const auto elem = take<std::uint32_t>(p);
        const auto n = take<std::uint64_t>(p);
        if (elem == 8 || elem == 9) {
            for (std::uint64_t i = 0; i < n; ++i) skip_value(p, elem);
        } else {
            p += n * scalar_size(elem);
        }
    } else {
        p += scalar_size(type);
    }
}

// Walks the header, every key-value (each string of each string array) and every tensor info.
std::uint64_t walk(const unsigned char* p) {
    p += 8;  // magic, version
    const auto n_tensors = take<std::uint64_t>(p);
    const auto n_kv = take<std::uint64_t>(p);
    const auto* start = p;
    for (std::uint64_t i = 0; i < n_kv; ++i) {
        p += take<std::uint64_t>(p);
        skip_value(p, take<std::uint32_t>(p));
    }
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
        p += take<std::uint64_t>(p);
        p += 8 * take<std::uint32_t>(p) + 4 + 8;
    }
    return static_cast<std::uint64_t>(p - start);
}

void BM_lower_bound_walk(benchmark::State& state) {
    const auto path = bench::real_vocab(state);
    if (path.empty()) return;
    for (auto _ : state) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        ::fstat(fd, &st);
        const auto size = static_cast<std::size_t>(st.st_size);
        void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (addr == MAP_FAILED) {
            state.SkipWithError("mmap failed");
            break;
        }
        benchmark::DoNotOptimize(walk(static_cast<const unsigned char*>(addr)));
        ::munmap(addr, size);
    }
}

void BM_ours_open_real_vocab(benchmark::State& state) {
    const auto path = bench::real_vocab(state);
    if (path.empty()) return;
    for (auto _ : state) {
        auto file = gguf::open(path);
        if (!file) {
            state.SkipWithError(file.error().message.c_str());
            break;
        }
        benchmark::DoNotOptimize(file->kvs().size() + file->tensors().size());
    }
}

void BM_ours_parse_buffer_real_vocab(benchmark::State& state) {
    const auto path = bench::real_vocab(state);
    if (!path.empty()) parse_buffer_loop(state, path);
}

}  // namespace

BENCHMARK_CAPTURE(BM_ours_open, large_vocab, bench::kLargeVocab)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ours_open, many_tensors, bench::kManyTensors)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ours_parse_buffer, large_vocab, bench::kLargeVocab)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_ours_parse_buffer, many_tensors, bench::kManyTensors)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_lower_bound_walk)->Name("BM_lower_bound_walk/real_vocab")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ours_open_real_vocab)->Name("BM_ours_open/real_vocab")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ours_parse_buffer_real_vocab)
    ->Name("BM_ours_parse_buffer/real_vocab")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
