// matrix.json back into a Matrix, and shards' matrices into the one an unsharded run writes.
#include <fmt/format.h>
#include <algorithm>

#include "describe/description.hpp"
#include "matrix.hpp"

namespace gguf::crossval {
namespace {

using Json = nlohmann::json;

constexpr ReaderVerdict kVerdicts[] = {ReaderVerdict::accept, ReaderVerdict::reject, ReaderVerdict::crash,
                                       ReaderVerdict::timeout, ReaderVerdict::unavailable};

// A name written by put_name (matrix_report.cpp): its bytes from key + "_hex" when present.
std::string get_name(const Json& j, const std::string& key) {
    const auto hex = j.find(key + "_hex");
    if (hex == j.end()) return j.at(key).get<std::string>();
    const auto digits = hex->get<std::string>();
    if (digits.size() % 2 != 0) throw std::invalid_argument(key + "_hex: an odd number of hex digits");
    std::string out;
    for (std::size_t i = 0; i < digits.size(); i += 2) {
        std::size_t used = 0;
        const auto byte = std::stoul(digits.substr(i, 2), &used, 16);
        if (used != 2) throw std::invalid_argument(key + "_hex: not hex digits");
        out += static_cast<char>(byte);
    }
    return out;
}

std::vector<Note> notes_from(const Json& texts, const Json& kinds) {
    if (texts.size() != kinds.size()) throw std::invalid_argument("notes and note kinds differ in number");
    std::vector<Note> out;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto name = kinds.at(i).get<std::string>();
        const auto kind = note_kind_from_name(name);
        if (!kind) throw std::invalid_argument(fmt::format("unknown note kind '{}'", name));
        out.push_back({*kind, texts.at(i).get<std::string>()});
    }
    return out;
}

Cell cell_from_json(const Json& j) {
    Cell c;
    const auto verdict = j.at("verdict").get<std::string>();
    const auto* v = std::find_if(std::begin(kVerdicts), std::end(kVerdicts),
                                 [&](ReaderVerdict r) { return reader_verdict_name(r) == verdict; });
    if (v == std::end(kVerdicts)) throw std::invalid_argument(fmt::format("unknown verdict '{}'", verdict));
    c.verdict = *v;
    c.reason = j.at("code_or_message").get<std::string>();
    if (!j.at("wrong").is_null()) c.wrong = j.at("wrong").get<bool>();
    c.documented = j.value("documented", false);
    for (const auto& d : j.at("details")) {
        c.mismatches.push_back({d.at("field").get<std::string>(), d.at("ours"), d.at("theirs")});
    }
    c.notes = notes_from(j.at("notes"), j.at("note_kinds"));
    if (!j.at("data_offset").is_null()) c.data_offset = j.at("data_offset").get<std::uint64_t>();
    c.duration_ms = j.at("duration_ms").get<double>();
    return c;
}

MatrixFile file_from_json(const Json& j, const std::vector<ReaderInfo>& readers) {
    MatrixFile f;
    f.index = j.at("index").get<std::size_t>();
    f.file = get_name(j, "name");
    if (!j.at("valid").is_null()) f.valid = j.at("valid").get<bool>();
    if (!j.at("expected_code").is_null()) f.expected_code = j.at("expected_code").get<std::string>();
    f.category = j.at("category").get<std::string>();
    f.description = j.at("description").get<std::string>();
    f.reference_expect = j.value("reference_expect", std::string());
    for (const auto& r : readers) f.cells.push_back(cell_from_json(j.at("readers").at(r.name)));
    return f;
}

// One reader in both shards: the same name, and the same version where both found it.
bool same_reader(const ReaderInfo& a, const ReaderInfo& b) {
    if (a.name != b.name) return false;
    return !a.available || !b.available || (a.version == b.version && a.normalisations == b.normalisations);
}

}  // namespace

gguf::Result<Matrix, SummaryError> matrix_from_json(const nlohmann::json& json) {
    if (!json.is_object() || json.value("schema", "") != "gguf-crossval-matrix") {
        return SummaryError{"matrix.json: not a gguf-crossval-matrix document"};
    }
    Matrix m;
    std::string where = "the header";
    try {
        if (json.at("version").get<int>() != 1) throw std::invalid_argument("version is not 1");
        m.corpus_dir = get_name(json, "corpus");
        m.has_manifest = json.at("has_manifest").get<bool>();
        m.timestamp = json.at("timestamp").get<std::string>();
        m.duration_s = json.at("duration_s").get<double>();
        if (json.contains("shard")) {
            m.shard = Shard{json["shard"].at("index").get<std::size_t>(), json["shard"].at("count").get<std::size_t>()};
        }
        where = "the readers";
        for (const auto& r : json.at("readers")) {
            ReaderInfo info;
            info.name = r.at("name").get<std::string>();
            info.version = r.at("version").get<std::string>();
            info.available = r.at("available").get<bool>();
            info.why_unavailable = r.value("why_unavailable", std::string());
            info.normalisations = notes_from(r.at("normalisations"), r.at("normalisation_kinds"));
            m.readers.push_back(std::move(info));
        }
        if (m.readers.size() != kReaderCount) {
            throw std::invalid_argument(fmt::format("{} readers, not {}", m.readers.size(), std::size_t{kReaderCount}));
        }
        for (const auto& f : json.at("files")) {
            where = fmt::format("file {}", m.files.size());
            m.files.push_back(file_from_json(f, m.readers));
        }
    } catch (const std::exception& e) {
        return SummaryError{fmt::format("matrix.json: {}: {}", where, e.what())};
    }
    count_totals(m);
    return m;
}

gguf::Result<Matrix, SummaryError> merge_matrices(std::vector<Matrix> shards) {
    if (shards.empty()) return SummaryError{"no matrix to merge"};
    Matrix out = std::move(shards.front());
    out.shard.reset();
    for (std::size_t s = 1; s < shards.size(); ++s) {
        auto& m = shards[s];
        if (m.corpus_dir != out.corpus_dir || m.has_manifest != out.has_manifest) {
            return SummaryError{
                fmt::format("shard {} ran on another corpus ('{}', not '{}')", s + 1, m.corpus_dir, out.corpus_dir)};
        }
        for (std::size_t r = 0; r < out.readers.size(); ++r) {
            if (!same_reader(m.readers[r], out.readers[r])) {
                return SummaryError{fmt::format("shard {} ran another {} ('{}', not '{}')", s + 1, out.readers[r].name,
                                                m.readers[r].version, out.readers[r].version)};
            }
            // As one run says: unavailable only if it ran on no file of any shard.
            if (m.readers[r].available && !out.readers[r].available) out.readers[r] = m.readers[r];
        }
        out.timestamp = std::min(out.timestamp, m.timestamp);
        out.duration_s += m.duration_s;
        std::move(m.files.begin(), m.files.end(), std::back_inserter(out.files));
    }
    std::sort(out.files.begin(), out.files.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    for (std::size_t i = 1; i < out.files.size(); ++i) {
        if (out.files[i].index == out.files[i - 1].index) {
            return SummaryError{fmt::format("file index {} ({}) is in two shards", out.files[i].index,
                                            describe::render_string(out.files[i].file))};
        }
    }
    count_totals(out);
    return out;
}

}  // namespace gguf::crossval
