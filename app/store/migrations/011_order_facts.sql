-- The orders database's facts in the analysts' read model (issue 17): how many orders the
-- customer has placed, how many are still under way (not delivered, cancelled or returned),
-- when the newest was placed, and when these were taken. Filled by the facts refresh's
-- orders pass (app/analytics/order_facts.py); NULL when the orders database does not know
-- the customer.

alter table customer_facts
    add column order_count      integer check (order_count >= 0),
    add column open_order_count integer check (open_order_count >= 0),
    add column last_order_at    timestamptz,
    add column orders_taken_at  timestamptz;

-- "Customers with open orders": a partial index of its own, in the default order.
create index customer_facts_open_orders_idx
    on customer_facts (created_at, customer_id) where open_order_count > 0;
