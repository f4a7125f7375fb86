#include "walbus/pipeline/stager.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

namespace walbus::pipeline {
namespace {

// Record: payload length (4 bytes), subxid (4), LSN (8), kind (1), payload; host byte order.
constexpr std::size_t kHeaderBytes = 17;
constexpr std::size_t kReadChunk = std::size_t{1} << 20;
// Chunks of a transaction's in-memory records: the first small, each next one twice the last,
// up to this size.
constexpr std::size_t kFirstChunk = std::size_t{4} << 10;
constexpr std::size_t kMaxChunk = std::size_t{1} << 20;

struct RecordHeader {
    std::uint32_t length = 0;
    Xid subxid = 0;
    Lsn lsn;
    Stager::Kind kind = Stager::Kind::Change;
};

void put_header(std::string& out, const RecordHeader& h) {
    char header[kHeaderBytes];
    std::memcpy(header, &h.length, 4);
    std::memcpy(header + 4, &h.subxid, 4);
    std::memcpy(header + 8, &h.lsn.value, 8);
    header[16] = static_cast<char>(h.kind);
    out.append(header, kHeaderBytes);
}

RecordHeader get_header(const char* p) {
    RecordHeader h;
    std::memcpy(&h.length, p, 4);
    std::memcpy(&h.subxid, p + 4, 4);
    std::memcpy(&h.lsn.value, p + 8, 8);
    h.kind = static_cast<Stager::Kind>(p[16]);
    return h;
}

std::unexpected<Error> io_error(const std::string& what, const std::string& path, int err) {
    return fail(ErrorCode::Io, what + " " + path + ": " + std::strerror(err));
}

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        auto n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error("cannot write spill file", path, errno);
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

} // namespace

Stager::Stager(std::string dir, std::size_t memory_budget)
    : dir_(std::move(dir)), budget_(memory_budget) {}

Result<Stager> Stager::create(std::string dir, std::size_t memory_budget) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return fail(ErrorCode::Io, "cannot create staging directory " + dir + ": " + ec.message());
    }
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.size() > kFilePrefix.size() + kFileSuffix.size() &&
            name.starts_with(kFilePrefix) && name.ends_with(kFileSuffix)) {
            std::error_code rm;
            fs::remove(it->path(), rm);
            if (rm) {
                return fail(ErrorCode::Io, "cannot remove leftover spill file " +
                                               it->path().string() + ": " + rm.message());
            }
        }
    }
    if (ec) {
        return fail(ErrorCode::Io, "cannot list staging directory " + dir + ": " + ec.message());
    }
    return Stager(std::move(dir), memory_budget);
}

Stager::Stager(Stager&& other) noexcept
    : dir_(std::move(other.dir_)), budget_(other.budget_), memory_bytes_(other.memory_bytes_),
      disk_bytes_(other.disk_bytes_), txns_(std::move(other.txns_)),
      read_buffer_(std::move(other.read_buffer_)) {
    other.txns_.clear();
    other.memory_bytes_ = 0;
    other.disk_bytes_ = 0;
}

Stager& Stager::operator=(Stager&& other) noexcept {
    if (this != &other) {
        clear();
        dir_ = std::move(other.dir_);
        budget_ = other.budget_;
        memory_bytes_ = other.memory_bytes_;
        disk_bytes_ = other.disk_bytes_;
        txns_ = std::move(other.txns_);
        read_buffer_ = std::move(other.read_buffer_);
        other.txns_.clear();
        other.memory_bytes_ = 0;
        other.disk_bytes_ = 0;
    }
    return *this;
}

Stager::~Stager() {
    clear();
}

std::string Stager::file_path(Xid xid) const {
    std::string path = dir_;
    if (!path.empty() && path.back() != '/') {
        path += '/';
    }
    path += kFilePrefix;
    path += std::to_string(xid);
    path += kFileSuffix;
    return path;
}

