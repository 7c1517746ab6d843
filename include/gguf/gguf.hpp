// The whole public surface of the gguf library.
#pragma once

#include "gguf/error.hpp"
#include "gguf/format.hpp"
#include "gguf/reader.hpp"
#include "gguf/types.hpp"
#include "gguf/value.hpp"
#include "gguf/quantize.hpp"
#include "gguf/writer.hpp"
#include "gguf/data_hash.hpp"
