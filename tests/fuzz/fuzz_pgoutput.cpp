// libFuzzer target for the pgoutput decoder. The input has the format of the recordings in
// tests/data/pgoutput (8-byte WAL start, 4-byte length, payload, repeated), so the recordings
// are the seed corpus and the fuzzer explores sequences of messages, not just single ones.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "walbus/core/change_json.h"
#include "walbus/decoders/pgoutput_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    walbus::decoders::PgoutputDecoder decoder;
    walbus::decoders::DecodedMessage message;
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
        auto result = decoder.decode(input.substr(pos, n), walbus::Lsn{lsn}, message);
        pos += n;
        if (!result) {
            if (decoder.in_transaction() || result.error().message.empty()) {
                std::abort(); // an error must reset the transaction and say what happened
            }
            continue;
        }
        for (const auto& change : message.changes) {
            json.clear();
            walbus::append_change_json(json, change);
        }
    }
    return 0;
}