Result<void> Stager::append(Xid xid, Xid subxid, Lsn lsn, std::string_view bytes, Kind kind) {
    if (bytes.size() > std::numeric_limits<std::uint32_t>::max()) {
        return fail(ErrorCode::Internal, "cannot stage a message of " +
                                             std::to_string(bytes.size()) + " bytes for xid " +
                                             std::to_string(xid));
    }
    Txn& txn = txns_[xid];
    const std::size_t size = kHeaderBytes + bytes.size();
    if (txn.memory.empty() || txn.memory.back().capacity() - txn.memory.back().size() < size) {
        const std::size_t last = txn.memory.empty() ? 0 : txn.memory.back().capacity();
        txn.memory.emplace_back().reserve(
            std::max(size, std::min(kMaxChunk, std::max(kFirstChunk, 2 * last))));
    }
    std::string& chunk = txn.memory.back();
    put_header(chunk, RecordHeader{static_cast<std::uint32_t>(bytes.size()), subxid, lsn, kind});
    chunk.append(bytes);
    txn.memory_size += size;
    memory_bytes_ += size;
    while (memory_bytes_ > budget_) {
        // The transaction with the most bytes in memory: the fewest, largest writes.
        auto largest =
            std::max_element(txns_.begin(), txns_.end(), [](const auto& a, const auto& b) {
                return a.second.memory_size < b.second.memory_size;
            });
        if (auto ok = spill(largest->first, largest->second); !ok) {
            return ok;
        }
    }
    return {};
}

Result<void> Stager::spill(Xid xid, Txn& txn) {
    const std::string path = file_path(xid);
    if (txn.fd < 0) {
        txn.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (txn.fd < 0) {
            return io_error("cannot create spill file", path, errno);
        }
    }
    for (const std::string& chunk : txn.memory) {
        if (auto ok = write_all(txn.fd, chunk, path); !ok) {
            // Keep the file what it was (the records stay in memory) so the transaction stays
            // whole.
            if (::ftruncate(txn.fd, static_cast<off_t>(txn.file_bytes)) == 0) {
                (void)::lseek(txn.fd, static_cast<off_t>(txn.file_bytes), SEEK_SET);
            }
            return ok;
        }
    }
    txn.file_bytes += txn.memory_size;
    disk_bytes_ += txn.memory_size;
    memory_bytes_ -= txn.memory_size;
    txn.memory_size = 0;
    std::vector<std::string>().swap(txn.memory); // give the memory back, not just the size
    return {};
}

Result<void> Stager::release(Xid xid, Txn& txn) {
    memory_bytes_ -= txn.memory_size;
    disk_bytes_ -= txn.file_bytes;
    if (txn.fd < 0) {
        return {};
    }
    ::close(txn.fd);
    txn.fd = -1;
    const std::string path = file_path(xid);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return io_error("cannot remove spill file", path, errno);
    }
    return {};
}

Result<void> Stager::abort(Xid xid) {
    auto it = txns_.find(xid);
    if (it == txns_.end()) {
        return {};
    }
    auto result = release(xid, it->second);
    txns_.erase(it);
    return result;
}

Result<void> Stager::abort_sub(Xid xid, Xid subxid) {
    if (subxid == xid) {
        return abort(xid);
    }
    auto it = txns_.find(xid);
    if (it == txns_.end()) {
        return {};
    }
    Txn& txn = it->second;
    // In memory: in each chunk, move the records that stay down over the ones that go.
    for (std::string& mem : txn.memory) {
        std::size_t kept = 0;
        for (std::size_t pos = 0; pos < mem.size();) {
            RecordHeader h = get_header(mem.data() + pos);
            const std::size_t size = kHeaderBytes + h.length;
            if (h.subxid != subxid || h.kind == Kind::Schema) {
                if (kept != pos) {
                    std::memmove(mem.data() + kept, mem.data() + pos, size);
                }
                kept += size;
            }
            pos += size;
        }
        memory_bytes_ -= mem.size() - kept;
        txn.memory_size -= mem.size() - kept;
        mem.resize(kept);
    }
    // In the file: skipped at replay.
    if (txn.file_bytes > 0) {
        txn.aborted_in_file[subxid] = txn.file_bytes;
    }
    return {};
}

