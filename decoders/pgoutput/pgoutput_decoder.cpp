#include "walbus/decoders/pgoutput_decoder.h"

#include <string>

#include "pgoutput/byte_reader.h"

namespace walbus::decoders {
namespace {

std::string_view kind_name(char kind) {
    switch (kind) {
    case 'B': return "Begin";
    case 'C': return "Commit";
    case 'O': return "Origin";
    case 'R': return "Relation";
    case 'Y': return "Type";
    case 'I': return "Insert";
    case 'U': return "Update";
    case 'D': return "Delete";
    case 'T': return "Truncate";
    case 'M': return "Message";
    case 'S': return "Stream Start";
    case 'E': return "Stream Stop";
    case 'c': return "Stream Commit";
    case 'A': return "Stream Abort";
    default: return "unknown";
    }
}

std::string hex_byte(char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto u = static_cast<unsigned char>(c);
    return std::string("0x") + kHex[u >> 4] + kHex[u & 0xf];
}

std::unexpected<Error> malformed(char kind, Lsn lsn, const std::string& what) {
    return fail(ErrorCode::Protocol, "malformed pgoutput " + std::string(kind_name(kind)) +
                                         " message at LSN " + lsn.str() + ": " + what);
}

std::unexpected<Error> truncated(char kind, Lsn lsn, const ByteReader& r, std::size_t size) {
    return malformed(kind, lsn,
                     "truncated at byte " + std::to_string(r.failed_at()) + " of " +
                         std::to_string(size));
}

// TupleData: Int16 column count, then per column 'n' | 'u' | 't' Int32 len bytes | 'b' ...
// Returns an empty string on success, or what is wrong (truncation included).
std::string read_tuple(ByteReader& r, const Relation& rel, TupleKind kind, Tuple& tuple,
                       std::size_t size) {
    auto cut = [&] {
        return "truncated at byte " + std::to_string(r.failed_at()) + " of " + std::to_string(size);
    };
    auto ncols = r.i16();
    if (!r.ok()) {
        return cut();
    }
    if (ncols < 0 || static_cast<std::size_t>(ncols) != rel.columns.size()) {
        return "tuple has " + std::to_string(ncols) + " columns but relation " + rel.schema + "." +
               rel.table + " has " + std::to_string(rel.columns.size());
    }
    tuple.kind = kind;
    tuple.values.resize(static_cast<std::size_t>(ncols));
    for (auto& value : tuple.values) {
        char marker = static_cast<char>(r.u8());
        if (!r.ok()) {
            return cut();
        }
        switch (marker) {
        case 'n':
            value.kind = ValueKind::Null;
            value.data.clear();
            break;
        case 'u':
            value.kind = ValueKind::Unchanged;
            value.data.clear();
            break;
        case 't':
        case 'b': {
            auto len = r.i32();
            if (!r.ok()) {
                return cut();
            }
            if (len < 0 || static_cast<std::size_t>(len) > r.remaining()) {
                return "column value length " + std::to_string(len) + " exceeds the " +
                       std::to_string(r.remaining()) + " bytes left";
            }
            value.kind = marker == 't' ? ValueKind::Text : ValueKind::Binary;
            value.data.assign(r.bytes(static_cast<std::size_t>(len)));
            break;
        }
        default: return "unknown tuple column kind " + hex_byte(marker);
        }
    }
    return {};
}

std::string cut_at(const ByteReader& r, std::size_t size) {
    return "truncated at byte " + std::to_string(r.failed_at()) + " of " + std::to_string(size);
}

std::string check_tuple(ByteReader& r, std::size_t size) {
    auto cut = [&] { return cut_at(r, size); };
    auto ncols = r.i16();
    if (!r.ok()) {
        return cut();
    }
    if (ncols < 0) {
        return "negative tuple column count " + std::to_string(ncols);
    }
    for (int i = 0; i < ncols; ++i) {
        char marker = static_cast<char>(r.u8());
        if (!r.ok()) {
            return cut();
        }
        switch (marker) {
        case 'n':
        case 'u': break;
        case 't':
        case 'b': {
            auto len = r.i32();
            if (!r.ok()) {
                return cut();
            }
            if (len < 0 || static_cast<std::size_t>(len) > r.remaining()) {
                return "column value length " + std::to_string(len) + " exceeds the " +
                       std::to_string(r.remaining()) + " bytes left";
            }
            r.bytes(static_cast<std::size_t>(len));
            break;
        }
        default: return "unknown tuple column kind " + hex_byte(marker);
        }
    }
    return {};
}

// The checks of a streamed message's body (after its xid): the message is well-formed, read
// without the relations it refers to (they may be described by a Relation staged before it).
// Returns an empty string when it is, or what is wrong (truncation included).
std::string check_streamed(char kind, ByteReader& r, std::size_t size) {
    auto cut = [&] { return cut_at(r, size); };
    switch (kind) {
    case 'O':
        r.u64();
        r.cstring();
        break;
    case 'R': {
        r.u32();
        r.cstring();
        r.cstring();
        auto ident = static_cast<char>(r.u8());
        auto ncols = r.i16();
        if (!r.ok()) {
            return cut();
        }
        if (ncols < 0) {
            return "negative column count " + std::to_string(ncols);
        }
        if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i') {
            return "unknown replica identity '" + std::string(1, ident) + "'";
        }
        for (int i = 0; i < ncols && r.ok(); ++i) {
            r.u8();
            r.cstring();
            r.u32();
            r.i32();
        }
        break;
    }
    case 'Y':
        r.u32();
        r.cstring();
        r.cstring();
        break;
    case 'I':
    case 'U':
    case 'D': {
        r.u32();
        auto marker = static_cast<char>(r.u8());
        if (!r.ok()) {
            return cut();
        }
        if (kind == 'D' && marker != 'K' && marker != 'O') {
            return "expected old tuple marker 'K' or 'O'";
        }
        if (kind == 'U' && (marker == 'K' || marker == 'O')) {
            if (auto bad = check_tuple(r, size); !bad.empty()) {
                return bad;
            }
            marker = static_cast<char>(r.u8());
            if (!r.ok()) {
                return cut();
            }
        }
        if (kind != 'D' && marker != 'N') {
            return "expected new tuple marker 'N'";
        }
        return check_tuple(r, size);
    }
    case 'T': {
        auto nrels = r.i32();
        r.u8(); // options
        if (!r.ok()) {
            return cut();
        }
        if (nrels < 0 || static_cast<std::size_t>(nrels) * 4 > r.remaining()) {
            return "relation count " + std::to_string(nrels) + " exceeds the message";
        }
        r.bytes(static_cast<std::size_t>(nrels) * 4);
        break;
    }
    case 'M': {
        r.u8(); // flags
        r.u64();
        r.cstring();
        auto len = r.i32();
        if (!r.ok()) {
            return cut();
        }
        if (len < 0 || static_cast<std::size_t>(len) > r.remaining()) {
            return "content length " + std::to_string(len) + " exceeds the message";
        }
        r.bytes(static_cast<std::size_t>(len));
        break;
    }
    default: break;
    }
    if (!r.ok()) {
        return cut();
    }
    return {};
}

MessageKind streamed_kind(char kind) {
    switch (kind) {
    case 'O': return MessageKind::Origin;
    case 'R': return MessageKind::Relation;
    case 'Y': return MessageKind::Type;
    case 'I': return MessageKind::Insert;
    case 'U': return MessageKind::Update;
    case 'D': return MessageKind::Delete;
    case 'T': return MessageKind::Truncate;
    default: return MessageKind::Message;
    }
}

} // namespace

