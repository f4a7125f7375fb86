// libFuzzer target for the pgoutput decoder. The input has the format of the recordings in
// tests/data/pgoutput (8-byte WAL start, 4-byte length, payload, repeated), so the recordings
// are the seed corpus and the fuzzer explores sequences of messages, not just single ones.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "framed_messages.h"
#include "walbus/decoders/pgoutput_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    walbus::decoders::PgoutputDecoder decoder;
    walbus::fuzz::decode_framed(std::string_view(reinterpret_cast<const char*>(data), size),
                                decoder);
    return 0;
}
