#!/usr/bin/env bash
# Mapping throughput on a real pgoutput stream of the eShop tables (examples/eshop/schema.sql):
# records a workload of price, stock and order-status updates with some inserts and deletes
# (1,000,000 changes by default) from a throwaway server with tests/tools/pgoutput_record, writes
# a configuration with 20 rules (the eShop example's rules and 17 more on the same tables), then
# runs mapper_bench on the recording, pinned to one core with taskset when it is available.
#
#   bench/mapper_bench.sh [--rows-per-txn N] [--txns M] [--iterations K] [--keep FILE]
#                         [--no-build]
#
# Every transaction is one statement on N rows. --keep FILE also saves the recording (FILE) and
# the configuration (FILE.yaml), to rerun build/bench/mapper_bench FILE FILE.yaml directly.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$(cd "$(dirname "$0")" && pwd)/bench_lib.sh"

rows_per_txn=1000
txns=1000
iterations=5
keep=
no_build=0
usage() {
    echo "usage: $0 [--rows-per-txn N] [--txns M] [--iterations K] [--keep FILE] [--no-build]" >&2
    exit 2
}
while [[ $# -gt 0 ]]; do
    case "$1" in
    --rows-per-txn) [[ $# -ge 2 ]] || usage; rows_per_txn=$2; shift 2 ;;
    --txns) [[ $# -ge 2 ]] || usage; txns=$2; shift 2 ;;
    --iterations) [[ $# -ge 2 ]] || usage; iterations=$2; shift 2 ;;
    --keep) [[ $# -ge 2 ]] || usage; keep=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    *) usage ;;
    esac
done
for n in "$rows_per_txn" "$txns" "$iterations"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] ||
        bench_usage_error "--rows-per-txn, --txns and --iterations need positive whole numbers"
done

bench_build_targets "$no_build" mapper_bench pgoutput_record
bench_bin=$bench_build/bench/mapper_bench
record_bin=$bench_build/tests/pgoutput_record
bench_need_binary "$bench_bin"
bench_need_binary "$record_bin"
bench_need_pg
eshop=$bench_root/examples/eshop

bench_start # sets pgdir, workdir and dsn; removes them on exit

# The eShop tables (REPLICA IDENTITY FULL, publication eshop), filled with 10 x N items and
# 10 x N orders before the slot exists: that is the state the recorded changes start from.
bench_psql "$dsn" -f "$eshop/schema.sql"
items=$((10 * rows_per_txn))
bench_psql "$dsn" >/dev/null <<SQL
INSERT INTO catalog_items
SELECT g, (ARRAY['.NET Bot Black Hoodie', '.NET Black & White Mug', 'Prism White T-Shirt',
                 'Roslyn Red Sheet', 'Cup<T> White Mug', 'Kudu Purple Hoodie'])[1 + g % 6]
          || ' #' || g,
       round(5 + (g * 37) % 200 + (g % 100) / 100.0, 2), (g * 13) % 120,
       (ARRAY['.NET', 'Other', 'Azure', 'Roslyn', 'Visual Studio'])[1 + g % 5]
FROM generate_series(1, $items) AS g;
INSERT INTO orders (id, buyer_id, status, total)
SELECT g, md5(g::text), 'Submitted', round(((g * 7919) % 100000) / 100.0, 2)
FROM generate_series(1, $items) AS g;
SELECT pg_create_logical_replication_slot('mapper_bench', 'pgoutput');
SQL

# The workload: M transactions, one statement on N rows each, in cycles of 20:
#   0-5   catalog price updates (a fifth of the rows keep their price; some prices drop)
#   6-9   catalog stock updates (some to 0, some back from 0, some low, some unchanged)
#   10-15 order status updates, to a status drawn by a hash of row and transaction (some
#         totals adjusted too)
#   16    catalog renames (some only in case) and rebrands
#   17    new orders, deleted again in 18
#   19    new catalog items in even cycles, deleted again in the odd ones
# Updates go to windows of N rows among the 10 x N existing ones, moving from cycle to cycle;
# inserted rows get new ids.
echo "writing $txns transactions of $rows_per_txn rows on the eShop tables" >&2
awk -v txns="$txns" -v rows="$rows_per_txn" -v items="$items" '
function window(t,    lo) {
    lo = ((t * 3 + int(t / 20)) % 10) * rows + 1
    return lo " AND " (lo + rows - 1)
}
BEGIN {
    statuses = "ARRAY['\''Submitted'\'', '\''AwaitingValidation'\'', '\''StockConfirmed'\'', " \
               "'\''Paid'\'', '\''Shipped'\'', '\''Cancelled'\'']"
    for (t = 0; t < txns; t++) {
        k = t % 20
        c = int(t / 20)
        batch = items + c * rows + 1
        if (k <= 5) {
            printf "UPDATE catalog_items SET price = CASE WHEN (id + %d) %% 5 = 0 THEN price " \
                   "WHEN (id + %d) %% 3 = 0 THEN round(price * 0.9, 2) " \
                   "ELSE round(price * 1.04 + 0.01, 2) END WHERE id BETWEEN %s;\n", t, t, window(t)
        } else if (k <= 9) {
            printf "UPDATE catalog_items SET available_stock = CASE WHEN (id + %d) %% 10 = 0 " \
                   "THEN 0 WHEN (id + %d) %% 10 = 1 THEN available_stock " \
                   "ELSE (id * 7 + %d) %% 60 END WHERE id BETWEEN %s;\n", t, t, t, window(t)
        } else if (k <= 15) {
            printf "UPDATE orders SET " \
                   "status = (%s)[1 + (hashint8(id::bigint * 1000003 + %d) & 2147483647) %% 6], " \
                   "updated_at = now(), " \
                   "total = CASE WHEN (id + %d) %% 13 = 0 THEN total + 5 ELSE total END " \
                   "WHERE id BETWEEN %s;\n", statuses, t, t, window(t)
        } else if (k == 16) {
            printf "UPDATE catalog_items SET name = CASE (id + %d) %% 3 WHEN 0 THEN upper(name) " \
                   "WHEN 1 THEN initcap(name) " \
                   "ELSE split_part(name, '\'' (v'\'', 1) || '\'' (v%d)'\'' END, " \
                   "catalog_brand = CASE WHEN (id + %d) %% 4 = 0 THEN " \
                   "(ARRAY['\''Azure'\'', '\''.NET'\'', '\''Other'\''])[1 + (id + %d) %% 3] " \
                   "ELSE catalog_brand END WHERE id BETWEEN %s;\n", c, c, c, c, window(t)
        } else if (k == 17) {
            printf "INSERT INTO orders (id, buyer_id, status, total) SELECT g, md5(g::text), " \
                   "(%s)[1 + g %% 6], round(((g * 7919) %% 100000) / 100.0, 2) " \
                   "FROM generate_series(%d, %d) AS g;\n", statuses, batch, batch + rows - 1
        } else if (k == 18) {
            printf "DELETE FROM orders WHERE id BETWEEN %d AND %d;\n", batch, batch + rows - 1
        } else if (c % 2 == 0) {
            printf "INSERT INTO catalog_items SELECT g, '\''New item #'\'' || g, " \
                   "round(5 + (g * 37) %% 200 + (g %% 100) / 100.0, 2), (g * 13) %% 120, " \
                   "(ARRAY['\''.NET'\'', '\''Other'\'', '\''Azure'\''])[1 + g %% 3] " \
                   "FROM generate_series(%d, %d) AS g;\n", batch, batch + rows - 1
        } else {
            printf "DELETE FROM catalog_items WHERE id BETWEEN %d AND %d;\n",
                   batch - rows, batch - 1
        }
    }
}' | bench_psql "$dsn"
end_lsn=$("$bench_pgbin/psql" -X -At -v ON_ERROR_STOP=1 "$dsn" -c "SELECT pg_current_wal_lsn()")
# A WAL record past the end, so that the recorder sees the server's position pass it at once
# (as bench_write_rows does).
bench_psql "$dsn" -c "SELECT txid_current()" >/dev/null
recording=$workdir/eshop.bin
echo "recording the pgoutput stream up to $end_lsn" >&2
"$record_bin" "$dsn" mapper_bench eshop "$end_lsn" "$recording"
"$bench_root/scripts/pg-tmp.sh" stop "$pgdir"

# The configuration: the eShop example's rules as they stand (its rules: section, the last of
# the file), then 17 more on the same tables.
config=$workdir/eshop-rules.yaml
{
    cat <<YAML
# mapper_bench: the eShop example's rules plus 17 more on the same tables (bench/mapper_bench.sh).
name: eshop
source:
  dsn: "$dsn"
  slot: mapper_bench
  publication: eshop
sink:
  type: stdout
checkpoint:
  path: $workdir/eshop.checkpoint
mapping:
  unmatched: drop
  on_error: stop
YAML
    sed -n '/^rules:/,$p' "$eshop/walbus.yaml"
    cat <<'YAML'

  # ---- catalog_items ----
  - name: product_created
    table: catalog_items
    operations: [insert]
    when: new.price > 0 and new.available_stock >= 0
    event: ProductCreatedIntegrationEvent
    topic: catalog.events
    key: "{new.id}"
    envelope: cloudevents-structured
    subject: "product/{new.id}"
    payload:
      ProductId: new.id
      Name: new.name
      Price: new.price
      AvailableStock: new.available_stock
      Brand: new.catalog_brand

  - name: premium_product_listed
    table: catalog_items
    operations: [insert]
    when: new.price >= 100 and lower(new.catalog_brand) not in ('other', 'generic')
    event: PremiumProductListedIntegrationEvent
    topic: merchandising.events
    key: "{new.id}"
    payload:
      ProductId: new.id
      Name: new.name
      Price: new.price
      Brand: new.catalog_brand

  - name: product_removed_with_stock
    table: catalog_items
    operations: [delete]
    when: old.available_stock > 0
    event: ProductRemovedWithStockIntegrationEvent
    topic: warehouse.events
    key: "{old.id}"
    payload:
      ProductId: old.id
      Name: old.name
      LeftoverStock: old.available_stock

  - name: product_deleted
    table: catalog_items
    operations: [delete]
    when: old.catalog_brand is not null and old.catalog_brand <> 'Other'
    event: ProductDeletedIntegrationEvent
    topic: catalog.events
    key: "{old.id}"
    envelope: cloudevents-structured
    subject: "product/{old.id}"
    payload:
      ProductId: old.id
      Brand: old.catalog_brand
      LastPrice: old.price

  - name: product_out_of_stock
    table: catalog_items
    operations: [update]
    when: changed(available_stock) and new.available_stock = 0
    event: ProductOutOfStockIntegrationEvent
    topic: warehouse.events
    key: "{new.id}"
    payload:
      ProductId: new.id
      Name: new.name
      LastStock: old.available_stock

  - name: product_back_in_stock
    table: catalog_items
    operations: [update]
    when: changed(available_stock) and old.available_stock = 0 and new.available_stock > 0
    event: ProductBackInStockIntegrationEvent
    topic: catalog.events
    key: "{new.id}"
    payload:
      ProductId: new.id
      Name: new.name
      AvailableStock: new.available_stock
      Price: new.price

  - name: product_low_stock
    table: catalog_items
    operations: [update]
    when: changed(available_stock) and new.available_stock > 0 and new.available_stock < 10
    event: ProductLowStockIntegrationEvent
    topic: warehouse.events
    key: "{new.id}"
    envelope: cloudevents-binary
    payload:
      ProductId: new.id
      AvailableStock: new.available_stock
      Brand: new.catalog_brand
    headers:
      x-priority: high

  - name: product_price_dropped
    table: catalog_items
    operations: [update]
    when: changed(price) and new.price < old.price
    event: ProductPriceDroppedIntegrationEvent
    topic: pricing.alerts
    key: "{new.id}"
    payload:
      ProductId: new.id
      Name: new.name
      OldPrice: old.price
      NewPrice: new.price
      Brand: new.catalog_brand

  - name: brand_price_changed
    table: catalog_items
    operations: [update]
    when: changed(price) and lower(new.catalog_brand) in ('.net', 'azure')
    event: BrandPriceChangedIntegrationEvent
    topic: "catalog.brand.{lower(new.catalog_brand)}"
    key: "{new.catalog_brand}/{new.id}"
    envelope: cloudevents-binary
    payload:
      ProductId: new.id
      Brand: new.catalog_brand
      Price: new.price

  - name: product_renamed
    table: catalog_items
    operations: [update]
    when: changed(name) and lower(new.name) <> lower(old.name)
    event: ProductRenamedIntegrationEvent
    topic: catalog.events
    key: "{new.id}"
    payload:
      ProductId: new.id
      OldName: old.name
      NewName: new.name

  - name: product_rebranded
    table: catalog_items
    operations: [update]
    when: changed(catalog_brand) or (changed(name) and upper(new.name) = new.name)
    event: ProductRebrandedIntegrationEvent
    topic: merchandising.events
    key: "{new.id}"
    payload:
      ProductId: new.id
      OldBrand: old.catalog_brand
      NewBrand: new.catalog_brand
      Name: new.name

  # ---- orders ----
  - name: order_submitted
    table: orders
    operations: [insert]
    when: new.status = 'Submitted' and new.total > 0
    event: OrderSubmittedIntegrationEvent
    topic: ordering.events
    key: "{new.id}"
    envelope: cloudevents-structured
    subject: "order/{new.id}"
    payload:
      OrderId: new.id
      BuyerIdentityGuid: new.buyer_id
      Total: new.total
      OrderStatus: new.status

  - name: order_paid_large
    table: orders
    operations: [update]
    when: changed(status) and new.status = 'Paid' and new.total >= 500
    event: LargeOrderPaidIntegrationEvent
    topic: fraud.checks
    key: "{new.buyer_id}"
    payload:
      Order:
        Id: new.id
        Total: new.total
        PaidAt: new.updated_at
      Buyer:
        IdentityGuid: new.buyer_id

  - name: order_cancelled_after_payment
    table: orders
    operations: [update]
    when: changed(status) and lower(new.status) = 'cancelled' and old.status in ('Paid', 'Shipped')
    event: OrderRefundRequestedIntegrationEvent
    topic: payments.refunds
    key: "{new.id}"
    envelope: cloudevents-structured
    subject: "order/{new.id}"
    payload:
      OrderId: new.id
      BuyerIdentityGuid: new.buyer_id
      Amount: new.total
      PreviousStatus: old.status

  - name: order_shipped
    table: orders
    operations: [update]
    when: changed(status) and new.status = 'Shipped' and new.buyer_id is not null
    event: OrderShippedIntegrationEvent
    topic: notifications.events
    key: "{new.buyer_id}"
    envelope: cloudevents-binary
    payload:
      OrderId: new.id
      BuyerIdentityGuid: new.buyer_id
      ShippedAt: new.updated_at
    headers:
      x-source-service: ordering

  - name: order_total_adjusted
    table: orders
    operations: [update]
    when: changed(total) and (new.total > old.total or new.status not in ('Shipped', 'Cancelled'))
    event: OrderTotalAdjustedIntegrationEvent
    topic: ordering.events
    key: "{new.id}"
    payload:
      OrderId: new.id
      OldTotal: old.total
      NewTotal: new.total
      OrderStatus: new.status

  - name: order_archived
    table: orders
    operations: [delete]
    when: old.status in ('Shipped', 'Cancelled') or old.total = 0
    event: OrderArchivedIntegrationEvent
    topic: ordering.archive
    key: "{old.id}"
    payload:
      OrderId: old.id
      OrderStatus: old.status
      Total: old.total
      BuyerIdentityGuid: old.buyer_id
YAML
} >"$config"
if [[ -n "$keep" ]]; then
    cp "$recording" "$keep"
    cp "$config" "$keep.yaml"
fi

pin=()
if command -v taskset >/dev/null; then
    pin=(taskset -c 0)
    echo "pinned to CPU 0 with taskset"
else
    echo "note: taskset is not installed; running unpinned"
fi
echo "load average: $(bench_loadavg)"
"${pin[@]}" "$bench_bin" "$recording" "$config" --iterations "$iterations" \
    --expect-changes "$((rows_per_txn * txns))"
echo "load average after: $(bench_loadavg)"