const TypeInfo* PgoutputDecoder::type(std::uint32_t oid) const {
    auto it = types_.find(oid);
    return it == types_.end() ? nullptr : &it->second;
}

std::shared_ptr<const Relation> PgoutputDecoder::relation(std::uint32_t oid) const {
    auto it = relations_.find(oid);
    return it == relations_.end() ? nullptr : it->second;
}

void PgoutputDecoder::reset_transaction() {
    in_txn_ = false;
    xid_ = 0;
    final_lsn_ = Lsn{};
    commit_time_us_ = 0;
    origin_.clear();
    next_seq_ = 0;
    in_stream_ = false;
    stream_xid_ = 0;
    replaying_ = false;
    replay_end_lsn_ = Lsn{};
}

Result<void> PgoutputDecoder::begin_replay(Xid xid, Lsn commit_lsn, Lsn end_lsn,
                                           std::int64_t commit_time_us, DecodedMessage& out) {
    if (in_txn_ || in_stream_) {
        return fail(ErrorCode::Internal,
                    "cannot replay streamed transaction " + std::to_string(xid) + " committed at " +
                        commit_lsn.str() + ": " +
                        (in_stream_ ? "a stream block is open" : "a transaction is open"));
    }
    in_txn_ = true;
    replaying_ = true;
    xid_ = xid;
    final_lsn_ = commit_lsn;
    replay_end_lsn_ = end_lsn;
    commit_time_us_ = commit_time_us;
    origin_.clear();
    next_seq_ = 0;
    out.kind = MessageKind::Begin;
    out.xid = xid;
    out.commit_lsn = commit_lsn;
    out.commit_time_us = commit_time_us;
    out.changes.clear();
    out.relation.reset();
    return {};
}

