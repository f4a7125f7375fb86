#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "walbus/core/lsn.h"

namespace walbus {

struct EventHeader {
    std::string name;
    std::string value;
};

// One high-level event a mapping rule made of a change, ready for a sink: a Kafka record's topic,
// key, headers and value, with the position of the change it came from.
struct IntegrationEvent {
    std::string id;    // a UUID: name-based on (pipeline, position, rule), or from a column
    std::string type;  // the event type name, "ProductPriceChangedIntegrationEvent"
    std::string topic; // where it goes
    bool has_key = false;
    std::string key;
    std::string value;                // JSON: the payload object, or a structured CloudEvent
    std::vector<EventHeader> headers; // the rule's own, then its envelope's
    // The plain envelope's walbus-* headers, kept as fields (they repeat or follow from the
    // event's other fields); sinks write them after `headers` (for_each_header).
    bool walbus_headers = false;
    std::string source;        // walbus-source: "schema.table", or the message's prefix
    std::string_view op;       // walbus-op: a static name ("insert", ...)
    std::string time;          // walbus-time; empty: none (a message outside any transaction)
    std::string position_text; // walbus-position: "commit_lsn:seq"
    std::string subject;       // walbus-subject; empty: none
    std::string rule;          // the name of the rule that made it
    Position position;         // of the change it came from
    bool dead_letter = false;  // the change could not be mapped; `value` says why
};

// Calls f(name, value) for each header of the event, in order: `headers`, then the walbus-*
// headers of the plain envelope when it has them.
template <typename F> void for_each_header(const IntegrationEvent& event, F&& f) {
    for (const EventHeader& h : event.headers) {
        f(std::string_view(h.name), std::string_view(h.value));
    }
    if (!event.walbus_headers) {
        return;
    }
    f(std::string_view("walbus-id"), std::string_view(event.id));
    f(std::string_view("walbus-type"), std::string_view(event.type));
    f(std::string_view("walbus-source"), std::string_view(event.source));
    f(std::string_view("walbus-op"), event.op);
    if (!event.time.empty()) {
        f(std::string_view("walbus-time"), std::string_view(event.time));
    }
    f(std::string_view("walbus-position"), std::string_view(event.position_text));
    if (!event.subject.empty()) {
        f(std::string_view("walbus-subject"), std::string_view(event.subject));
    }
}

// The number of headers for_each_header gives.
[[nodiscard]] std::size_t header_count(const IntegrationEvent& event);

// Appends one event as a JSON object (no trailing newline), as the stdout and file sinks write
// it: {"topic":…,"key":…,"headers":{…},"value":…} with the value embedded as JSON and a null key
// when the event has none (docs/mapping-rules.md, "Output").
void append_event_json(std::string& out, const IntegrationEvent& event);

} // namespace walbus
