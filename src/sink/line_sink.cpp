#include "walbus/sink/line_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace walbus {
namespace {

std::unexpected<Error> io_error(const std::string& what) {
    return fail(ErrorCode::Io, what + ": " + std::strerror(errno));
}

} // namespace

LineSink::LineSink(int fd, std::string name, bool owns_fd, bool fsync, bool seekable)
    : fd_(fd), name_(std::move(name)), owns_fd_(owns_fd), fsync_(fsync), seekable_(seekable) {}

LineSink::~LineSink() {
    if (owns_fd_) {
        ::close(fd_);
    }
}

Result<std::unique_ptr<LineSink>> LineSink::open_stdout() {
    return std::unique_ptr<LineSink>(
        new LineSink(STDOUT_FILENO, "standard output", false, false, false));
}

Result<std::unique_ptr<LineSink>> LineSink::open_file(const std::string& path, bool fsync) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return io_error("cannot open sink file " + path + " (sink.path)");
    }
    return std::unique_ptr<LineSink>(new LineSink(fd, path, true, fsync, true));
}

Result<void> LineSink::recover(std::uint64_t durable_offset) {
    if (!seekable_) {
        offset_ = durable_offset; // nothing to take back; keep offsets growing across restarts
        durable_ = durable_offset;
        return {};
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        return io_error("cannot stat sink file " + name_);
    }
    auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < durable_offset) {
        return fail(ErrorCode::Io,
                    "sink file " + name_ + " has " + std::to_string(size) +
                        " bytes but the checkpoint says " + std::to_string(durable_offset) +
                        " were written; it was truncated or replaced outside walbus. Restore it, "
                        "or remove the checkpoint file to start over from the slot's position");
    }
    if (size > durable_offset && ::ftruncate(fd_, static_cast<off_t>(durable_offset)) != 0) {
        return io_error("cannot truncate sink file " + name_ + " to its checkpointed size");
    }
    if (::lseek(fd_, static_cast<off_t>(durable_offset), SEEK_SET) < 0) {
        return io_error("cannot seek in sink file " + name_);
    }
    offset_ = durable_offset;
    durable_ = durable_offset;
    return {};
}

Result<void> LineSink::write_out() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
        auto n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            // Keep what was not written; the caller stops without checkpointing past it.
            buffer_.erase(0, done);
            offset_ += done;
            return io_error("cannot write to " + name_);
        }
        done += static_cast<std::size_t>(n);
    }
    offset_ += done;
    buffer_.clear();
    return {};
}

Result<void> LineSink::rewind(std::uint64_t offset) {
    if (offset > end_offset()) {
        return fail(ErrorCode::Internal, "sink rewind to " + std::to_string(offset) +
                                             " past its end " + std::to_string(end_offset()));
    }
    if (offset >= offset_) {
        buffer_.resize(static_cast<std::size_t>(offset - offset_));
        return {};
    }
    if (!seekable_) {
        return fail(ErrorCode::Internal, "cannot take back bytes already written to " + name_);
    }
    buffer_.clear();
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
        return io_error("cannot truncate sink file " + name_);
    }
    offset_ = offset;
    durable_ = std::min(durable_, offset);
    return {};
}

Result<std::uint64_t> LineSink::flush() {
    if (auto ok = write_out(); !ok) {
        return std::unexpected(ok.error());
    }
    if (fsync_ && ::fdatasync(fd_) != 0) {
        return io_error("cannot fsync " + name_);
    }
    durable_ = offset_;
    return offset_;
}

} // namespace walbus
