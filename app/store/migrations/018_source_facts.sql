-- The registered sources' own facts in the analysts' read model (issue 17): a source's
-- registry entry declares which facts its records bring (kernel/source_facts.py), so the
-- read model keeps them as data rather than as a column per fact. One JSON object per
-- source, {"ORDERS": {"values": {"order_count": 2, ...}, "taken_at": "..."}}, written by the
-- facts refresh and the webhook updater (app/store/source_facts.py); and each filter the
-- sources offer as a flag ('ORDERS.has_open_orders') in a GIN-indexed array, as
-- linked_sources is, so that "has open orders: true / false" stays an index scan.

alter table customer_facts
    add column source_facts jsonb not null default '{}',
    add column fact_flags   text[] not null default '{}';

-- The facts migration 011 kept in columns of their own, carried over as data.
update customer_facts
   set source_facts = jsonb_build_object('ORDERS', jsonb_build_object(
           'values', jsonb_build_object('order_count', order_count,
                                        'open_order_count', open_order_count,
                                        'last_order_at', last_order_at),
           'taken_at', orders_taken_at)),
       fact_flags = case when open_order_count > 0 then '{ORDERS.has_open_orders}'::text[]
                         else '{}'::text[] end
 where orders_taken_at is not null;

-- Export jobs keep their filter as JSON: the old condition becomes its flag.
update export_jobs
   set filter = (filter - 'has_open_orders') || jsonb_build_object('source_flags',
           case when filter -> 'has_open_orders' = 'true'::jsonb
                then jsonb_build_object('ORDERS.has_open_orders', true)
                when filter -> 'has_open_orders' = 'false'::jsonb
                then jsonb_build_object('ORDERS.has_open_orders', false)
                else '{}'::jsonb end)
 where filter ? 'has_open_orders';

drop index customer_facts_open_orders_idx;
alter table customer_facts
    drop column order_count,
    drop column open_order_count,
    drop column last_order_at,
    drop column orders_taken_at;

create index customer_facts_fact_flags_idx on customer_facts using gin (fact_flags);
