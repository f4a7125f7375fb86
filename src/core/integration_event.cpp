#include "walbus/core/integration_event.h"

#include "walbus/core/json_writer.h"

namespace walbus {

std::size_t header_count(const IntegrationEvent& event) {
    std::size_t n = event.headers.size();
    if (event.walbus_headers) {
        n += 5 + !event.time.empty() + !event.subject.empty();
    }
    return n;
}

void append_event_json(std::string& out, const IntegrationEvent& event) {
    JsonWriter w(out);
    w.begin_object();
    w.key("topic");
    w.string(event.topic);
    w.key("key");
    if (event.has_key) {
        w.string(event.key);
    } else {
        w.null();
    }
    w.key("headers");
    w.begin_object();
    for_each_header(event, [&](std::string_view name, std::string_view value) {
        w.key(name);
        w.string(value);
    });
    w.end_object();
    w.key("value");
    w.raw(event.value);
    w.end_object();
}

} // namespace walbus
