// Differences between llama.cpp releases that the probe papers over, so that it compiles against a
// user's own build as well as the pinned one. Each helper picks, at compile time, the member that
// the headers at hand declare.
#pragma once

#include <utility>

#include "llama.h"

namespace probe::compat {

// Memory-mapped loading: older releases have `bool use_mmap`, newer ones `load_mode` (1 = mmap).
template <class P>
auto set_mmap(P& p, int) -> decltype(p.use_mmap = true, void()) { p.use_mmap = true; }
template <class P>
auto set_mmap(P& p, long) -> decltype(p.load_mode, void()) { p.load_mode = static_cast<decltype(p.load_mode)>(1); }
template <class P>
void set_mmap(P& p) { set_mmap(p, 0); }

}  // namespace probe::compat