Result<void> Stager::replay(Xid xid, const Visit& each) {
    auto it = txns_.find(xid);
    if (it == txns_.end()) {
        return {};
    }
    Txn txn = std::move(it->second);
    txns_.erase(it);
    const std::string path = file_path(xid);
    auto visit = [&](const RecordHeader& h, std::size_t offset, const char* payload) {
        if (h.kind == Kind::Change) {
            auto aborted = txn.aborted_in_file.find(h.subxid);
            if (aborted != txn.aborted_in_file.end() && offset < aborted->second) {
                return Result<void>{};
            }
        }
        return each(h.lsn, std::string_view(payload, h.length));
    };
    auto run = [&]() -> Result<void> {
        // The file: read in chunks; a record longer than a chunk grows the buffer.
        std::size_t record = 0; // file offset of the next record
        std::size_t begin = 0;  // its place in the buffer
        std::size_t end = 0;    // end of the bytes read into the buffer
        auto fill = [&](std::size_t need) -> Result<void> {
            if (end - begin >= need) {
                return {};
            }
            if (end > begin) {
                std::memmove(read_buffer_.data(), read_buffer_.data() + begin, end - begin);
            }
            end -= begin;
            begin = 0;
            if (read_buffer_.size() < std::max(need, kReadChunk)) {
                read_buffer_.resize(std::max(need, kReadChunk));
            }
            while (end < need) {
                const std::size_t at = record + end;
                const std::size_t want = std::min(read_buffer_.size() - end, txn.file_bytes - at);
                auto n = ::pread(txn.fd, read_buffer_.data() + end, want, static_cast<off_t>(at));
                if (n < 0) {
                    if (errno == EINTR) continue;
                    return io_error("cannot read spill file", path, errno);
                }
                if (n == 0) {
                    return fail(ErrorCode::Io, "cannot read spill file " + path + ": it ends at " +
                                                   std::to_string(at) + " of " +
                                                   std::to_string(txn.file_bytes) + " bytes");
                }
                end += static_cast<std::size_t>(n);
            }
            return {};
        };
        while (record < txn.file_bytes) {
            if (txn.file_bytes - record < kHeaderBytes) {
                return fail(ErrorCode::Io, "corrupt spill file " + path + ": record at byte " +
                                               std::to_string(record) + " is cut short");
            }
            if (auto ok = fill(kHeaderBytes); !ok) return ok;
            RecordHeader h = get_header(read_buffer_.data() + begin);
            const std::size_t size = kHeaderBytes + h.length;
            if (size > txn.file_bytes - record) {
                return fail(ErrorCode::Io, "corrupt spill file " + path + ": record at byte " +
                                               std::to_string(record) + " is cut short");
            }
            if (auto ok = fill(size); !ok) return ok;
            if (auto ok = visit(h, record, read_buffer_.data() + begin + kHeaderBytes); !ok) {
                return ok;
            }
            record += size;
            begin += size;
        }
        // Then memory, which holds what came after.
        for (const std::string& mem : txn.memory) {
            for (std::size_t pos = 0; pos < mem.size();) {
                RecordHeader h = get_header(mem.data() + pos);
                if (auto ok =
                        each(h.lsn, std::string_view(mem).substr(pos + kHeaderBytes, h.length));
                    !ok) {
                    return ok;
                }
                pos += kHeaderBytes + h.length;
            }
        }
        return {};
    };
    auto result = run();
    auto released = release(xid, txn);
    if (read_buffer_.size() > kReadChunk) {
        std::vector<char>(kReadChunk).swap(read_buffer_);
    }
    return result ? released : result;
}

void Stager::clear() {
    for (auto& [xid, txn] : txns_) {
        (void)release(xid, txn); // best effort: a leftover file goes when the next Stager starts
    }
    txns_.clear();
}

} // namespace walbus::pipeline
