#pragma once

#include <string>
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
    std::string value; // JSON: the payload object, or a structured CloudEvent
    std::vector<EventHeader> headers;
    std::string rule;         // the name of the rule that made it
    Position position;        // of the change it came from
    bool dead_letter = false; // the change could not be mapped; `value` says why
};

// Appends one event as a JSON object (no trailing newline), as the stdout and file sinks write
// it: {"topic":…,"key":…,"headers":{…},"value":…} with the value embedded as JSON and a null key
// when the event has none (docs/mapping-rules.md, "Output").
void append_event_json(std::string& out, const IntegrationEvent& event);

} // namespace walbus
