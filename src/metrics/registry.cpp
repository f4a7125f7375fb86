#include "walbus/metrics/registry.h"

#include <algorithm>
#include <type_traits>

#include "contract.h"
#include "text_format.h"

namespace walbus::metrics {

namespace {

template <typename M> constexpr std::string_view type_name() {
    if constexpr (std::is_same_v<M, Counter> || std::is_same_v<M, DoubleCounter>) {
        return "counter";
    } else if constexpr (std::is_same_v<M, Histogram>) {
        return "histogram";
    } else {
        return "gauge";
    }
}

template <typename T>
void append_child(std::string& out, const FamilyBase& family, std::span<const std::string> values,
                  const BasicCounter<T>& counter) {
    detail::append_series(out, family.name(), family.label_names(), values);
    detail::append_value(out, counter.value());
    out += '\n';
}

template <typename T>
void append_child(std::string& out, const FamilyBase& family, std::span<const std::string> values,
                  const BasicGauge<T>& gauge) {
    detail::append_series(out, family.name(), family.label_names(), values);
    detail::append_value(out, gauge.value());
    out += '\n';
}

void append_child(std::string& out, const FamilyBase& family, std::span<const std::string> values,
                  const Histogram& histogram) {
    Histogram::Snapshot s = histogram.snapshot();
    std::string bucket_name = family.name() + "_bucket";
    std::string le;
    for (std::size_t i = 0; i < s.buckets.size(); ++i) {
        le.clear();
        if (i < histogram.bounds().size()) {
            detail::append_value(le, histogram.bounds()[i]);
        } else {
            le = "+Inf";
        }
        detail::append_series(out, bucket_name, family.label_names(), values, "le", le);
        detail::append_value(out, s.buckets[i]);
        out += '\n';
    }
    detail::append_series(out, family.name() + "_sum", family.label_names(), values);
    detail::append_value(out, s.sum);
    out += '\n';
    detail::append_series(out, family.name() + "_count", family.label_names(), values);
    detail::append_value(out, s.count());
    out += '\n';
}

class CallbackGauge final : public FamilyBase {
public:
    CallbackGauge(std::string name, std::string help, std::function<double()> read)
        : FamilyBase(std::move(name), std::move(help), {}), read_(std::move(read)) {}

    void expose(std::string& out) const override {
        detail::append_header(out, name(), help(), "gauge");
        detail::append_series(out, name(), {}, {});
        detail::append_value(out, read_());
        out += '\n';
    }

private:
    std::function<double()> read_;
};

} // namespace

template <typename M>
Family<M>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename M> M& Family<M>::child(std::vector<std::string> values) {
    if (values.size() != label_names().size()) {
        detail::contract_violation(name() + " has " + std::to_string(label_names().size()) +
                                   " label(s) but was given " + std::to_string(values.size()) +
                                   " value(s)");
    }
    std::lock_guard lock(mutex_);
    auto [it, inserted] = children_.try_emplace(std::move(values));
    if (inserted) {
        if constexpr (std::is_same_v<M, Histogram>) {
            it->second = std::make_unique<Histogram>(bounds_);
        } else {
            it->second = std::make_unique<M>();
        }
    }
    return *it->second;
}

template <typename M> void Family<M>::expose(std::string& out) const {
    std::lock_guard lock(mutex_);
    if (children_.empty()) {
        return;
    }
    detail::append_header(out, name(), help(), type_name<M>());
    for (const auto& [values, child] : children_) {
        append_child(out, *this, values, *child);
    }
}

template class Family<Counter>;
template class Family<DoubleCounter>;
template class Family<Gauge>;
template class Family<DoubleGauge>;
template class Family<Histogram>;

Registry::Registry(std::string prefix) : prefix_(std::move(prefix)) {
    if (!prefix_.empty() && !detail::is_metric_name(prefix_)) {
        detail::contract_violation("metric name prefix \"" + prefix_ + "\" is not a valid name");
    }
}

Registry::~Registry() = default;

std::string Registry::checked_name(std::string_view name) const {
    std::string full = prefix_ + std::string(name);
    if (name.empty() || !detail::is_metric_name(full)) {
        detail::contract_violation("\"" + full + "\" is not a valid metric name");
    }
    for (const auto& family : families_) {
        if (family->name() == full) {
            detail::contract_violation("metric " + full + " is registered twice");
        }
    }
    return full;
}

template <typename M>
Family<M>& Registry::add(std::string_view name, std::string_view help,
                         std::vector<std::string> label_names, std::span<const double> bounds) {
    for (std::size_t i = 0; i < label_names.size(); ++i) {
        const std::string& label = label_names[i];
        if (!detail::is_label_name(label) || (std::is_same_v<M, Histogram> && label == "le")) {
            detail::contract_violation("\"" + label + "\" is not a valid label name for " +
                                       prefix_ + std::string(name));
        }
        if (std::find(label_names.begin(), label_names.begin() + static_cast<std::ptrdiff_t>(i),
                      label) != label_names.begin() + static_cast<std::ptrdiff_t>(i)) {
            detail::contract_violation("label \"" + label + "\" appears twice in " + prefix_ +
                                       std::string(name));
        }
    }
    if constexpr (std::is_same_v<M, Histogram>) {
        detail::check_bounds(bounds);
    }
    std::lock_guard lock(mutex_);
    std::unique_ptr<Family<M>> family(
        new Family<M>(checked_name(name), std::string(help), std::move(label_names),
                      std::vector<double>(bounds.begin(), bounds.end())));
    Family<M>& result = *family;
    families_.push_back(std::move(family));
    return result;
}

Counter& Registry::counter(std::string_view name, std::string_view help) {
    return add<Counter>(name, help, {}, {}).child({});
}

DoubleCounter& Registry::double_counter(std::string_view name, std::string_view help) {
    return add<DoubleCounter>(name, help, {}, {}).child({});
}

Gauge& Registry::gauge(std::string_view name, std::string_view help) {
    return add<Gauge>(name, help, {}, {}).child({});
}

DoubleGauge& Registry::double_gauge(std::string_view name, std::string_view help) {
    return add<DoubleGauge>(name, help, {}, {}).child({});
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::span<const double> bounds) {
    return add<Histogram>(name, help, {}, bounds).child({});
}

Family<Counter>& Registry::counter_family(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names) {
    return add<Counter>(name, help, std::move(label_names), {});
}

Family<DoubleCounter>& Registry::double_counter_family(std::string_view name, std::string_view help,
                                                       std::vector<std::string> label_names) {
    return add<DoubleCounter>(name, help, std::move(label_names), {});
}

Family<Gauge>& Registry::gauge_family(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names) {
    return add<Gauge>(name, help, std::move(label_names), {});
}

Family<DoubleGauge>& Registry::double_gauge_family(std::string_view name, std::string_view help,
                                                   std::vector<std::string> label_names) {
    return add<DoubleGauge>(name, help, std::move(label_names), {});
}

Family<Histogram>& Registry::histogram_family(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names,
                                              std::span<const double> bounds) {
    return add<Histogram>(name, help, std::move(label_names), bounds);
}

void Registry::callback_gauge(std::string_view name, std::string_view help,
                              std::function<double()> read) {
    std::lock_guard lock(mutex_);
    families_.push_back(
        std::make_unique<CallbackGauge>(checked_name(name), std::string(help), std::move(read)));
}

std::string Registry::expose() const {
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& family : families_) {
        family->expose(out);
    }
    return out;
}

} // namespace walbus::metrics
