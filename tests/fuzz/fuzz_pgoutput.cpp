// libFuzzer target for the pgoutput decoder. The input has the format of the recordings in
// tests/data/pgoutput (8-byte WAL start, 4-byte length, payload, repeated), so the recordings
// are the seed corpus and the fuzzer explores sequences of messages, not just single ones.
//
// Protocol version 2 stream blocks are handled as the pipeline handles them: the messages of a
// block are staged per toplevel xid, dropped at Stream Abort (only the subtransaction's changes
// when subxid != xid), and replayed through the decoder at Stream Commit; the changes of the
// replay are reported as the Stream Commit's, so decode_framed checks them like any others.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framed_messages.h"
#include "walbus/decoders/pgoutput_decoder.h"

namespace {

using walbus::Lsn;
using walbus::Result;
using walbus::Xid;
using walbus::decoders::DecodedMessage;
using walbus::decoders::MessageKind;

class StagingDecoder {
public:
    Result<void> decode(std::string_view message, Lsn wal_start, DecodedMessage& out) {
        auto result = decoder_.decode(message, wal_start, out);
        if (!result) {
            staged_.clear(); // the server would resend everything unconfirmed
            return result;
        }
        switch (out.kind) {
        case MessageKind::Streamed:
            staged_[out.xid].push_back(
                {out.subxid, out.streamed_kind, wal_start, std::string(out.streamed)});
            break;
        case MessageKind::StreamAbort: {
            auto it = staged_.find(out.xid);
            if (it == staged_.end()) break;
            if (out.subxid == out.xid) {
                staged_.erase(it);
                break;
            }
            std::erase_if(it->second, [&](const Staged& s) {
                return s.subxid == out.subxid && s.kind != MessageKind::Relation &&
                       s.kind != MessageKind::Type && s.kind != MessageKind::Origin;
            });
            break;
        }
        case MessageKind::StreamCommit: return replay(out);
        default: break;
        }
        return {};
    }

    [[nodiscard]] bool in_transaction() const { return decoder_.in_transaction(); }

private:
    struct Staged {
        Xid subxid;
        MessageKind kind;
        Lsn wal_start;
        std::string bytes;
    };

    Result<void> replay(DecodedMessage& out) {
        std::vector<Staged> messages;
        if (auto it = staged_.find(out.xid); it != staged_.end()) {
            messages = std::move(it->second);
            staged_.erase(it);
        }
        DecodedMessage m;
        if (auto ok =
                decoder_.begin_replay(out.xid, out.commit_lsn, out.end_lsn, out.commit_time_us, m);
            !ok) {
            return fail_replay(ok, out);
        }
        out.changes.clear();
        for (const auto& s : messages) {
            if (auto ok = decoder_.decode(s.bytes, s.wal_start, m); !ok) {
                return fail_replay(ok, out);
            }
            std::move(m.changes.begin(), m.changes.end(), std::back_inserter(out.changes));
        }
        return decoder_.end_replay(m);
    }

    Result<void> fail_replay(const Result<void>& error, DecodedMessage& out) {
        decoder_.reset_transaction();
        staged_.clear();
        out.changes.clear();
        return error;
    }

    walbus::decoders::PgoutputDecoder decoder_;
    std::map<Xid, std::vector<Staged>> staged_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    StagingDecoder decoder;
    walbus::fuzz::decode_framed(std::string_view(reinterpret_cast<const char*>(data), size),
                                decoder);
    return 0;
}
