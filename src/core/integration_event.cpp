#include "walbus/core/integration_event.h"

#include "walbus/core/json_writer.h"

namespace walbus {

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
    for (const EventHeader& h : event.headers) {
        w.key(h.name);
        w.string(h.value);
    }
    w.end_object();
    w.key("value");
    w.raw(event.value);
    w.end_object();
}

} // namespace walbus
