// The public surface of the gguf core library (target gguf::gguf): format, types, values, reader,
// writer. The data layer (hashing, quantizers) is gguf/data.hpp, target gguf::data.
#pragma once

#include "gguf/error.hpp"
#include "gguf/format.hpp"
#include "gguf/reader.hpp"
#include "gguf/types.hpp"
#include "gguf/value.hpp"
#include "gguf/writer.hpp"
