-- The analysts' read model (issue 6): one row per customer of the facts analysts filter and
-- sort by, and when each group of facts was taken from its system. Filled by the facts
-- refresh after each identity sync (app/facts_refresh.py) and kept current per customer by
-- webhooks; read by app/facts_store.py. Applied once, in a transaction, by Store.migrate.

create table customer_facts (
    customer_id         text primary key references customers (id) on delete cascade,
    -- Copied from customers: the default order, without a join on every page.
    created_at          timestamptz not null,
    -- The systems that know the customer ('BILLING', 'CRM', ...), sorted.
    linked_sources      text[] not null default '{}',
    -- Billing: the balance of the customer's billing record, its currency and the billing
    -- system's own delinquency flag.
    balance             numeric,
    currency            text,
    delinquent          boolean,
    -- The canonical status of the customer's most relevant subscription (the rule is in
    -- app/facts_refresh.py: ACTIVE, PAST_DUE, UNPAID, TRIALING, PAUSED, INCOMPLETE,
    -- CANCELED, UNKNOWN in that order of relevance; NULL when there is none).
    subscription_status text,
    billing_taken_at    timestamptz,
    -- Support: tickets not solved or closed, and when the newest ticket was opened.
    open_ticket_count   integer check (open_ticket_count >= 0),
    last_ticket_at      timestamptz,
    support_taken_at    timestamptz,
    -- IVR: when the customer last called (a contact whose caller number is one of theirs).
    last_call_at        timestamptz,
    -- The newest of a call and a ticket: the customer's last contact with the business.
    last_contact_at     timestamptz generated always as (greatest(last_call_at, last_ticket_at))
        stored,
    -- CRM: the country of the contact's address.
    country             text,
    crm_taken_at        timestamptz
);

-- Each order of the customers connection, as a keyset: (sort key, customer_id). Missing
-- facts sort lowest, hence the coalesce (the facts store's sort expressions are the same).
create index customer_facts_created_idx on customer_facts (created_at, customer_id);
create index customer_facts_balance_idx
    on customer_facts ((coalesce(balance, '-Infinity'::numeric)), customer_id);
create index customer_facts_open_tickets_idx
    on customer_facts ((coalesce(open_ticket_count, -1)), customer_id);
create index customer_facts_last_contact_idx
    on customer_facts ((coalesce(last_contact_at, '-infinity'::timestamptz)), customer_id);

-- The filters: "delinquent with at least N open tickets" is the analysts' daily question,
-- so it has a partial index of its own.
create index customer_facts_delinquent_tickets_idx
    on customer_facts (open_ticket_count, customer_id) where delinquent;
create index customer_facts_subscription_status_idx
    on customer_facts (subscription_status, customer_id);
create index customer_facts_country_idx on customer_facts (country, customer_id);
create index customer_facts_linked_sources_idx on customer_facts using gin (linked_sources);
