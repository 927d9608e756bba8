-- Pairs of customers a supervisor decided are different people (issue 3): one definition
-- for every statement that finds possible duplicates, which leave these pairs out. Applied
-- once, in a transaction, by app.store.Store.migrate.
--
-- A record unlinked from customer a (its latest decision for a is 'unlink') and linked to
-- customer b now: (a, b), in that one direction, so readers check both. ``distinct on``
-- keeps each (record, customer)'s latest decision: a later link undoes an earlier unlink.
-- A view, not a table: it is read where duplicates are listed or counted, and a supervisor's
-- decision or a sync's link shows in it at once.

create view decided_apart as
select latest.customer_id as a, now_linked.customer_id as b
  from (select distinct on (source, external_id, customer_id)
               decision, source, external_id, customer_id
          from identity_decisions
         order by source, external_id, customer_id, id desc) as latest
  join identity_links as now_linked
    on now_linked.source = latest.source and now_linked.external_id = latest.external_id
 where latest.decision = 'unlink' and now_linked.customer_id <> latest.customer_id;
