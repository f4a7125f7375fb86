// libFuzzer target for the wal2json decoder. The input has the format of the recordings in
// tests/data/wal2json (8-byte WAL start, 4-byte length, payload, repeated), so the recordings
// are the seed corpus and the fuzzer explores sequences of messages, not just single ones. Each
// input is decoded twice: without a catalog, and with one that describes every table with an
// extra column (as if an UPDATE had left out an unchanged TOAST value).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "framed_messages.h"
#include "walbus/decoders/wal2json_decoder.h"

namespace {

class WiderCatalog final : public walbus::decoders::RelationCatalog {
public:
    std::shared_ptr<const walbus::Relation>
    find(std::string_view schema, std::string_view table,
         std::span<const walbus::decoders::MessageColumn> seen) override {
        auto rel = std::make_shared<walbus::Relation>();
        rel->schema.assign(schema);
        rel->table.assign(table);
        rel->identity = (seen.size() & 1) != 0 ? walbus::ReplicaIdentity::Full
                                               : walbus::ReplicaIdentity::Default;
        for (std::size_t i = 0; i < seen.size(); ++i) {
            walbus::Column& c = rel->columns.emplace_back();
            c.name.assign(seen[i].name);
            c.type_oid = seen[i].type_oid;
            c.key = i == 0 || rel->identity == walbus::ReplicaIdentity::Full;
        }
        walbus::Column& extra = rel->columns.emplace_back();
        extra.name = "toasted";
        extra.type_oid = 25;
        return rel;
    }
};

void run(std::string_view input, walbus::decoders::RelationCatalog* catalog) {
    walbus::decoders::Wal2jsonDecoder decoder(catalog);
    walbus::fuzz::decode_framed(input, decoder);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    WiderCatalog catalog;
    run(input, nullptr);
    run(input, &catalog);
    return 0;
}
