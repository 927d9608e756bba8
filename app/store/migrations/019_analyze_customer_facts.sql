-- The read model's statistics are refreshed by whoever fills it (app/store/facts_writer.py),
-- and ANALYZE needs the table's owner (PostgreSQL 16 has no MAINTAIN privilege yet): the
-- gateway's run-time role owns nothing (app/store/roles.py), so the owner lends it this one
-- statement. A fixed search_path, as every SECURITY DEFINER function should have.
create function analyze_customer_facts() returns void
language plpgsql security definer set search_path = public, pg_temp as $$
begin
    analyze customer_facts;
end;
$$;
