#include "walbus/pipeline/setup.h"
#include "walbus/pipeline/source_settings.h"

#include <algorithm>
#include <tuple>

#include "walbus/core/table_name.h"
#include "walbus/sink/kafka_sink.h"
#include "walbus/source/catalog.h"
#include "walbus/source/replication_stream.h"

namespace walbus {
namespace {

void sort_diagnostics(std::vector<config::Diagnostic>& diagnostics) {
    std::ranges::stable_sort(diagnostics,
                             [](const config::Diagnostic& a, const config::Diagnostic& b) {
                                 auto key = [](const config::Diagnostic& d) {
                                     return std::tuple(d.line == 0, d.line, d.column);
                                 };
                                 return key(a) < key(b);
                             });
}

} // namespace

PreparedConfig prepare_config(config::LoadResult loaded, const std::string& file,
                              mappers::RuleOptions options) {
    PreparedConfig out;
    out.diagnostics = std::move(loaded.diagnostics);
    const config::Config& parsed = loaded.config ? *loaded.config : loaded.parsed;
    const bool kafka = parsed.sink.type == config::SinkType::Kafka;
    if (kafka) {
        // librdkafka's own check of each property, placed at its name.
        for (const config::MapEntry& e : parsed.sink.kafka.properties) {
            for (std::string& problem : check_kafka_properties({{e.key, e.value}})) {
                out.diagnostics.push_back({file, e.line, e.column, std::move(problem)});
            }
        }
        const bool has_brokers =
            std::ranges::any_of(parsed.sink.kafka.properties, [](const config::MapEntry& e) {
                return e.key == "bootstrap.servers";
            });
        if (!has_brokers && !parsed.sink.kafka.properties.empty()) {
            const config::MapEntry& first = parsed.sink.kafka.properties.front();
            out.diagnostics.push_back(
                {file, first.line, first.column,
                 "sink.kafka.properties needs bootstrap.servers (the brokers, "
                 "host:port[,host:port...])"});
        }
    }
    // Kafka takes events: without rules, each change is one (mapping.unmatched: raw).
    MappingSpec mapping = parsed.mapping;
    if (kafka && !parsed.has_rules) {
        mapping.unmatched = UnmatchedPolicy::Raw;
    }
    if (parsed.has_rules || mapping.unmatched == UnmatchedPolicy::Raw) {
        options.pipeline = parsed.name;
        auto rules = mappers::RuleSet::compile(parsed.rules, mapping, options);
        if (!rules) {
            for (mappers::RuleProblem& p : rules.error()) {
                out.diagnostics.push_back({file, p.line, p.column, std::move(p.message)});
            }
        } else if (out.diagnostics.empty()) {
            out.rules = std::make_shared<mappers::RuleSet>(std::move(*rules));
        }
    }
    sort_diagnostics(out.diagnostics);
    if (out.diagnostics.empty()) {
        out.config = std::move(loaded.config);
    }
    return out;
}

Result<PreparedConfig> prepare_config_connected(config::LoadResult loaded,
                                                const std::string& file) {
    PreparedConfig offline = prepare_config(loaded, file);
    if (!offline.diagnostics.empty()) {
        return offline;
    }
    const config::Config& cfg = *loaded.config;
    source::SourceSettings settings = source_settings_of(cfg, "check");
    auto catalog = source::Catalog::connect(settings);
    if (!catalog) {
        return std::unexpected(catalog.error());
    }
    pg::TypeRegistry types;
    std::optional<Error> failure;
    std::vector<std::pair<std::string, std::string>> missing; // reported by the rules already
    mappers::RuleOptions options;
    options.types = &types;
    options.lookup = [&](std::string_view schema,
                         std::string_view table) -> std::shared_ptr<const Relation> {
        auto rel = (*catalog)->describe_table(schema, table);
        if (!rel) {
            if (rel.error().code != ErrorCode::ServerSetup) {
                failure = rel.error();
            }
            missing.emplace_back(schema, table);
            return nullptr;
        }
        for (const Column& col : (*rel)->columns) {
            if (auto ok = (*catalog)->describe_type(col.type_oid, types); !ok) {
                failure = ok.error();
            }
        }
        return *rel;
    };
    PreparedConfig out = prepare_config(std::move(loaded), file, options);
    if (failure) {
        return std::unexpected(*failure);
    }

    if (offline.rules) {
        for (const auto& name : offline.rules->tables()) {
            if (std::ranges::find(missing, name) == missing.end()) {
                settings.tables.push_back(sql_table_name(name.first, name.second));
            }
        }
    }
    auto stream = source::ReplicationStream::connect(settings);
    if (!stream) {
        return std::unexpected(stream.error());
    }
    std::vector<std::string> problems;
    if (auto ok = (*stream)->check(problems); !ok) {
        return std::unexpected(ok.error());
    }
    for (std::string& p : problems) {
        out.diagnostics.push_back({file, 0, 0, std::move(p)});
    }
    sort_diagnostics(out.diagnostics);
    if (!out.diagnostics.empty()) {
        out.config.reset();
        out.rules.reset();
    }
    return out;
}

source::SourceSettings source_settings_of(const config::Config& cfg, std::string_view role) {
    source::SourceSettings s;
    s.dsn = cfg.source.dsn;
    s.slot = cfg.source.slot;
    s.publication = cfg.source.publication;
    s.tables = cfg.source.tables;
    s.create_slot = cfg.source.create_slot;
    s.create_publication = cfg.source.create_publication;
    s.application_name = cfg.name;
    if (!role.empty()) {
        s.application_name += ' ';
        s.application_name += role;
    }
    if (cfg.source.decoder == config::DecoderType::Wal2json) {
        s.plugin = "wal2json";
    }
    return s;
}

} // namespace walbus
