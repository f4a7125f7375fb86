#include "walbus/core/error.h"

namespace walbus {

std::string_view to_string(ErrorCode code) {
    switch (code) {
    case ErrorCode::Config: return "config";
    case ErrorCode::Protocol: return "protocol";
    case ErrorCode::Connection: return "connection";
    case ErrorCode::SlotInUse: return "slot_in_use";
    case ErrorCode::Auth: return "auth";
    case ErrorCode::ServerSetup: return "server_setup";
    case ErrorCode::Server: return "server";
    case ErrorCode::Io: return "io";
    case ErrorCode::Mapping: return "mapping";
    case ErrorCode::Sink: return "sink";
    case ErrorCode::SinkUnavailable: return "sink_unavailable";
    case ErrorCode::Internal: return "internal";
    }
    return "internal";
}

bool is_retriable(ErrorCode code) {
    return code == ErrorCode::Connection || code == ErrorCode::SlotInUse ||
           code == ErrorCode::SinkUnavailable;
}

} // namespace walbus