Result<void> PgoutputDecoder::end_replay(DecodedMessage& out) {
    if (!replaying_) {
        return fail(ErrorCode::Internal, "end_replay without begin_replay");
    }
    out.kind = MessageKind::Commit;
    out.xid = xid_;
    out.commit_lsn = final_lsn_;
    out.end_lsn = replay_end_lsn_;
    out.commit_time_us = commit_time_us_;
    out.changes.clear();
    out.relation.reset();
    in_txn_ = false;
    replaying_ = false;
    return {};
}

// Inside a stream block: the message is checked and handed back as protocol version 1 bytes.
Result<void> PgoutputDecoder::decode_streamed(char kind, std::string_view message, Lsn wal_start,
                                              DecodedMessage& out) {
    switch (kind) {
    case 'O':
    case 'R':
    case 'Y':
    case 'I':
    case 'U':
    case 'D':
    case 'T':
    case 'M': break;
    case 'B':
    case 'C':
    case 'S':
    case 'c':
    case 'A':
        return malformed(kind, wal_start,
                         "inside the stream block of transaction " + std::to_string(stream_xid_) +
                             " (no Stream Stop)");
    default:
        return fail(ErrorCode::Protocol, "malformed pgoutput message at LSN " + wal_start.str() +
                                             ": unknown message type byte " + hex_byte(kind));
    }
    out.kind = MessageKind::Streamed;
    out.xid = stream_xid_;
    out.streamed_kind = streamed_kind(kind);
    ByteReader r(message);
    r.u8();
    // Origin carries no xid: it belongs to the whole transaction.
    out.subxid = kind == 'O' ? stream_xid_ : r.u32();
    if (!r.ok()) {
        return truncated(kind, wal_start, r, message.size());
    }
    const std::size_t body = r.offset();
    if (auto bad = check_streamed(kind, r, message.size()); !bad.empty()) {
        return malformed(kind, wal_start, bad);
    }
    if (r.remaining() != 0) {
        return malformed(kind, wal_start,
                         std::to_string(r.remaining()) + " unexpected bytes after the message");
    }
    out.streamed.assign(1, kind);
    out.streamed.append(message.substr(body));
    return {};
}

Result<void> PgoutputDecoder::decode(std::string_view message, Lsn wal_start, DecodedMessage& out) {
    auto result = decode_impl(message, wal_start, out);
    if (!result) {
        reset_transaction();
        out.changes.clear();
    }
    return result;
}

