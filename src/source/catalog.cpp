#include "walbus/source/catalog.h"

#include <charconv>
#include <cstdlib>
#include <vector>

#include "pg_conn.h"
#include "walbus/core/pg_types.h"

namespace walbus::source {
namespace {

// Type references are followed as deep as values are converted (an array of a composite of a
// range of ...); deeper ones stay unknown and their values are written as text.
constexpr int kMaxTypeDepth = pg::kMaxValueDepth;

std::uint32_t to_oid(const char* text) {
    std::uint32_t v = 0;
    std::string_view s(text);
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

} // namespace

struct Catalog::Impl {
    PgConn pg;
};

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::~Catalog() = default;

Result<std::unique_ptr<Catalog>> Catalog::connect(const SourceSettings& settings) {
    auto impl = std::make_unique<Impl>();
    if (auto ok = impl->pg.open(settings.dsn, false, settings.application_name + " catalog"); !ok) {
        return std::unexpected(ok.error());
    }
    return std::unique_ptr<Catalog>(new Catalog(std::move(impl)));
}

Result<void> Catalog::describe_type(std::uint32_t oid, pg::TypeRegistry& registry) {
    std::vector<std::pair<std::uint32_t, int>> todo{{oid, 0}};
    while (!todo.empty()) {
        auto [next, depth] = todo.back();
        todo.pop_back();
        if (next == 0 || registry.find(next) != nullptr || depth > kMaxTypeDepth) {
            continue;
        }
        auto res = impl_->pg.query(
            "SELECT n.nspname, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, "
            "t.typrelid, coalesce(et.typdelim, t.typdelim), r.rngsubtype, mr.rngtypid "
            "FROM pg_catalog.pg_type t "
            "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem "
            "LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid "
            "LEFT JOIN pg_catalog.pg_range mr ON mr.rngmultitypid = t.oid "
            "WHERE t.oid = $1",
            {std::to_string(next)}, "looking up type " + std::to_string(next));
        if (!res) {
            return std::unexpected(res.error());
        }
        PGresult* r = res->get();
        if (PQntuples(r) != 1) {
            continue; // dropped since: its values stay text
        }
        pg::TypeDesc desc;
        desc.oid = next;
        desc.schema = PQgetvalue(r, 0, 0);
        desc.name = PQgetvalue(r, 0, 1);
        const char typtype = *PQgetvalue(r, 0, 2);
        const char category = *PQgetvalue(r, 0, 3);
        const std::uint32_t elem = to_oid(PQgetvalue(r, 0, 4));
        const std::uint32_t base = to_oid(PQgetvalue(r, 0, 5));
        const std::uint32_t relid = to_oid(PQgetvalue(r, 0, 6));
        desc.delimiter = *PQgetvalue(r, 0, 7);
        switch (typtype) {
        case 'e': desc.kind = pg::TypeKind::Enum; break;
        case 'd':
            desc.kind = pg::TypeKind::Domain;
            desc.element_oid = base;
            break;
        case 'r':
            desc.kind = pg::TypeKind::Range;
            desc.element_oid = to_oid(PQgetvalue(r, 0, 8));
            break;
        case 'm':
            desc.kind = pg::TypeKind::Multirange;
            desc.element_oid = to_oid(PQgetvalue(r, 0, 9));
            break;
        case 'c': {
            desc.kind = pg::TypeKind::Composite;
            auto attrs = impl_->pg.query(
                "SELECT attname, atttypid FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND "
                "attnum > 0 AND NOT attisdropped ORDER BY attnum",
                {std::to_string(relid)}, "looking up the attributes of type " + desc.name);
            if (!attrs) {
                return std::unexpected(attrs.error());
            }
            for (int i = 0; i < PQntuples(attrs->get()); ++i) {
                std::uint32_t att_type = to_oid(PQgetvalue(attrs->get(), i, 1));
                desc.attributes.emplace_back(PQgetvalue(attrs->get(), i, 0), att_type);
                todo.emplace_back(att_type, depth + 1);
            }
            break;
        }
        default:
            if (category == 'A' && elem != 0) {
                desc.kind = pg::TypeKind::Array;
                desc.element_oid = elem;
            } else {
                desc.kind = pg::TypeKind::Base;
            }
        }
        if (desc.element_oid != 0) {
            todo.emplace_back(desc.element_oid, depth + 1);
        }
        registry.add(std::move(desc));
    }
    return {};
}

Result<std::shared_ptr<const Relation>> Catalog::describe_table(std::string_view schema,
                                                                std::string_view table) {
    auto res = impl_->pg.query(
        "SELECT c.oid, c.relreplident, a.attname, a.atttypid, a.atttypmod, "
        "CASE c.relreplident WHEN 'f' THEN true WHEN 'n' THEN false "
        "WHEN 'i' THEN coalesce(a.attnum = ANY(ri.indkey), false) "
        "ELSE coalesce(a.attnum = ANY(pk.indkey), false) END "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
        "     AND NOT a.attisdropped AND a.attgenerated = '' "
        "LEFT JOIN pg_catalog.pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary "
        "LEFT JOIN pg_catalog.pg_index ri ON ri.indrelid = c.oid AND ri.indisreplident "
        "WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum",
        {std::string(schema), std::string(table)},
        "looking up table " + std::string(schema) + "." + std::string(table));
    if (!res) {
        return std::unexpected(res.error());
    }
    PGresult* r = res->get();
    if (PQntuples(r) == 0) {
        return fail(ErrorCode::ServerSetup,
                    "table " + std::string(schema) + "." + std::string(table) + " does not exist");
    }
    auto rel = std::make_shared<Relation>();
    rel->oid = to_oid(PQgetvalue(r, 0, 0));
    rel->schema = schema;
    rel->table = table;
    rel->identity = static_cast<ReplicaIdentity>(*PQgetvalue(r, 0, 1));
    for (int i = 0; i < PQntuples(r); ++i) {
        Column& col = rel->columns.emplace_back();
        col.name = PQgetvalue(r, i, 2);
        col.type_oid = to_oid(PQgetvalue(r, i, 3));
        col.typmod = std::atoi(PQgetvalue(r, i, 4));
        col.key = *PQgetvalue(r, i, 5) == 't';
    }
    return rel;
}

} // namespace walbus::source
