#pragma once

// The loop both decoder fuzz targets share. The input has the format of the recordings in
// tests/data/{pgoutput,wal2json} (8-byte WAL start, 4-byte length, payload, repeated), so the
// recordings are the seed corpus and the fuzzer explores sequences of messages. Aborts when a
// decoder breaks its contract: an error must reset the open transaction, say what happened and
// leave no changes; every change must have one value per column of its relation.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "walbus/core/change_json.h"
#include "walbus/decoders/decoded_message.h"

namespace walbus::fuzz {

template <typename Decoder> void decode_framed(std::string_view input, Decoder& decoder) {
    decoders::DecodedMessage message;
    std::string json;
    std::size_t pos = 0;
    while (input.size() - pos >= 12) {
        std::uint64_t lsn = 0;
        std::uint32_t len = 0;
        for (int i = 0; i < 8; ++i)
            lsn = (lsn << 8) | static_cast<unsigned char>(input[pos + i]);
        for (int i = 8; i < 12; ++i)
            len = (len << 8) | static_cast<unsigned char>(input[pos + i]);
        pos += 12;
        std::size_t n = std::min<std::size_t>(len, input.size() - pos);
        auto result = decoder.decode(input.substr(pos, n), Lsn{lsn}, message);
        pos += n;
        if (!result) {
            if (decoder.in_transaction() || result.error().message.empty() ||
                !message.changes.empty()) {
                std::abort();
            }
            continue;
        }
        for (const auto& change : message.changes) {
            if (change.op != Operation::Message &&
                (!change.relation ||
                 (change.after.present() &&
                  change.after.values.size() != change.relation->columns.size()) ||
                 (change.before.present() &&
                  change.before.values.size() != change.relation->columns.size()))) {
                std::abort();
            }
            json.clear();
            append_change_json(json, change);
        }
    }
}

} // namespace walbus::fuzz