Result<void> PgoutputDecoder::decode_impl(std::string_view message, Lsn wal_start,
                                          DecodedMessage& out) {
    out.changes.clear();
    out.relation.reset();
    if (message.empty()) {
        return fail(ErrorCode::Protocol,
                    "malformed pgoutput message at LSN " + wal_start.str() + ": empty message");
    }
    ByteReader r(message);
    const char kind = static_cast<char>(r.u8());
    const std::size_t size = message.size();
    if (in_stream_ && kind != 'E') {
        return decode_streamed(kind, message, wal_start, out);
    }

    auto new_change = [&](Operation op) -> ChangeEvent& {
        ChangeEvent& c = out.changes.emplace_back();
        c.op = op;
        c.xid = xid_;
        c.lsn = wal_start;
        c.position = Position{final_lsn_, next_seq_++};
        c.commit_time_us = commit_time_us_;
        c.origin = origin_;
        return c;
    };
    auto need_txn = [&]() -> Result<void> {
        if (!in_txn_) {
            return malformed(kind, wal_start, "change outside a transaction (no Begin)");
        }
        return {};
    };
    auto lookup = [&](std::uint32_t oid) -> Result<std::shared_ptr<const Relation>> {
        auto it = relations_.find(oid);
        if (it == relations_.end()) {
            return malformed(kind, wal_start,
                             "relation OID " + std::to_string(oid) +
                                 " was not described by a Relation message");
        }
        return it->second;
    };

    switch (kind) {
    case 'B': {
        out.kind = MessageKind::Begin;
        Lsn final_lsn{r.u64()};
        std::int64_t ts = r.i64();
        Xid xid = r.u32();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (in_txn_) {
            return malformed(kind, wal_start, "Begin inside an open transaction");
        }
        in_txn_ = true;
        xid_ = xid;
        final_lsn_ = final_lsn;
        commit_time_us_ = ts + kPostgresEpochUnixUs;
        origin_.clear();
        next_seq_ = 0;
        out.xid = xid;
        out.commit_lsn = final_lsn;
        out.commit_time_us = commit_time_us_;
        break;
    }
    case 'C': {
        out.kind = MessageKind::Commit;
        r.u8(); // flags, unused
        Lsn commit_lsn{r.u64()};
        Lsn end_lsn{r.u64()};
        std::int64_t ts = r.i64();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (!in_txn_) {
            return malformed(kind, wal_start, "Commit without a Begin");
        }
        if (replaying_) {
            return malformed(kind, wal_start, "Commit inside a replayed streamed transaction");
        }
        if (commit_lsn != final_lsn_) {
            return malformed(kind, wal_start,
                             "commit LSN " + commit_lsn.str() + " differs from Begin's " +
                                 final_lsn_.str());
        }
        out.xid = xid_;
        out.commit_lsn = commit_lsn;
        out.end_lsn = end_lsn;
        out.commit_time_us = ts + kPostgresEpochUnixUs;
        in_txn_ = false;
        break;
    }
    case 'O': {
        out.kind = MessageKind::Origin;
        r.u64(); // the origin's commit LSN
        auto name = r.cstring();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        origin_.assign(name);
        break;
    }
    case 'R': {
        out.kind = MessageKind::Relation;
        auto rel = std::make_shared<Relation>();
        rel->oid = r.u32();
        auto nspname = r.cstring();
        auto relname = r.cstring();
        auto ident = static_cast<char>(r.u8());
        auto ncols = r.i16();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (ncols < 0) {
            return malformed(kind, wal_start, "negative column count " + std::to_string(ncols));
        }
        if (ident != 'd' && ident != 'n' && ident != 'f' && ident != 'i') {
            return malformed(kind, wal_start,
                             "unknown replica identity '" + std::string(1, ident) + "'");
        }
        rel->schema = nspname.empty() ? "pg_catalog" : std::string(nspname);
        rel->table.assign(relname);
        rel->identity = static_cast<ReplicaIdentity>(ident);
        rel->columns.reserve(static_cast<std::size_t>(ncols));
        for (int i = 0; i < ncols; ++i) {
            Column& col = rel->columns.emplace_back();
            col.key = (r.u8() & 1) != 0;
            col.name.assign(r.cstring());
            col.type_oid = r.u32();
            col.typmod = r.i32();
            if (!r.ok()) {
                return truncated(kind, wal_start, r, size);
            }
        }
        relations_[rel->oid] = rel;
        out.relation = std::move(rel);
        break;
    }
    case 'Y': {
        out.kind = MessageKind::Type;
        TypeInfo t;
        t.oid = r.u32();
        auto nspname = r.cstring();
        auto name = r.cstring();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        t.schema = nspname.empty() ? "pg_catalog" : std::string(nspname);
        t.name.assign(name);
        types_[t.oid] = std::move(t);
        break;
    }
    case 'I': {
        out.kind = MessageKind::Insert;
        if (auto ok = need_txn(); !ok) return ok;
        auto oid = r.u32();
        auto marker = static_cast<char>(r.u8());
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        auto rel = lookup(oid);
        if (!rel) return std::unexpected(rel.error());
        if (marker != 'N') {
            return malformed(kind, wal_start, "expected new tuple marker 'N'");
        }
        ChangeEvent& c = new_change(Operation::Insert);
        c.relation = *rel;
        if (auto bad = read_tuple(r, **rel, TupleKind::New, c.after, size); !bad.empty()) {
            return malformed(kind, wal_start, bad);
        }
        break;
    }
    case 'U': {
        out.kind = MessageKind::Update;
        if (auto ok = need_txn(); !ok) return ok;
        auto oid = r.u32();
        auto marker = static_cast<char>(r.u8());
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        auto rel = lookup(oid);
        if (!rel) return std::unexpected(rel.error());
        ChangeEvent& c = new_change(Operation::Update);
        c.relation = *rel;
        if (marker == 'K' || marker == 'O') {
            auto tk = marker == 'K' ? TupleKind::Key : TupleKind::Old;
            if (auto bad = read_tuple(r, **rel, tk, c.before, size); !bad.empty()) {
                return malformed(kind, wal_start, bad);
            }
            marker = static_cast<char>(r.u8());
            if (!r.ok()) {
                return truncated(kind, wal_start, r, size);
            }
        }
        if (marker != 'N') {
            return malformed(kind, wal_start, "expected new tuple marker 'N'");
        }
        if (auto bad = read_tuple(r, **rel, TupleKind::New, c.after, size); !bad.empty()) {
            return malformed(kind, wal_start, bad);
        }
        break;
    }
    case 'D': {
        out.kind = MessageKind::Delete;
        if (auto ok = need_txn(); !ok) return ok;
        auto oid = r.u32();
        auto marker = static_cast<char>(r.u8());
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        auto rel = lookup(oid);
        if (!rel) return std::unexpected(rel.error());
        if (marker != 'K' && marker != 'O') {
            return malformed(kind, wal_start, "expected old tuple marker 'K' or 'O'");
        }
        ChangeEvent& c = new_change(Operation::Delete);
        c.relation = *rel;
        auto tk = marker == 'K' ? TupleKind::Key : TupleKind::Old;
        if (auto bad = read_tuple(r, **rel, tk, c.before, size); !bad.empty()) {
            return malformed(kind, wal_start, bad);
        }
        break;
    }
    case 'T': {
        out.kind = MessageKind::Truncate;
        if (auto ok = need_txn(); !ok) return ok;
        auto nrels = r.i32();
        auto options = r.u8();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (nrels < 0 || static_cast<std::size_t>(nrels) * 4 > r.remaining()) {
            return malformed(kind, wal_start,
                             "relation count " + std::to_string(nrels) + " exceeds the message");
        }
        for (int i = 0; i < nrels; ++i) {
            auto rel = lookup(r.u32());
            if (!rel) return std::unexpected(rel.error());
            ChangeEvent& c = new_change(Operation::Truncate);
            c.relation = *rel;
            c.truncate_cascade = (options & 1) != 0;
            c.truncate_restart_identity = (options & 2) != 0;
        }
        break;
    }
    case 'M': {
        out.kind = MessageKind::Message;
        auto flags = r.u8();
        Lsn lsn{r.u64()};
        auto prefix = r.cstring();
        auto len = r.i32();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (len < 0 || static_cast<std::size_t>(len) > r.remaining()) {
            return malformed(kind, wal_start,
                             "content length " + std::to_string(len) + " exceeds the message");
        }
        auto content = r.bytes(static_cast<std::size_t>(len));
        bool transactional = (flags & 1) != 0;
        if (transactional) {
            if (auto ok = need_txn(); !ok) return ok;
        }
        ChangeEvent& c =
            transactional ? new_change(Operation::Message) : out.changes.emplace_back();
        if (!transactional) {
            // Sent as soon as it is decoded, outside any transaction: it is its own unit.
            c.op = Operation::Message;
            c.lsn = lsn;
            c.position = Position{lsn, 0};
        }
        c.transactional = transactional;
        c.prefix.assign(prefix);
        c.content.assign(content);
        break;
    }
    case 'S': {
        out.kind = MessageKind::StreamStart;
        Xid xid = r.u32();
        auto first = r.u8();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (in_txn_) {
            return malformed(kind, wal_start, "Stream Start inside an open transaction");
        }
        in_stream_ = true;
        stream_xid_ = xid;
        out.xid = xid;
        out.first_segment = first != 0;
        break;
    }
    case 'E': {
        out.kind = MessageKind::StreamStop;
        if (!in_stream_) {
            return malformed(kind, wal_start, "Stream Stop without a Stream Start");
        }
        out.xid = stream_xid_;
        in_stream_ = false;
        stream_xid_ = 0;
        break;
    }
    case 'c': {
        out.kind = MessageKind::StreamCommit;
        Xid xid = r.u32();
        r.u8(); // flags, unused
        Lsn commit_lsn{r.u64()};
        Lsn end_lsn{r.u64()};
        std::int64_t ts = r.i64();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (in_txn_) {
            return malformed(kind, wal_start, "Stream Commit inside an open transaction");
        }
        out.xid = xid;
        out.commit_lsn = commit_lsn;
        out.end_lsn = end_lsn;
        out.commit_time_us = ts + kPostgresEpochUnixUs;
        break;
    }
    case 'A': {
        out.kind = MessageKind::StreamAbort;
        Xid xid = r.u32();
        Xid subxid = r.u32();
        if (!r.ok()) {
            return truncated(kind, wal_start, r, size);
        }
        if (in_txn_) {
            return malformed(kind, wal_start, "Stream Abort inside an open transaction");
        }
        out.xid = xid;
        out.subxid = subxid;
        break;
    }
    default:
        return fail(ErrorCode::Protocol, "malformed pgoutput message at LSN " + wal_start.str() +
                                             ": unknown message type byte " + hex_byte(kind));
    }
    if (r.remaining() != 0) {
        return malformed(kind, wal_start,
                         std::to_string(r.remaining()) + " unexpected bytes after the message");
    }
    return {};
}

} // namespace walbus::decoders
