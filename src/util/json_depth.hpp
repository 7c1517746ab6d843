// A guard for JSON from outside (manifests, logits files, a reference's output): nlohmann::json
// parses, copies and prints recursively, so 100,000 nested brackets would overflow the stack.
// Checked on the text, without recursion, before any parser sees it.
#pragma once

#include <cstddef>
#include <string_view>

namespace gguf::util {

// Deep enough for every format we read (the corpus manifest, describing GGUF arrays nested to the
// reader's limit, reaches 70 levels), shallow enough for recursion to be harmless.
inline constexpr std::size_t kMaxJsonDepth = 512;

// True when no array or object in `text` is nested deeper than max_depth (brackets inside strings
// do not count). Says nothing else about validity: the parser still judges that.
bool json_depth_within(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

}  // namespace gguf::util
