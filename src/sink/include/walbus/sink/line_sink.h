#pragma once

#include <memory>
#include <string>

#include "walbus/sink/sink.h"

namespace walbus {

// JSON lines to a file descriptor: standard output, or a file opened for appending.
//
// The file sink is exact across crashes: recover() truncates the file back to the checkpointed
// offset, so lines written after the last checkpoint are not kept twice. Standard output cannot
// be taken back: after a crash the lines of the last uncheckpointed batch can appear again
// (each carries its position, so a reader can drop repeats).
class LineSink : public Sink {
public:
    [[nodiscard]] static Result<std::unique_ptr<LineSink>> open_stdout();
    [[nodiscard]] static Result<std::unique_ptr<LineSink>> open_file(const std::string& path,
                                                                     bool fsync);
    ~LineSink() override;

    [[nodiscard]] Result<void> recover(std::uint64_t durable_offset) override;
    void append(std::string_view bytes) override { buffer_.append(bytes); }
    [[nodiscard]] std::uint64_t end_offset() const override { return offset_ + buffer_.size(); }
    [[nodiscard]] std::size_t buffered() const override { return buffer_.size(); }
    [[nodiscard]] bool can_rewind() const override { return seekable_; }
    [[nodiscard]] Result<void> write_out() override;
    [[nodiscard]] Result<void> rewind(std::uint64_t offset) override;
    [[nodiscard]] Result<std::uint64_t> flush() override;

private:
    LineSink(int fd, std::string name, bool owns_fd, bool fsync, bool seekable);

    int fd_;
    std::string name_;
    bool owns_fd_;
    bool fsync_;
    bool seekable_;
    std::uint64_t offset_ = 0;  // bytes handed to the operating system
    std::uint64_t durable_ = 0; // bytes made durable by the last flush
    std::string buffer_;
};

} // namespace walbus
