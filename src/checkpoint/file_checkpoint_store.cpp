#include "walbus/checkpoint/file_checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace walbus {
namespace {

constexpr std::string_view kHeader = "walbus checkpoint v1";

std::unexpected<Error> io_error(const std::string& what, const std::string& path) {
    return fail(ErrorCode::Io, what + " " + path + ": " + std::strerror(errno));
}

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
    auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc{} && r.ptr == text.data() + text.size();
}

} // namespace

std::string format_checkpoint(const Checkpoint& cp) {
    std::ostringstream text;
    text << kHeader << "\ncommit_lsn=" << cp.position.commit_lsn.str()
         << "\nseq=" << cp.position.seq << "\nend_lsn=" << cp.end_lsn.str()
         << "\nsink_offset=" << cp.sink_offset << "\n";
    return text.str();
}

Result<Checkpoint> parse_checkpoint(std::string_view text, const std::string& where) {
    std::istringstream in{std::string(text)};
    std::string line;
    if (!std::getline(in, line) || line != kHeader) {
        return fail(ErrorCode::Io, where + " is not a walbus checkpoint (first line should be '" +
                                       std::string(kHeader) + "')");
    }
    Checkpoint cp;
    bool have_commit = false, have_seq = false, have_end = false, have_offset = false;
    int line_no = 1;
    while (std::getline(in, line)) {
        ++line_no;
        auto eq = line.find('=');
        if (eq == std::string::npos) {
            return fail(ErrorCode::Io, where + ":" + std::to_string(line_no) +
                                           ": expected key=value in a checkpoint");
        }
        std::string_view key(line.data(), eq);
        std::string_view value(line.data() + eq + 1, line.size() - eq - 1);
        bool ok = true;
        if (key == "commit_lsn") {
            auto lsn = Lsn::parse(value);
            ok = lsn.has_value();
            cp.position.commit_lsn = lsn.value_or(Lsn{});
            have_commit = true;
        } else if (key == "seq") {
            ok = parse_u64(value, cp.position.seq);
            have_seq = true;
        } else if (key == "end_lsn") {
            auto lsn = Lsn::parse(value);
            ok = lsn.has_value();
            cp.end_lsn = lsn.value_or(Lsn{});
            have_end = true;
        } else if (key == "sink_offset") {
            ok = parse_u64(value, cp.sink_offset);
            have_offset = true;
        }
        if (!ok) {
            return fail(ErrorCode::Io, where + ":" + std::to_string(line_no) + ": bad value for " +
                                           std::string(key) + " in a checkpoint");
        }
    }
    if (!have_commit || !have_seq || !have_end || !have_offset) {
        return fail(ErrorCode::Io, where + " is an incomplete checkpoint (needs commit_lsn, seq, "
                                           "end_lsn, sink_offset)");
    }
    return cp;
}

Result<std::optional<Checkpoint>> FileCheckpointStore::load() const {
    if (::access(path_.c_str(), F_OK) != 0 && errno == ENOENT) {
        return std::nullopt;
    }
    std::ifstream in(path_, std::ios::binary);
    if (!in) {
        return io_error("cannot read checkpoint", path_);
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto cp = parse_checkpoint(text.str(), "checkpoint file " + path_);
    if (!cp) {
        return std::unexpected(cp.error());
    }
    return *cp;
}

Result<void> FileCheckpointStore::store(const Checkpoint& cp) const {
    const std::string body = format_checkpoint(cp);
    const std::string tmp = path_ + ".tmp";

    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return io_error("cannot create", tmp);
    }
    std::size_t done = 0;
    while (done < body.size()) {
        auto n = ::write(fd, body.data() + done, body.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            ::close(fd);
            return io_error("cannot write", tmp);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        ::close(fd);
        return io_error("cannot fsync", tmp);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
        return io_error("cannot rename checkpoint to", path_);
    }
    const std::string dir = directory_of(path_);
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return io_error("cannot open directory", dir);
    }
    int rc = ::fsync(dfd);
    ::close(dfd);
    if (rc != 0) {
        return io_error("cannot fsync directory", dir);
    }
    return {};
}

} // namespace walbus
