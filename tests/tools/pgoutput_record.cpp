// Records a pgoutput stream to a file, for decoder tests and benchmarks.
//
//   pgoutput_record DSN SLOT PUBLICATION STOP_LSN OUT [stream]
//
// Streams the slot from its confirmed position until the server's WAL end reaches STOP_LSN and
// writes every XLogData payload as: 8-byte big-endian WAL start, 4-byte big-endian length,
// payload (the format tests/data/pgoutput/README.md describes). With `stream`, asks for protocol
// version 2 with streaming of in-progress transactions (PostgreSQL 14+).

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string_view>

#include "walbus/source/replication_stream.h"

int main(int argc, char** argv) {
    if (argc != 6 && !(argc == 7 && std::string_view(argv[6]) == "stream")) {
        std::cerr << "usage: pgoutput_record DSN SLOT PUBLICATION STOP_LSN OUT [stream]\n";
        return 2;
    }
    walbus::source::SourceSettings s;
    s.dsn = argv[1];
    s.slot = argv[2];
    s.publication = argv[3];
    s.create_slot = false;
    s.streaming = argc == 7;
    auto stop = walbus::Lsn::parse(argv[4]);
    if (!stop) {
        std::cerr << "bad STOP_LSN\n";
        return 2;
    }
    std::ofstream out(argv[5], std::ios::binary);
    auto conn = walbus::source::ReplicationStream::connect(s);
    if (!conn) {
        std::cerr << conn.error().message << "\n";
        return 1;
    }
    auto& stream = **conn;
    if (auto ok = stream.start(walbus::Lsn{}); !ok) {
        std::cerr << ok.error().message << "\n";
        return 1;
    }
    walbus::Lsn last;
    std::size_t count = 0;
    while (true) {
        auto m = stream.next(std::chrono::milliseconds(200));
        if (!m) {
            std::cerr << m.error().message << "\n";
            return 1;
        }
        if (m->type == walbus::source::StreamMessage::Type::XLogData) {
            char header[12];
            for (int i = 0; i < 8; ++i) {
                header[i] = static_cast<char>(m->wal_start.value >> (56 - 8 * i));
            }
            auto len = static_cast<std::uint32_t>(m->data.size());
            for (int i = 0; i < 4; ++i) {
                header[8 + i] = static_cast<char>(len >> (24 - 8 * i));
            }
            out.write(header, sizeof header);
            out.write(m->data.data(), static_cast<std::streamsize>(m->data.size()));
            last = m->wal_start;
            ++count;
        } else if (m->type == walbus::source::StreamMessage::Type::Keepalive) {
            if (m->reply_requested) {
                (void)stream.send_status(last, walbus::Lsn{}, false);
            }
            if (m->wal_end >= *stop) {
                break;
            }
        }
    }
    std::cerr << "recorded " << count << " messages\n";
    return 0;
}
