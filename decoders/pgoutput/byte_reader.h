#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace walbus::decoders {

// Big-endian reader over one protocol message. Reads past the end never touch memory: they
// return zero values and leave the reader failed, and callers check ok() before using results
// that size further work (lengths, counts).
class ByteReader {
public:
    explicit ByteReader(std::string_view data) : data_(data) {}

    [[nodiscard]] bool ok() const { return ok_; }
    [[nodiscard]] std::size_t offset() const { return pos_; }
    [[nodiscard]] std::size_t remaining() const { return data_.size() - pos_; }
    [[nodiscard]] std::size_t failed_at() const { return failed_at_; }

    std::uint8_t u8() {
        if (!need(1)) return 0;
        return static_cast<std::uint8_t>(data_[pos_++]);
    }
    std::int16_t i16() { return static_cast<std::int16_t>(be(2)); }
    std::int32_t i32() { return static_cast<std::int32_t>(be(4)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(be(4)); }
    std::int64_t i64() { return static_cast<std::int64_t>(be(8)); }
    std::uint64_t u64() { return be(8); }

    // A NUL-terminated string; fails when no terminator is left in the message.
    std::string_view cstring() {
        if (!ok_) return {};
        auto end = data_.find('\0', pos_);
        if (end == std::string_view::npos) {
            fail();
            return {};
        }
        auto s = data_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return s;
    }

    std::string_view bytes(std::size_t n) {
        if (!need(n)) return {};
        auto s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }

    void fail() {
        if (ok_) {
            failed_at_ = pos_;
        }
        ok_ = false;
    }

private:
    bool need(std::size_t n) {
        if (!ok_ || data_.size() - pos_ < n) {
            fail();
            return false;
        }
        return true;
    }

    std::uint64_t be(std::size_t n) {
        if (!need(n)) return 0;
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            v = (v << 8) | static_cast<std::uint8_t>(data_[pos_ + i]);
        }
        pos_ += n;
        return v;
    }

    std::string_view data_;
    std::size_t pos_ = 0;
    std::size_t failed_at_ = 0;
    bool ok_ = true;
};

} // namespace walbus::decoders
