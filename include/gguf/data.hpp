// The public surface of the gguf data layer (target gguf::data): tensor-data hashing and the
// quantizers and dequantizers. Built on the core (gguf/gguf.hpp).
#pragma once

#include "gguf/data/hash.hpp"
#include "gguf/data/quantize.hpp"
#include "gguf/gguf.hpp"
