#pragma once

#include <optional>
#include <string>

#include "walbus/checkpoint/checkpoint.h"
#include "walbus/core/error.h"

namespace walbus {

// A checkpoint in a small text file, replaced atomically: written to a temporary file in the
// same directory, fsynced, renamed over the old one, and the directory fsynced. A crash at any
// point leaves either the old or the new checkpoint, never a torn one.
class FileCheckpointStore {
public:
    explicit FileCheckpointStore(std::string path) : path_(std::move(path)) {}

    // The stored checkpoint, or nullopt when there is none yet.
    [[nodiscard]] Result<std::optional<Checkpoint>> load() const;
    [[nodiscard]] Result<void> store(const Checkpoint& checkpoint) const;

    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

} // namespace walbus
