// A set of names seen so far (keys, tensor names), for the reader's duplicate checks (internal).
// Open addressing in one flat table: no allocation per name, unlike std::unordered_set's nodes.
// The hash is seeded per process, so a file cannot be crafted to make every name collide.
#pragma once

#include <sys/random.h>

#include <cstdint>
#include <string_view>
#include <vector>
// xxHash compiled in as header-only code (XXH_INLINE_ALL): the core library links no hashing library.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace gguf {

class NameSet {
public:
    // Room for `n` names before the table first grows.
    explicit NameSet(std::size_t n = 0) { rehash(capacity_for(n)); }

    // Insert `name` (a view that must outlive the set); false if it was already there.
    bool insert(std::string_view name) {
        if (2 * (size_ + 1) > slots_.size()) rehash(2 * slots_.size());
        const auto h = hash(name);
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            auto& s = slots_[i];
            if (s.data == nullptr) {
                s = Slot{name.data() != nullptr ? name.data() : "", name.size(), h};
                ++size_;
                return true;
            }
            if (s.hash == h && std::string_view(s.data, s.size) == name) return false;
        }
    }

private:
    struct Slot {
        const char* data = nullptr;  // nullptr: empty
        std::size_t size = 0;
        std::uint64_t hash = 0;
    };

    static std::uint64_t seed() {
        // From getrandom(2): std::random_device would probe the CPU (CPUID) first, at a cost on
        // a virtual machine. Without entropy (a very early boot) the stack's address still varies.
        static const std::uint64_t s = [] {
            std::uint64_t v = 0;
            if (getrandom(&v, sizeof v, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof v)) {
                v = reinterpret_cast<std::uintptr_t>(&v) * 0x9E3779B97F4A7C15ULL;
            }
            return v;
        }();
        return s;
    }
    static std::uint64_t hash(std::string_view name) { return XXH3_64bits_withSeed(name.data(), name.size(), seed()); }

    static std::size_t capacity_for(std::size_t n) {
        std::size_t c = 16;
        while (c < 2 * n) c *= 2;
        return c;
    }

    void rehash(std::size_t capacity) {
        std::vector<Slot> old(capacity);
        old.swap(slots_);
        mask_ = capacity - 1;
        for (const auto& s : old) {
            if (s.data == nullptr) continue;
            std::size_t i = s.hash & mask_;
            while (slots_[i].data != nullptr) i = (i + 1) & mask_;
            slots_[i] = s;
        }
    }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace gguf
