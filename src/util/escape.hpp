// Text from a file (keys, values, tensor names, paths) on its way into something people read. One
// function per output kind; each is applied once, where that output is written.
//
// Common to all: every byte of a sequence that is not valid UTF-8, every C0 control character
// (newline and carriage return included), DEL and every C1 control (U+0080-U+009F) becomes \xNN
// (for C1, the two bytes of its encoding). Nothing is dropped, and nothing can move the cursor,
// recolour the terminal, start a new line or a new table row.
#pragma once

#include <string>
#include <string_view>

namespace gguf::util {

// For a terminal: the common rule above.
std::string terminal_safe(std::string_view text);

// For a Markdown table cell: terminal_safe, then | ` < > \ * _ [ ] escaped so that the cell
// stays one cell of plain text.
std::string markdown_cell(std::string_view text);

// For a Markdown code span (`...`) in a table cell: terminal_safe, then | as \| (a table would split
// on it even inside a code span) and ` as \x60 (a code span has no escapes: it would end there).
std::string markdown_code(std::string_view text);

// For XML character data and attribute values: terminal_safe (XML 1.0 forbids most control
// characters, even as references), then & < > " ' as entities.
std::string xml_text(std::string_view text);

// For XML element content that is several lines (a log excerpt): as xml_text, but newlines and tabs
// stay (they are character data there, not structure).
std::string xml_content(std::string_view text);

}  // namespace gguf::util
