// Shared by the fuzz targets: an invariant check that survives NDEBUG, and a full walk of a
// parsed file through the public API.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "gguf/reader.hpp"

namespace fuzz {

// Abort with a message when `cond` is false: libFuzzer records the input as a crash.
#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                     \
        }                                                                                     \
    } while (0)

// Read every value of a parsed file through every accessor, checking that views stay inside the
// buffer, and check the invariants the reader promises for a valid file.
void walk_file(const gguf::File& file, gguf::Bytes input);

// Check what the reader promises for a rejected file.
void check_error(const gguf::Error& error, gguf::Bytes input);

}  // namespace fuzz
