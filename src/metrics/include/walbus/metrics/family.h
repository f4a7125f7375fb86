#pragma once

#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "walbus/metrics/counter.h"
#include "walbus/metrics/gauge.h"
#include "walbus/metrics/histogram.h"

namespace walbus::metrics {

class Registry;

// One metric name with its help text and label names, and the children (one per set of label
// values) that hold the values. Created by a Registry, which owns it.
class FamilyBase {
public:
    FamilyBase(const FamilyBase&) = delete;
    FamilyBase& operator=(const FamilyBase&) = delete;
    virtual ~FamilyBase() = default;

    // The full name, with the registry's prefix ("walbus_events_published_total").
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::string& help() const { return help_; }
    [[nodiscard]] std::span<const std::string> label_names() const { return label_names_; }

    // Appends the family in the text format 0.0.4: # HELP, # TYPE, then one line per sample.
    // A family without children appends nothing.
    virtual void expose(std::string& out) const = 0;

protected:
    FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
        : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

private:
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
};

// A family of Counter, DoubleCounter, Gauge, DoubleGauge or Histogram children.
//
// with() finds or creates the child for a set of label values (one per label name, in the same
// order; a different number aborts). It takes a lock and may allocate, so call it once per
// label set (at start-up, or the first time a rule or topic is seen) and keep the reference:
// it stays valid for the life of the registry, and updating the child is lock-free.
template <typename M> class Family final : public FamilyBase {
public:
    M& with(std::initializer_list<std::string_view> values) {
        return child(std::vector<std::string>(values.begin(), values.end()));
    }
    M& with(std::span<const std::string> values) {
        return child(std::vector<std::string>(values.begin(), values.end()));
    }

    void expose(std::string& out) const override;

private:
    friend class Registry;

    Family(std::string name, std::string help, std::vector<std::string> label_names,
           std::vector<double> bounds);
    M& child(std::vector<std::string> values);

    std::vector<double> bounds_; // histograms only: the upper bounds of every child's buckets
    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

extern template class Family<Counter>;
extern template class Family<DoubleCounter>;
extern template class Family<Gauge>;
extern template class Family<DoubleGauge>;
extern template class Family<Histogram>;

} // namespace walbus::metrics
