// Independent peer readers: gguf-py's GGUFReader and @huggingface/gguf. Each runs through a small
// adapter script (tools/peers/) in a child process and prints one JSON object in the form of the
// probe's header mode, so description_from_header turns it into a Description like the reference's.
// As with the reference, nothing here parses GGUF: it finds the peers, runs them and reads JSON.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "reference.hpp"

namespace gguf::reference {

inline constexpr std::string_view kHfGgufVersion = "0.4.6";  // @huggingface/gguf, as scripts/fetch-peers pins it

struct Peer {
    std::string name;     // "gguf-py", "@huggingface/gguf"
    std::string version;  // "gguf 0.19.0 (gguf-py of node-llama-cpp 3.21.1, commit 80fb11a)", "0.4.6"
    bool available = false;
    std::string why_unavailable;    // actionable: what is missing and how to install it
    std::filesystem::path program;  // the interpreter
    std::vector<std::string> args;  // everything before the file: the adapter script, the library
    std::vector<std::pair<std::string, std::string>> env;
};

// gguf-py from $GGUF_CROSSVAL_GGUF_PY (the directory holding the `gguf` package), else the pinned
// reference's src/gguf-py; run by $GGUF_CROSSVAL_PYTHON, else Debian's /usr/bin/python3 (with
// python3-numpy).
Peer locate_gguf_py();

// @huggingface/gguf from $GGUF_CROSSVAL_HF_GGUF (the package's directory), else
// cache_root()/npm-peers/node_modules/@huggingface/gguf; its package.json must say kHfGgufVersion.
// Run by $GGUF_CROSSVAL_NODE, else `node` from PATH.
Peer locate_hf_gguf();

// Run the peer's adapter on one file. ok: the reader accepted the file and payload holds the
// description. Otherwise failure is invalid_gguf (the reader threw: rejected, message = what it
// threw), abort_or_signal (died of a signal or exited without printing a JSON object), timeout, or
// reference_unavailable (did not start, or the adapter could not load the library).
StageOutcome run_peer(const Peer& peer, const std::filesystem::path& file, const RunOptions& options);

// The same for several files in one process (the adapters print one line per file, flushed as
// each file is done), which saves an interpreter start per file. options.timeout applies to each
// process. When the process dies or times out, the files it finished keep their results; the file
// it was on is run again alone (so its verdict, crash or timeout, is its own), and the rest go on
// in a new process. Results are in the order of `files`.
std::vector<StageOutcome> run_peer_batch(const Peer& peer, const std::vector<std::filesystem::path>& files,
                                         const RunOptions& options);

}  // namespace gguf::reference
